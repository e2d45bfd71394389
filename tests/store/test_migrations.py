"""Migrations on real database files: up, down, checksums, concurrency, adopting ccmgr-ultra's."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import traceback
from pathlib import Path

import pytest

from store import migrations
from store.db import migrate_sync, sync_connection
from store.errors import ChecksumMismatch, MigrationError, StoreError
from store.timefmt import parse_ts
from tests.store.ccmgr_ultra_fixture import make_ccmgr_ultra_db


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    """Every schema object except the migration bookkeeping, as (type, name, sql)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_schema "
            "WHERE name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name"
        ).fetchall()
    return [(t, n, s or "") for t, n, s in rows]


def versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data.db"


def test_migrations_load_in_order_with_up_and_down() -> None:
    loaded = migrations.load_migrations()
    assert [m.version for m in loaded] == list(range(1, len(loaded) + 1))
    for m in loaded:
        assert m.up and m.down, m.filename
        assert len(m.checksum) == 64


def test_up_down_up_gives_the_same_schema(db: Path) -> None:
    latest = len(migrations.load_migrations())
    steps = migrate_sync(db)
    assert [d for d, _ in steps] == ["up"] * latest
    first = schema_of(db)
    assert {"sessions", "session_events"} <= {name for _, name, _ in first}
    assert versions(db) == list(range(1, latest + 1))

    down = migrate_sync(db, 0)
    assert [d for d, _ in down] == ["down"] * latest
    assert schema_of(db) == []
    assert versions(db) == []

    migrate_sync(db)
    assert schema_of(db) == first
    assert migrate_sync(db) == []  # nothing left to do


def test_migrate_to_each_version_and_back(db: Path) -> None:
    latest = len(migrations.load_migrations())
    for target in range(latest, -1, -1):
        migrate_sync(db, latest)
        migrate_sync(db, target)
        assert versions(db) == list(range(1, target + 1))


def test_rows_record_name_checksum_and_time(db: Path) -> None:
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations")
        by_version = {m.version: m for m in migrations.load_migrations()}
        for version, name, checksum, applied_at in rows:
            assert name == by_version[version].name
            assert checksum == by_version[version].checksum
            parse_ts(applied_at)


def test_unknown_target_is_refused(db: Path) -> None:
    with pytest.raises(MigrationError, match="no schema version 99"):
        migrate_sync(db, 99)


def test_changed_applied_migration_is_refused_and_named(tmp_path: Path, db: Path) -> None:
    folder = tmp_path / "sql"
    shutil.copytree(migrations.migrations_dir(), folder)
    loaded = migrations.load_migrations(folder)
    with sync_connection(db) as conn:
        migrations.migrate(conn, migrations=loaded)
        first = folder / loaded[0].filename
        first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
        tampered = migrations.load_migrations(folder)
        state = migrations.status(conn, tampered)
        assert [m.filename for m in state.mismatched] == [loaded[0].filename]
        assert not state.ok
        with pytest.raises(ChecksumMismatch, match=loaded[0].filename):
            migrations.migrate(conn, migrations=tampered)
        with pytest.raises(ChecksumMismatch):
            migrations.migrate(conn, 0, migrations=tampered)  # not even down


