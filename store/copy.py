"""``ccmgr-watch db copy SOURCE DEST``: a whole history from one store into another.

SOURCE and DEST are each a SQLite file or a PostgreSQL URL (SQLite to PostgreSQL joins a local
history to a shared one; PostgreSQL to SQLite takes a shared one home). DEST is created and
migrated if needed. Idempotent: sessions are upserted by id (a newer ``updated_at`` in SOURCE wins,
a host already set in DEST is kept), an event is inserted only if DEST has no event of that
session, type and time; a second copy adds nothing. Sessions without a host (recorded before
sql/004) get ``host``. Each batch of sessions and their events is one transaction in DEST.

The statements are written once, in SQLite's spelling; on PostgreSQL they are respelled as the
reads' are (store.postgres.reads.to_postgres).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from store.columns import SESSION_COLUMNS
from store.pgurl import is_postgres_url, redact
from store.reads import json_object, open_store

BATCH: Final = 500
_EVENT_COLUMNS: Final = ("session_id", "event_type", "timestamp", "data", "host")
_UPDATABLE: Final = tuple(c for c in SESSION_COLUMNS if c not in ("id", "host"))


def _session_upsert(mark: Callable[[str], str]) -> str:
    return (
        f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) "
        f"VALUES ({', '.join(mark(c) for c in SESSION_COLUMNS)}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
        + ", host = COALESCE(sessions.host, excluded.host) "
        "WHERE excluded.updated_at > sessions.updated_at OR sessions.host IS NULL"
    )


def _event_insert(mark: Callable[[str], str]) -> str:
    return (
        f"INSERT INTO session_events ({', '.join(_EVENT_COLUMNS)}) "
        f"SELECT {', '.join(mark(c) for c in _EVENT_COLUMNS)} "
        "WHERE NOT EXISTS (SELECT 1 FROM session_events "
        f"WHERE session_id = {mark('')} AND timestamp = {mark('')} AND event_type = {mark('')})"
    )


def _sqlite_mark(column: str) -> str:
    return "?"


def _postgres_mark(column: str) -> str:
    # Typed: the JSON columns take text, and a SELECT list does not infer a parameter's type.
    if column == "metadata":
        return "%s::jsonb"
    return "%s::json" if column == "data" else "%s::text"


Progress = Callable[[int, int], None]
"""Called with (sessions copied so far, sessions in SOURCE)."""


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


def _batches(reader: Any, sql: str) -> Iterator[list[Any]]:
    cursor = reader.execute(sql)
    while True:
        rows = cursor.fetchmany(BATCH)
        if not rows:
            return
        yield rows


class _Dest:
    """The destination: one writing connection and its transaction, either store."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.postgres = is_postgres_url(location)
        self.conn: Any
        if self.postgres:
            from store.postgres import connect, migrate

            migrate.migrate(location)
            self.conn = connect.connect_sync(location)
        else:
            from store import db

            db.migrate_sync(Path(location))
            self.conn = db.connect_sync(Path(location))

    def write(self, sessions: Sequence[tuple[Any, ...]], events: Sequence[tuple[Any, ...]]) -> int:
        """One transaction: the sessions, then their events; how many events were new."""
        if self.postgres:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.executemany(_session_upsert(_postgres_mark).encode(), sessions)
                added = 0
                for event in events:
                    cur.execute(_event_insert(_postgres_mark).encode(), event)
                    added += cur.rowcount
                return added
        from store.db import _run_transaction

        upsert, insert = _session_upsert(_sqlite_mark), _event_insert(_sqlite_mark)

        def work(conn: Any) -> int:
            conn.executemany(upsert, sessions)
            return sum(conn.execute(insert, event).rowcount for event in events)

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
        (total,) = reader.execute("SELECT count(*) FROM sessions").fetchone()
        target = _Dest(dest)
        try:
            return _copy(reader, target, host, int(total), progress, events)
        finally:
            target.close()
    finally:
        reader.close()


def _copy(
    reader: Any,
    dest: _Dest,
    host: str | None,
    total: int,
    progress: Progress | None,
    with_events: bool,
) -> CopyResult:
    done = events_read = events_added = 0
    data_at = SESSION_COLUMNS.index("metadata")
    host_at = SESSION_COLUMNS.index("host")
    # A source of an older schema (before sql/004) has no host columns: read them as NULL.
    present = _columns(reader, "sessions")
    picked = ", ".join(c if c in present else f"NULL AS {c}" for c in SESSION_COLUMNS)
    event_present = _columns(reader, "session_events")
    event_picked = ", ".join(c if c in event_present else f"NULL AS {c}" for c in _EVENT_COLUMNS)
    select = f"SELECT {picked} FROM sessions ORDER BY rowid ASC"
    for rows in _batches(reader, select):
        sessions = []
        for row in rows:
            values = list(row)
            values[data_at] = json.dumps(json_object(values[data_at]))
            values[host_at] = values[host_at] or host
            sessions.append(tuple(values))
        ids = [r[0] for r in rows]
        marks = ", ".join("?" for _ in ids)
        events = []
        rows_of_events: list[Any] = []
        if with_events:
            rows_of_events = reader.execute(
                f"SELECT {event_picked} FROM session_events "
                f"WHERE session_id IN ({marks}) ORDER BY id",
                ids,
            ).fetchall()
        for e in rows_of_events:
            event = (e[0], e[1], e[2], json.dumps(json_object(e[3])), e[4] or host)
            events.append((*event, e[0], e[2], e[1]))
        events_read += len(events)
        events_added += dest.write(sessions, events)
        done += len(rows)
        if progress is not None:
            progress(done, total)
    return CopyResult(done, events_read, events_added)
