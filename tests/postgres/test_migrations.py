"""PostgreSQL migrations: up and down, checksums, and several processes migrating at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from store.errors import ChecksumMismatch, MigrationError
from store.migrations import Migration
from store.postgres.connect import connect_sync
from store.postgres.migrate import load_migrations, migrate, migrate_conn, schema_status
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_url(pg_server: PgServer) -> str:
    """A database without any schema (the template is migrated)."""
    import uuid

    name = f"empty_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    return pg_server.url(name)


def tables(url: str) -> set[str]:
    with connect_sync(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_up_down_up(empty_url: str) -> None:
    latest = len(load_migrations())
    assert [d for d, _ in migrate(empty_url)] == ["up"] * latest
    assert {"sessions", "session_events", "schema_migrations"} <= tables(empty_url)
    assert schema_status(empty_url).to_dict()["up_to_date"] is True
    assert migrate(empty_url) == []
    assert [d for d, _ in migrate(empty_url, 0)] == ["down"] * latest
    assert tables(empty_url) == {"schema_migrations"}
    assert schema_status(empty_url).current == 0
    assert [d for d, _ in migrate(empty_url)] == ["up"] * latest


def test_an_unknown_target_is_refused(empty_url: str) -> None:
    with pytest.raises(MigrationError, match="no schema version 99"):
        migrate(empty_url, 99)


def test_a_changed_applied_migration_is_refused(empty_url: str) -> None:
    migrate(empty_url)
    shipped = load_migrations()
    first = shipped[0]
    changed = Migration(
        version=first.version,
        name=first.name,
        filename=first.filename,
        up=first.up,
        down=first.down,
        checksum="0" * 64,
    )
    with connect_sync(empty_url) as conn, pytest.raises(ChecksumMismatch):
        migrate_conn(conn, None, [changed, *shipped[1:]])


def test_several_processes_migrating_one_empty_database_at_once(empty_url: str) -> None:
    script = (
        "import sys; from store.postgres.migrate import migrate; print(len(migrate(sys.argv[1])))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    # Each step was applied by exactly one of them; the others found nothing left to do.
    assert sum(int(out) for out, _ in results) == len(load_migrations())
    with connect_sync(empty_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v[0] for v in versions] == [m.version for m in load_migrations()]


def test_a_missing_database_says_how_to_fix_it(pg_server: PgServer) -> None:
    from store.errors import StoreError

    with pytest.raises(StoreError) as caught:
        schema_status(pg_server.url("no_such_db"))
    assert "no_such_db" in str(caught.value) and "createdb" in (caught.value.hint or "")


def test_db_migrate_status_reindex_on_a_url(
    empty_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from watcher.cli.main import run

    secret = empty_url.replace("postgresql://ccmgr@", "postgresql://ccmgr:s3cret@")
    assert run(["db", "status", "--db", secret, "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["current"] == 0 and "s3cret" not in out
    assert run(["db", "migrate", "--db", secret]) == 0
    out = capsys.readouterr().out
    assert "applied 001_initial.sql" in out and "s3cret" not in out
    monkeypatch.setenv("CCMGR_WATCH_DB", secret)
    assert run(["db", "status"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "ccmgr:***@" in out and "s3cret" not in out
    assert run(["db", "reindex", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sessions_indexed"] == 0
    assert run(["db", "migrate", "--to", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][0]["direction"] == "down"
    assert run(["db", "migrate", "--to", "7"]) == 2
    assert "no schema version 7" in capsys.readouterr().err


def test_a_wrong_password_is_an_error_without_the_password(
    pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from watcher.cli.main import run

    url = f"postgresql://nobody:s3cret@/nodb?host={pg_server.socket_dir}&port={pg_server.port}"
    assert run(["db", "status", "--db", url]) == 5
    err = capsys.readouterr().err
    assert (
        err.startswith("Error: cannot connect to postgresql://nobody:***@") and "s3cret" not in err
    )
    assert "Hint:" in err
