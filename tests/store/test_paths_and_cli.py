"""Where the database lives, its permissions, and the `db` commands through the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from store.db import migrate_sync
from store.paths import default_db_path, resolve_db_path
from watcher.cli.main import run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_path_honours_xdg_config_home(_isolated_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/somewhere/else")
    assert default_db_path() == Path("/somewhere/else/ccmgr-ultra/data.db")
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/is/ignored")
    assert default_db_path() == _isolated_home / ".config/ccmgr-ultra/data.db"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_db_path() == _isolated_home / ".config/ccmgr-ultra/data.db"


def test_env_and_flag_override_the_default(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CCMGR_WATCH_DB", str(tmp_path / "env.db"))
    assert default_db_path() == tmp_path / "env.db"
    assert resolve_db_path(str(tmp_path / "flag.db")) == tmp_path / "flag.db"
    assert resolve_db_path(None) == tmp_path / "env.db"


def test_new_database_files_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    db = tmp_path / "a" / "b" / "data.db"
    migrate_sync(db)
    with sqlite3.connect(db) as conn:  # keep -wal and -shm around while we look
        conn.execute("SELECT count(*) FROM sessions").fetchone()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for suffix in ("", "-wal", "-shm"):
            f = db.with_name(db.name + suffix)
            if f.exists():
                assert mode(f) == 0o600, f
    assert mode(db.parent) == 0o700
    assert mode(db.parent.parent) == 0o700


def test_existing_folder_is_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    migrate_sync(folder / "data.db")
    assert mode(folder) == 0o755
    assert mode(folder / "data.db") == 0o600


def test_default_location_is_created_private(_isolated_home: Path, capsys) -> None:
    assert run(["db", "migrate"]) == 0
    db = _isolated_home / ".config" / "ccmgr-ultra" / "data.db"
    assert db.exists() and mode(db) == 0o600
    assert mode(db.parent) == 0o700


def test_db_status_json_and_text(tmp_path: Path, capsys) -> None:
    db = tmp_path / "data.db"
    assert run(["db", "status", "--json", "--db", str(db)]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["current"] == 0 and before["latest"] >= 1 and before["exists"] is False
    assert not db.exists()  # status never creates the database
    assert run(["--db", str(db), "db", "migrate"]) == 0
    assert "applied 001_initial.sql" in capsys.readouterr().out
    assert run(["db", "status", "--db", str(db), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["current"] == after["latest"] and after["up_to_date"] is True
    assert after["pending"] == [] and after["checksums_ok"] is True
    assert run(["db", "status", "--db", str(db)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_db_migrate_to_and_json(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "data.db")
    assert run(["db", "migrate", "--db", db, "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[0] == {"direction": "up", "version": 1, "name": "initial"}
    assert run(["db", "migrate", "--to", "0", "--db", db]) == 0
    assert "reverted 001_initial.sql" in capsys.readouterr().out


def test_tampered_checksum_is_reported_with_exit_5(tmp_path: Path, capsys) -> None:
    db = tmp_path / "data.db"
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'feed' WHERE version = 1")
    assert run(["db", "status", "--db", str(db)]) == 5
    captured = capsys.readouterr()
    assert "CHANGED AFTER APPLY: 001_initial.sql" in captured.out
    assert run(["db", "migrate", "--db", str(db)]) == 5
    err = capsys.readouterr().err
    assert "001_initial.sql changed after it was applied" in err and "Hint:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["db", "migrate", "--to", "abc"], 2, "invalid int value"),
        # A version that does not exist is a usage mistake (issue 8.12), not a database problem.
        (["db", "migrate", "--to", "-1"], 2, "no schema version -1"),
        (["db", "migrate", "--to", "999"], 2, "no schema version 999"),
        (["db", "frobnicate"], 2, "invalid choice"),
        (["nonsense"], 2, "invalid choice"),
        ([], 2, "required"),
    ],
)
def test_usage_mistakes(tmp_path: Path, capsys, argv: list[str], code: int, message: str) -> None:
    assert run([*argv, "--db", str(tmp_path / "x.db")] if argv else argv) == code
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.db").exists()  # nothing is created by a mistaken command


def test_migrate_beyond_the_latest_names_the_latest(tmp_path: Path, capsys) -> None:
    from store.migrations import load_migrations

    latest = len(load_migrations())
    assert run(["db", "migrate", "--to", str(latest + 3), "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert f"Hint: the latest is {latest}" in err


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4096, b"\x00" * 10],
)
def test_a_file_that_is_not_a_database(tmp_path: Path, capsys, content: bytes) -> None:
    db = tmp_path / "data.db"
    db.write_bytes(content)
    assert run(["db", "migrate", "--db", str(db)]) == 5
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "Traceback" not in err
    assert db.read_bytes() == content  # nothing was written over it


def test_database_in_an_unwritable_place(capsys) -> None:
    code = run(["db", "migrate", "--db", "/proc/nope/data.db"])
    assert code == 5
    assert "Traceback" not in capsys.readouterr().err


def test_every_command_has_help(capsys) -> None:
    from watcher.cli.main import build_parser

    parser = build_parser()

    def walk(p, path):
        actions = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not actions:
            yield path, p
        for action in actions:
            for name, sub in action.choices.items():
                yield from walk(sub, [*path, name])

    leaves = list(walk(parser, []))
    assert len(leaves) >= 2
    for path, leaf in leaves:
        assert leaf.description, f"{' '.join(path)} has no description"
        with pytest.raises(SystemExit) as exit_info:
            run([*path, "--help"])
        assert exit_info.value.code == 0
        assert "usage: ccmgr-watch" in capsys.readouterr().out


def test_status_of_a_file_that_is_not_a_database(tmp_path: Path, capsys) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"garbage" * 100)
    assert run(["db", "status", "--db", str(db)]) == 5
    err = capsys.readouterr().err
    assert err.startswith("Error: the database cannot be used") and "Traceback" not in err
