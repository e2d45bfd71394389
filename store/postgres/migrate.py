"""Schema migrations on PostgreSQL: ``sql/postgresql/NNN_*.sql``, the SQLite store's discipline.

Each step runs in its own transaction together with its ``schema_migrations`` row, after taking
``pg_advisory_xact_lock``: several watchers starting at once against one empty database queue on
the lock, and each re-reads what is applied once it holds it, so a step is applied once. A file
whose checksum changed after it was applied is refused (store.migrations.check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store import migrations
from store.migrations import AppliedMigration, Migration, MigrationStatus
from store.postgres.connect import connect_sync, import_psycopg, query_error
from store.timefmt import now_ts

LOCK_KEY = 0x63636D67_77617463  # "ccmgwatc": the one advisory lock of ccmgr-watch's migrations

_ENSURE_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at text NOT NULL
)"""


def migrations_dir() -> Path:
    """The PostgreSQL migrations: ``postgresql/`` beside the SQLite ones."""
    return migrations.migrations_dir() / "postgresql"


def load_migrations() -> list[Migration]:
    """Every PostgreSQL migration, in version order."""
    return migrations.load_migrations(migrations_dir())


def _applied(conn: Any) -> list[AppliedMigration]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
    ).fetchall()
    return [AppliedMigration(*row) for row in rows]


def status_of(conn: Any, shipped: list[Migration] | None = None) -> MigrationStatus:
    """Where the connected database stands against the shipped migrations."""
    return migrations.compare(_applied(conn), load_migrations() if shipped is None else shipped)


def migrate_conn(
    conn: Any, target: int | None = None, shipped: list[Migration] | None = None
) -> list[tuple[str, Migration]]:
    """Bring the connected database (autocommit) to ``target`` (default: latest), up or down,
    one transaction a step; the steps taken as ``("up" | "down", migration)``."""
    shipped = load_migrations() if shipped is None else shipped
    by_version, goal = migrations.plan_goal(shipped, target)
    steps: list[tuple[str, Migration]] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            state = status_of(conn, shipped)
            migrations.check(state)
            taken = migrations.next_step(state.current, goal, by_version)
            if taken is None:
                return steps
            direction, step = taken
            if direction == "up":
                conn.execute(_ENSURE_TABLE)
                conn.execute(step.up.encode())  # several statements: the simple protocol
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (%s, %s, %s, %s)",
                    (step.version, step.name, step.checksum, now_ts()),
                )
                steps.append(("up", step))
            else:
                conn.execute(step.down.encode())
                conn.execute("DELETE FROM schema_migrations WHERE version = %s", (step.version,))
                steps.append(("down", step))


def migrate(url: str, target: int | None = None) -> list[tuple[str, Migration]]:
    """``db migrate`` on a PostgreSQL URL (and the watcher's first open)."""
    psycopg = import_psycopg()
    conn = connect_sync(url)
    try:
        return migrate_conn(conn, target)
    except psycopg.Error as exc:
        raise query_error(url, exc) from None
    finally:
        conn.close()


def schema_status(url: str) -> MigrationStatus:
    """``db status`` on a PostgreSQL URL."""
    psycopg = import_psycopg()
    conn = connect_sync(url)
    try:
        return status_of(conn)
    except psycopg.Error as exc:
        raise query_error(url, exc) from None
    finally:
        conn.close()


def reindex(url: str) -> int:
    """``db reindex`` on PostgreSQL: rebuild the full-text index; the number of sessions.

    The tsvector column is generated (always current); rebuilding its GIN index is what is left
    to do after, say, a bulk load with the index bloated.
    """
    psycopg = import_psycopg()
    conn = connect_sync(url)
    try:
        with conn.transaction():
            conn.execute("REINDEX INDEX ix_sessions_search")
            (count,) = conn.execute("SELECT count(*) FROM sessions").fetchone() or (0,)
        return int(count)
    except psycopg.Error as exc:
        raise query_error(url, exc) from None
    finally:
        conn.close()
