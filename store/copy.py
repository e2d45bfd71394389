"""``ccmgr-watch db copy SOURCE DEST``: a whole history from one store into another.

SOURCE and DEST are each a SQLite file or a PostgreSQL URL (SQLite to PostgreSQL joins a local
history to a shared one; PostgreSQL to SQLite takes a shared one home). DEST is created and
migrated if needed. Idempotent: sessions are upserted by id (a newer ``updated_at`` in SOURCE wins,
a host already set in DEST is kept), an event is inserted only if DEST has no event of that
session, type and time (nor SOURCE an earlier one); a second copy adds nothing. Sessions and
events without a host (recorded before sql/004) get ``host``.

How (the point is speed: 100 k sessions took ~170 s as batched upserts, one round trip per
event): rows are streamed from SOURCE in chunks of :data:`CHUNK` into a temporary staging table in
DEST (PostgreSQL: ``COPY ... FROM STDIN``, psycopg's ``cursor.copy()``; SQLite: executemany into
a TEMP table), then one ``INSERT ... SELECT ... ON CONFLICT`` (sessions) or ``INSERT ... SELECT
... WHERE NOT EXISTS`` (events) per chunk moves them into the real table: the database does the
merge, set-wise. All sessions first, then all events (an event needs its session). Each chunk is
one transaction in DEST; an interrupted copy leaves whole chunks behind, and running it again
completes it (idempotent). Progress is reported per chunk.

The merging statements are written once; both databases run them as written (the staging
tables are created per database: PostgreSQL's need types and byte-order collation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from store.columns import SESSION_COLUMNS
from store.pgurl import is_postgres_url, redact
from store.reads import json_object, open_store

CHUNK: Final = 20_000
"""Rows per staging round (and per DEST transaction): large enough that the per-statement
overhead vanishes, small enough that memory stays bounded and progress moves."""
_EVENT_COLUMNS: Final = ("session_id", "event_type", "timestamp", "data", "host")
_UPDATABLE: Final = tuple(c for c in SESSION_COLUMNS if c not in ("id", "host"))
_SESSION_LIST: Final = ", ".join(SESSION_COLUMNS)
_EVENT_LIST: Final = ", ".join(_EVENT_COLUMNS)

# `WHERE true`: SQLite's grammar needs it before ON CONFLICT in an INSERT ... SELECT (else ON
# reads as a join's); PostgreSQL does not mind. ORDER BY ord keeps SOURCE's order (DEST's
# insertion order, the last tie-breaker of every sort).
_MERGE_SESSIONS: Final = (
    f"INSERT INTO sessions ({_SESSION_LIST}) "
    f"SELECT {_SESSION_LIST} FROM copy_sessions WHERE true ORDER BY ord "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
    + ", host = COALESCE(sessions.host, excluded.host) "
    "WHERE excluded.updated_at > sessions.updated_at OR sessions.host IS NULL"
)
# An event is new when DEST has none of that session, type and time, and this chunk none
# earlier; an event whose session SOURCE does not hold (a dangling row) is skipped.
_MERGE_EVENTS: Final = (
    f"INSERT INTO session_events ({_EVENT_LIST}) "
    "SELECT s.session_id, s.event_type, s.timestamp, s.data, s.host FROM copy_events s "
    "WHERE EXISTS (SELECT 1 FROM sessions WHERE sessions.id = s.session_id) "
    "AND NOT EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.session_id "
    "AND e.timestamp = s.timestamp AND e.event_type = s.event_type) "
    "AND NOT EXISTS (SELECT 1 FROM copy_events d WHERE d.session_id = s.session_id "
    "AND d.timestamp = s.timestamp AND d.event_type = s.event_type AND d.ord < s.ord) "
    "ORDER BY s.ord"
)


def _pg_type(column: str) -> str:
    if column == "metadata":
        return "jsonb"
    return "json" if column == "data" else 'text COLLATE "C"'


_PG_STAGING: Final = (
    "CREATE TEMP TABLE copy_sessions (ord bigint, "
    + ", ".join(f"{c} {_pg_type(c)}" for c in SESSION_COLUMNS)
    + ")",
    "CREATE TEMP TABLE copy_events (ord bigint, "
    + ", ".join(f"{c} {_pg_type(c)}" for c in _EVENT_COLUMNS)
    + ")",
    "CREATE INDEX ON copy_events (session_id, timestamp, event_type)",
)
_SQLITE_STAGING: Final = (
    f"CREATE TEMP TABLE copy_sessions (ord INTEGER, {_SESSION_LIST})",
    f"CREATE TEMP TABLE copy_events (ord INTEGER, {_EVENT_LIST})",
    "CREATE INDEX temp.ix_copy_events ON copy_events (session_id, timestamp, event_type)",
)

Progress = Callable[[str, int, int], None]
"""Called with (what: "sessions" or "events", copied so far, how many SOURCE holds)."""


class CopyResult:
    """What one copy did."""

    def __init__(self, sessions: int, events_read: int, events_added: int) -> None:
        self.sessions = sessions
        self.events_read = events_read
        self.events_added = events_added

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counts."""
        return {
            "sessions": self.sessions,
            "events_read": self.events_read,
            "events_added": self.events_added,
        }


def _columns(reader: Any, table: str) -> set[str]:
    """The columns ``table`` has in the source (either store: the cursor describes them)."""
    cursor = reader.execute(f"SELECT * FROM {table} LIMIT 0")
    return {d[0] for d in cursor.description}


