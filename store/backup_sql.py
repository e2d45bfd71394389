"""Every SQL statement backups need, in one place.

Copying a live database (SQLite's online backup API), reading watermarks and the rows above them
for incremental backups, replaying those rows into a restored copy, comparing a restored copy
with the live database, and merging rows for a selective restore. Plain stdlib ``sqlite3``: the
callers run these in a worker thread or a CLI process, never on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SESSIONS: Final = "sessions"
EVENTS: Final = "session_events"
TABLES: Final = (SESSIONS, EVENTS)
_FETCH = 2000


@dataclass(frozen=True, slots=True)
class Watermarks:
    """What a backup includes: the highest event id and the latest session change."""

    event_id: int
    session_change: str | None
    sessions: int
    events: int


def copy_database(source: sqlite3.Connection, target_path: Path) -> None:
    """A consistent copy of ``source`` at ``target_path`` through SQLite's online backup API.

    One step (``pages=-1``): a copy taken in steps restarts whenever the watcher commits in
    between, and the watcher commits every few milliseconds. In WAL mode the copy holds a read
    transaction only, so the watcher keeps writing meanwhile.
    """
    target = sqlite3.connect(target_path, isolation_level=None)
    try:
        source.backup(target, pages=-1)
        # The copy is a WAL database like the source; leave no -wal beside it.
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        target.close()


def read_watermarks(conn: sqlite3.Connection, *, count_events: bool = True) -> Watermarks:
    """The watermarks and row counts of the database as ``conn`` sees it now.

    Counting a million events reads a whole index (tens of milliseconds warm, a second cold):
    an incremental backup passes ``count_events=False`` (``events`` is then -1).
    """
    (event_id,) = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS}").fetchone()
    events = conn.execute(f"SELECT COUNT(*) FROM {EVENTS}").fetchone()[0] if count_events else -1
    change, sessions = conn.execute(f"SELECT MAX(updated_at), COUNT(*) FROM {SESSIONS}").fetchone()
    return Watermarks(int(event_id), change, int(sessions), int(events))


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration (0 when there is no ``schema_migrations``)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The column names of ``table`` (one of :data:`TABLES`), in order."""
    _check_table(table)
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"not a backed-up table: {table}")


def _names(cols: Sequence[str]) -> str:
    for name in cols:
        if not name.isidentifier():
            raise ValueError(f"not a column name: {name!r}")
    return ", ".join(f'"{name}"' for name in cols)


def begin_read(conn: sqlite3.Connection) -> None:
    """Start a read transaction: watermarks and rows read after it are one snapshot."""
    conn.execute("BEGIN")
    conn.execute(f"SELECT 1 FROM {SESSIONS} LIMIT 1").fetchall()  # BEGIN is deferred


def end_read(conn: sqlite3.Connection) -> None:
    """End the read transaction of :func:`begin_read`."""
    if conn.in_transaction:
        conn.execute("COMMIT")