def test_database_newer_than_the_program_is_refused(db: Path) -> None:
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', '2030-01-01')")
    with pytest.raises(StoreError, match="newer than this ccmgr-watch"):
        migrate_sync(db)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("1_x.sql", "-- UP\n-- DOWN\n", "NNN_name.sql"),
        ("001_x.sql", "CREATE TABLE t (a);", "UP"),
        ("001_x.sql", "-- DOWN\nDROP TABLE t;\n-- UP\nCREATE TABLE t (a);", "UP"),
        ("001_x.sql", "-- UP\nCREATE TABLE t (a);\n-- UP\n-- DOWN\n", "exactly one"),
    ],
)
def test_malformed_migration_files_are_named(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(MigrationError, match=message):
        migrations.load_migrations(tmp_path)


def test_statements_split_with_trigger_bodies_whole() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT DEFAULT 'x;y');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET a = 'z;' WHERE rowid = NEW.rowid;
        SELECT 1;
    END;
    """
    statements = migrations.split_statements(script)
    assert len(statements) == 2
    assert statements[1].rstrip().endswith("END;")


def _migrate_at_barrier(
    path: str, barrier: multiprocessing.synchronize.Barrier, error_file: str
) -> None:
    barrier.wait()
    try:
        migrate_sync(Path(path))
    except BaseException:
        # A spawned child's stderr is not captured by pytest: keep the traceback for the assertion.
        Path(error_file).write_text(traceback.format_exc())
        raise


def test_concurrent_processes_both_succeed_with_one_schema(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    reference = tmp_path / "reference.db"
    migrate_sync(reference)
    for attempt in range(4):
        path = tmp_path / f"race{attempt}.db"
        barrier = ctx.Barrier(3)
        errors = [tmp_path / f"race{attempt}-{i}.err" for i in range(3)]
        procs = [
            ctx.Process(target=_migrate_at_barrier, args=(str(path), barrier, str(error)))
            for error in errors
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failures = [e.read_text() for e in errors if e.exists()]
        assert [p.exitcode for p in procs] == [0, 0, 0], "\n".join(failures)
        assert schema_of(path) == schema_of(reference)
        assert versions(path) == versions(reference)


# --- a database that ccmgr-ultra's Go store created ---------------------------------------------


@pytest.mark.parametrize("with_002", [True, False])
def test_ccmgr_ultra_database_is_adopted_without_losing_rows(db: Path, with_002: bool) -> None:
    make_ccmgr_ultra_db(db, with_002=with_002)
    migrate_sync(db)
    assert versions(db) == list(range(1, len(migrations.load_migrations()) + 1))
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        sessions = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM sessions")}
        events = [dict(r) for r in conn.execute("SELECT * FROM session_events ORDER BY id")]
        legacy_sessions = conn.execute("SELECT count(*) FROM ccmgr_ultra_sessions").fetchone()[0]
        legacy_versions = conn.execute(
            "SELECT version, description FROM ccmgr_ultra_schema_migrations ORDER BY 1"
        ).fetchall()
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        if with_002:  # their views still work, now over their renamed tables
            assert conn.execute("SELECT count(*) FROM session_analytics").fetchone()[0] == 3
    assert legacy_sessions == 3
    assert next(tuple(v) for v in legacy_versions) == (1, "initial")
    assert set(sessions) == {
        "ccmgr-myproject-main-feature",
        "7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11",
        "broken-values",
    }
    main = sessions["ccmgr-myproject-main-feature"]
    assert main["created_at"] == "2025-06-22T06:03:13.256298Z"  # -07:00 made UTC
    assert main["updated_at"] == "2025-06-22T17:03:13.000000Z"  # CURRENT_TIMESTAMP form
    assert main["project"] == "myproject" and main["directory"] == "/home/u/code/myproject"
    assert '"key":"value"' in main["metadata"].replace(" ", "")
    assert main["status"] == "ended"
    legacy = sessions["7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11"]
    assert legacy["last_access"] == "2025-06-20T11:30:00.000000Z"
    assert "imported_from" in legacy["metadata"]  # metadata 'null' became an object
    broken = sessions["broken-values"]
    parse_ts(broken["created_at"])  # unparseable dates fell back to a valid timestamp
    assert "legacy_value" in broken["metadata"]  # invalid JSON kept, not dropped
    assert [(e["session_id"], e["event_type"]) for e in events] == [
        ("ccmgr-myproject-main-feature", "session_start"),
        ("ccmgr-myproject-main-feature", "claude_state_change"),
        ("7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11", "migrated"),
    ]
    assert events[1]["data"] == "{}"
    for row in [*sessions.values(), *events]:
        for key in ("created_at", "updated_at", "last_access", "timestamp"):
            if key in row:
                assert row[key].endswith("Z") and parse_ts(row[key])
    assert migrate_sync(db) == []  # adoption happens once


def test_adopted_database_can_go_down_and_up(db: Path) -> None:
    make_ccmgr_ultra_db(db)
    migrate_sync(db)
    migrate_sync(db, 0)
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM ccmgr_ultra_sessions").fetchone()[0] == 3


def test_orphan_events_are_kept_under_a_placeholder_session(db: Path) -> None:
    make_ccmgr_ultra_db(db, with_002=False)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp) "
            "VALUES ('gone', 'session_stop', '2025-06-22 17:03:13')"
        )
    migrate_sync(db)
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT name, metadata FROM sessions WHERE id = 'gone'").fetchone()
        assert row is not None and "placeholder" in row[1]
        assert conn.execute(
            "SELECT count(*) FROM session_events WHERE session_id = 'gone'"
        ).fetchone() == (1,)
