"""Every command picks the same database: --db, $CCMGR_WATCH_DB, storage.database, the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watcher.cli.main import run


@pytest.fixture
def global_config(_isolated_home: Path) -> Path:
    path = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    path.parent.mkdir(parents=True)
    return path


def status_db(capsys, *argv: str) -> str:
    assert run(["db", "status", "--json", *argv]) == 0
    return str(json.loads(capsys.readouterr().out)["database"])


def test_default_without_config(_isolated_home: Path, capsys) -> None:
    assert status_db(capsys) == str(_isolated_home / ".config/ccmgr-ultra/data.db")


def test_storage_database_from_the_config_is_used_by_every_command(
    global_config: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "elsewhere" / "watch.db"
    global_config.write_text(f"version: 2.1.0\nstorage:\n    database: {target}\n")
    assert status_db(capsys) == str(target)
    assert run(["db", "migrate"]) == 0
    assert target.exists()
    capsys.readouterr()
    assert run(["query", "anything", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run(["session", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # --db and the environment still win over the config
    assert status_db(capsys, "--db", str(tmp_path / "flag.db")) == str(tmp_path / "flag.db")
    monkeypatch.setenv("CCMGR_WATCH_DB", str(tmp_path / "env.db"))
    assert status_db(capsys) == str(tmp_path / "env.db")


def test_tilde_in_storage_database_is_expanded(
    global_config: Path, _isolated_home: Path, capsys
) -> None:
    global_config.write_text("storage:\n    database: ~/dbs/watch.db\n")
    assert status_db(capsys) == str(_isolated_home / "dbs/watch.db")


def test_an_invalid_storage_value_is_not_used_and_said_with_its_place(
    global_config: Path, capsys
) -> None:
    """docs/config.md, "Invalid values": the default is used, with a located warning."""
    global_config.write_text("version: 2.1.0\nstorage:\n    database: [1, 2]\n")
    assert run(["db", "status", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["database"] == str(global_config.parent / "data.db")
    assert err.startswith("warning: ") and "config.yaml:3:" in err and "storage.database" in err
    assert "Traceback" not in err


def test_problems_elsewhere_in_the_config_do_not_block_reading(
    global_config: Path, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "w.db"
    global_config.write_text(
        f"version: 1.0.0\ntui:\n    default_screen: home\nstorage:\n    database: {target}\n"
    )
    assert status_db(capsys) == str(target)


def test_unparseable_yaml_mentioning_storage_is_a_config_error(global_config: Path, capsys) -> None:
    global_config.write_text("storage:\n\tdatabase: x\n")
    assert run(["db", "status"]) == 3
    assert "tab" in capsys.readouterr().err


def test_search_limit_comes_from_the_config_unless_given(
    global_config: Path, tmp_path: Path, capsys
) -> None:
    import sqlite3

    from store.db import migrate_sync
    from watcher.cli.settings import DEFAULT_LIMIT
    from watcher.config.schema import SearchConfig

    assert SearchConfig().default_limit == DEFAULT_LIMIT  # the schema's default, copied for speed
    db = tmp_path / "w.db"
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            "VALUES (?, ?, '2026-11-26T10:00:00.000000Z', '2026-11-26T10:00:00.000000Z', ?)",
            [(f"s{i}", f"work {i}", f"2026-11-26T10:{i:02d}:00.000000Z") for i in range(30)],
        )

    def count(*argv: str) -> int:
        assert run(["query", "work", "--json", "--db", str(db), *argv]) == 0
        return len(json.loads(capsys.readouterr().out))

    assert count() == DEFAULT_LIMIT
    global_config.write_text("search:\n    default_limit: 3\n")
    assert count() == 3
    assert count("--limit", "5") == 5
    assert count("--limit", "0") == 30
    global_config.write_text("search:\n    default_limit: many\n")
    assert run(["query", "work", "--json", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)) == DEFAULT_LIMIT  # the invalid value is not used: the default
    assert "search.default_limit" in err and "config.yaml:2:5" in err and "using 20" in err


def test_the_documented_exit_codes_are_the_ones_the_errors_declare() -> None:
    from store.errors import EXIT_CODES, ConfigError, DataError, StoreError, UsageError
    from watcher.errors import ProtocolError, TmuxError, WatcherError

    assert EXIT_CODES["usage"] == UsageError.exit_code == 2
    assert EXIT_CODES["config"] == ConfigError.exit_code == 3
    assert EXIT_CODES["data"] == DataError.exit_code == 4
    assert EXIT_CODES["store"] == StoreError.exit_code == 5
    assert EXIT_CODES["tmux"] == TmuxError.exit_code == ProtocolError.exit_code == 6
    assert WatcherError.exit_code == 6