def sessions_changed_since(
    conn: sqlite3.Connection, since: str | None, cols: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """Sessions whose ``updated_at`` is at or after ``since`` (every session for None).

    At, not after: a session changed in the same microsecond as the parent's watermark is sent
    again rather than missed; replaying it twice changes nothing.
    """
    sql = f"SELECT {_names(cols)} FROM {SESSIONS}"
    cursor = (
        conn.execute(sql + " WHERE updated_at >= ? ORDER BY updated_at", (since,))
        if since is not None
        else conn.execute(sql + " ORDER BY updated_at")
    )
    yield from _batches(cursor)


def events_after(
    conn: sqlite3.Connection, event_id: int, cols: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """Events whose id is above ``event_id``, in id order."""
    cursor = conn.execute(
        f"SELECT {_names(cols)} FROM {EVENTS} WHERE id > ? ORDER BY id", (event_id,)
    )
    yield from _batches(cursor)


def _batches(cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    while rows := cursor.fetchmany(_FETCH):
        yield from rows


def replay_rows(
    conn: sqlite3.Connection, table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Write rows of an incremental backup into a restored copy: insert, or replace by id.

    An upsert, not ``INSERT OR REPLACE``: replacing deletes the old row first, and deleting a
    session would cascade to its events. Returns the number of rows written.
    """
    _check_table(table)
    if "id" not in cols:
        raise ValueError(f"{table} rows without an id column")
    names = _names(cols)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != "id")
    sql = (
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )
    count = 0
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _FETCH:
            conn.executemany(sql, batch)
            count += len(batch)
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
        count += len(batch)
    return count


def open_copy(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to a backup's database copy (or, for a restore, the live database), in
    autocommit mode; ``read_only`` refuses every write (comparing, counting)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed at the end, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # Some errors (SQLITE_FULL, I/O) end the transaction themselves: ROLLBACK would then fail.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA integrity_check`` and ``foreign_key_check`` report (empty: none)."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    problems += [f"foreign key: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
    return problems


def checkpoint(conn: sqlite3.Connection) -> None:
    """Move everything in the WAL into the database file and empty the WAL."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


# --- comparing a restored copy (attached as ``src``) with the live database ------------------


def attach(conn: sqlite3.Connection, path: Path, alias: str = "src") -> None:
    """Attach another database file under ``alias`` (read by the comparison and merge)."""
    if not alias.isidentifier():
        raise ValueError(f"bad alias {alias!r}")
    conn.execute(f"ATTACH DATABASE ? AS {alias}", (str(path),))


def detach(conn: sqlite3.Connection, alias: str = "src") -> None:
    """Detach what :func:`attach` attached."""
    if not alias.isidentifier():
        raise ValueError(f"bad alias {alias!r}")
    conn.execute(f"DETACH DATABASE {alias}")


def _shared_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    live = columns(conn, table)
    theirs = {row[1] for row in conn.execute(f"PRAGMA src.table_info({table})")}
    return [c for c in live if c in theirs]


def compare_replace(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """What replacing the live database with ``src`` changes, per table.

    ``added``: only in the backup; ``replaced``: in both, different; ``kept``: identical;
    ``removed``: only in the live database (lost by a whole restore).
    """
    result: dict[str, dict[str, int]] = {}
    for table in TABLES:
        cols = _shared_columns(conn, table)
        same = " AND ".join(f'm."{c}" IS s."{c}"' for c in cols)
        (added,) = conn.execute(
            f"SELECT COUNT(*) FROM src.{table} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM main.{table} m WHERE m.id = s.id)"
        ).fetchone()
        (removed,) = conn.execute(
            f"SELECT COUNT(*) FROM main.{table} m WHERE NOT EXISTS "
            f"(SELECT 1 FROM src.{table} s WHERE s.id = m.id)"
        ).fetchone()
        (kept,) = conn.execute(
            f"SELECT COUNT(*) FROM src.{table} s JOIN main.{table} m ON m.id = s.id WHERE {same}"
        ).fetchone()
        (both,) = conn.execute(
            f"SELECT COUNT(*) FROM src.{table} s JOIN main.{table} m ON m.id = s.id"
        ).fetchone()
        result[table] = {
            "added": added,
            "replaced": both - kept,
            "kept": kept,
            "removed": removed,
        }
    return result


# Sessions: the backup's row wins only where it is newer (updated_at) or missing.
_NEWER_SESSIONS: Final = (
    "FROM src.sessions s LEFT JOIN main.sessions m ON m.id = s.id "
    "WHERE m.id IS NULL OR s.updated_at > m.updated_at"
)
# Events never change once written: a backed-up event is added unless the same event (same
# session, type, time and data) is there already; it keeps its id unless the live database
# used that id for another event.
_MISSING_EVENTS: Final = (
    "FROM src.session_events s WHERE NOT EXISTS (SELECT 1 FROM main.session_events m "
    "WHERE m.session_id = s.session_id AND m.timestamp = s.timestamp "
    "AND m.event_type = s.event_type AND m.data = s.data)"
)


def compare_merge(conn: sqlite3.Connection, only: str) -> dict[str, dict[str, int]]:
    """What :func:`merge` would do for ``only`` (``sessions`` or ``events``), per table."""
    result: dict[str, dict[str, int]] = {}
    if only == "sessions":
        (added,) = conn.execute(
            "SELECT COUNT(*) FROM src.sessions s WHERE NOT EXISTS "
            "(SELECT 1 FROM main.sessions m WHERE m.id = s.id)"
        ).fetchone()
        (newer,) = conn.execute(f"SELECT COUNT(*) {_NEWER_SESSIONS}").fetchone()
        (total,) = conn.execute("SELECT COUNT(*) FROM src.sessions").fetchone()
        result[SESSIONS] = {"added": added, "replaced": newer - added, "kept": total - newer}
    else:
        (missing,) = conn.execute(f"SELECT COUNT(*) {_MISSING_EVENTS}").fetchone()
        (total,) = conn.execute("SELECT COUNT(*) FROM src.session_events").fetchone()
        result[EVENTS] = {"added": missing, "replaced": 0, "kept": total - missing}
        (sessions,) = conn.execute(
            "SELECT COUNT(DISTINCT s.session_id) "
            + _MISSING_EVENTS
            + " AND NOT EXISTS (SELECT 1 FROM main.sessions ms WHERE ms.id = s.session_id)"
        ).fetchone()
        result[SESSIONS] = {"added": sessions, "replaced": 0, "kept": 0}
    return result


def merge(conn: sqlite3.Connection, only: str) -> None:
    """Merge ``src``'s sessions or events into the live database, never overwriting newer rows.

    The caller owns the transaction. Events whose session the live database lacks bring that
    session along (an event cannot exist without it).
    """
    if only == "sessions":
        cols = _shared_columns(conn, SESSIONS)
        names = _names(cols)
        picked = ", ".join(f's."{c}"' for c in cols)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != "id")
        conn.execute(
            f"INSERT INTO main.sessions ({names}) SELECT {picked} {_NEWER_SESSIONS} "
            f"ON CONFLICT (id) DO UPDATE SET {updates} "
            "WHERE excluded.updated_at > sessions.updated_at"
        )
        return
    cols = _shared_columns(conn, SESSIONS)
    names = _names(cols)
    picked = ", ".join(f'x."{c}"' for c in cols)
    conn.execute(
        f"INSERT INTO main.sessions ({names}) SELECT {picked} FROM src.sessions x "
        "WHERE x.id IN (SELECT s.session_id " + _MISSING_EVENTS + ") "
        "AND NOT EXISTS (SELECT 1 FROM main.sessions m WHERE m.id = x.id)"
    )
    ecols = [c for c in _shared_columns(conn, EVENTS) if c != "id"]
    enames = _names(ecols)
    epicked = ", ".join(f's."{c}"' for c in ecols)
    conn.execute(
        f'INSERT INTO main.session_events ("id", {enames}) '
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM main.session_events u WHERE u.id = s.id) "
        f"THEN NULL ELSE s.id END, {epicked} " + _MISSING_EVENTS + " ORDER BY s.id"
    )


def counts(conn: sqlite3.Connection, schema: str = "main") -> dict[str, int]:
    """Rows per backed-up table."""
    if not schema.isidentifier():
        raise ValueError(f"bad schema {schema!r}")
    result = {}
    for table in TABLES:
        (n,) = conn.execute(f"SELECT COUNT(*) FROM {schema}.{table}").fetchone()
        result[table] = int(n)
    return result
