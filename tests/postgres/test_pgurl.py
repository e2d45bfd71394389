"""PostgreSQL URLs: told apart from file paths, and never shown with a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.pgurl import is_postgres_url, redact


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("postgresql://u@db.example/h", True),
        ("POSTGRES://u@h/db", True),
        ("/home/u/data.db", False),
        ("postgresql.db", False),
        ("./postgresql://x", False),
    ],
)
def test_is_postgres_url(location: str, expected: bool) -> None:
    assert is_postgres_url(location) is expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss:w@rd@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db?password=s3cret&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u@h/db?PASSWORD=x#frag", "postgresql://u@h/db?PASSWORD=***#frag"),
        ("postgresql://:s3cret@/db?host=/tmp", "postgresql://:***@/db?host=/tmp"),
        ("postgresql://u@h/db?passfile=/home/u/.pgpass", "postgresql://u@h/db?passfile=/home/u/.pgpass"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("/path/with:colon@at.db", "/path/with:colon@at.db"),
    ],
)  # fmt: skip
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "s3cret" not in redact(url)


def test_file_only_commands_refuse_a_url_saying_what_to_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from watcher.cli.main import run

    assert run(["backup", "create", "--db", "postgresql://me:s3cret@h/db"]) == 2
    err = capsys.readouterr().err
    assert "not postgresql://me:***@h/db" in err and "pg_dump" in err and "s3cret" not in err


def test_backup_on_a_url_says_what_to_do_instead_and_restore_to_a_file_still_works(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup made of a SQLite file before the move to PostgreSQL: refused into the URL with
    the two steps that do it, and `--to FILE` (the first step) works with the URL configured."""
    from store.db import migrate_sync
    from watcher.cli.main import run

    db = tmp_path / "data.db"
    migrate_sync(db)
    assert run(["backup", "create", "--db", str(db), "--json"]) == 0
    capsys.readouterr()
    url = "postgresql://me:s3cret@h/db"
    monkeypatch.setenv("CCMGR_WATCH_DB", url)
    assert run(["backup", "restore", "latest"]) == 2
    err = capsys.readouterr().err
    assert "`--to FILE`" in err and "db copy FILE URL" in err and "pg_restore" in err
    assert "s3cret" not in err
    assert run(["backup", "restore", "latest", "--to", str(tmp_path / "restored.db")]) == 0
    assert (tmp_path / "restored.db").is_file()


@pytest.mark.parametrize(
    "text",
    [
        "--db 'POSTGRESQL://me:s3cret@h/db'",
        "x=postgres://a:s3cret@c/d?password=s3cret&y=1 and more",
        'in "postgresql://me@h/db?password=s3cret".',
    ],
)
def test_redact_text_finds_every_url_in_a_message(text: str) -> None:
    from store.pgurl import redact_text

    assert "s3cret" not in redact_text(text) and "***" in redact_text(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "show"],  # takes no --db: argparse echoes the unknown words
        ["pick", "--print"],
        ["session", "list", "--limit", "x"],
    ],
)
def test_no_error_message_shows_a_password(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    from watcher.cli.main import run

    code = run([*argv, "--db", "postgresql://me:s3cret@127.0.0.1:1/db?connect_timeout=1"])
    out, err = capsys.readouterr()
    assert code != 0 and err.startswith("Error: ")
    assert "s3cret" not in out + err