def _chunks(reader: Any, sql: str) -> Iterator[list[Any]]:
    """SOURCE's rows of ``sql``, CHUNK at a time, never all in memory at once."""
    if _is_postgres(reader):  # a server-side cursor: a plain one would fetch every row first
        conn = reader.conn
        with conn.transaction(), conn.cursor(name="ccmgr_copy_source") as cursor:
            cursor.itersize = CHUNK
            cursor.execute(sql.encode())
            while rows := cursor.fetchmany(CHUNK):
                yield rows
        return
    cursor = reader.execute(sql)
    while rows := cursor.fetchmany(CHUNK):
        yield rows


class _Dest:
    """The destination: one writing connection, its staging tables and its transactions."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.postgres = is_postgres_url(location)
        self.conn: Any
        if self.postgres:
            from store.postgres import connect, migrate

            migrate.migrate(location)
            self.conn = connect.connect_sync(location)
            for statement in _PG_STAGING:
                self.conn.execute(statement.encode())
        else:
            from store import db

            db.migrate_sync(Path(location))
            self.conn = db.connect_sync(Path(location))
            for statement in _SQLITE_STAGING:
                self.conn.execute(statement)

    def sessions(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Stage ``rows`` (ord first, then SESSION_COLUMNS) and merge them: one transaction."""
        self._merge("copy_sessions", ("ord", *SESSION_COLUMNS), rows, _MERGE_SESSIONS)

    def events(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Stage ``rows`` (ord first, then the event columns) and merge them: one transaction;
        how many were new."""
        return self._merge("copy_events", ("ord", *_EVENT_COLUMNS), rows, _MERGE_EVENTS)

    def _merge(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], merge: str
    ) -> int:
        names = ", ".join(columns)
        if self.postgres:
            with self.conn.transaction(), self.conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({names}) FROM STDIN".encode()) as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(merge.encode())
                added: int = cur.rowcount
                # TRUNCATE, not DELETE: autovacuum never visits temporary tables, so deleted
                # rows would pile up and every later chunk would scan them.
                cur.execute(f"TRUNCATE {table}".encode())
                return added
        from store.db import _run_transaction

        marks = ", ".join("?" for _ in columns)

        def work(conn: Any) -> int:
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            count: int = conn.execute(merge).rowcount
            conn.execute(f"DELETE FROM {table}")
            return count

        written: int = _run_transaction(self.conn, work)
        return written

    def close(self) -> None:
        self.conn.close()


def copy_store(
    source: str,
    dest: str,
    *,
    host: str | None,
    progress: Progress | None = None,
    events: bool = True,
) -> CopyResult:
    """Copy every session and event of ``source`` into ``dest`` (see the module's note);
    ``events=False`` copies the sessions only (benchmarks load search data so)."""
    if redact(source) == redact(dest):
        from store.errors import UsageError

        raise UsageError(
            "SOURCE and DEST are the same database", hint="give two different databases"
        )
    reader = open_store(source)
    try:
        target = _Dest(dest)
        try:
            return _copy(reader, target, host, progress, events)
        finally:
            target.close()
    finally:
        reader.close()


def _copy(
    reader: Any, dest: _Dest, host: str | None, progress: Progress | None, with_events: bool
) -> CopyResult:
    (total,) = reader.execute("SELECT count(*) FROM sessions").fetchone()
    data_at = SESSION_COLUMNS.index("metadata")
    host_at = SESSION_COLUMNS.index("host")
    # A source of an older schema (before sql/004) has no host columns: read them as NULL.
    present = _columns(reader, "sessions")
    picked = ", ".join(c if c in present else f"NULL AS {c}" for c in SESSION_COLUMNS)
    done = 0
    for rows in _chunks(reader, f"SELECT {picked} FROM sessions ORDER BY {_order(reader)}"):
        staged = []
        for n, row in enumerate(rows, done):
            values = list(row)
            values[data_at] = json.dumps(json_object(values[data_at]))
            values[host_at] = values[host_at] or host
            staged.append((n, *values))
        dest.sessions(staged)
        done += len(rows)
        if progress is not None:
            progress("sessions", done, int(total))
    events_read = events_added = 0
    if not with_events:
        return CopyResult(done, events_read, events_added)
    (event_total,) = reader.execute("SELECT count(*) FROM session_events").fetchone()
    event_present = _columns(reader, "session_events")
    event_picked = ", ".join(c if c in event_present else f"NULL AS {c}" for c in _EVENT_COLUMNS)
    for rows in _chunks(reader, f"SELECT {event_picked} FROM session_events ORDER BY id"):
        staged = [
            (n, e[0], e[1], e[2], json.dumps(json_object(e[3])), e[4] or host)
            for n, e in enumerate(rows, events_read)
        ]
        events_added += dest.events(staged)
        events_read += len(rows)
        if progress is not None:
            progress("events", events_read, int(event_total))
    return CopyResult(done, events_read, events_added)


def _order(reader: Any) -> str:
    """SOURCE's insertion order: SQLite's rowid, PostgreSQL's seq."""
    return "seq" if _is_postgres(reader) else "rowid"


def _is_postgres(reader: Any) -> bool:
    # store.reads.open_store gives a PgReader or a sqlite3.Connection (the module imports no
    # psycopg: that happens only on connecting).
    from store.postgres.reads import PgReader

    return isinstance(reader, PgReader)
