"""Repositories: the only code that turns records into SQL and back.

Every statement is parameterised; sort keys are looked up in fixed tables, never interpolated
from input. Writes go through whichever connection the caller hands in, so a caller can group
several writes in one ``Database.transaction()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Final

import aiosqlite
import msgspec

from store.columns import SESSION_COLUMNS
from store.models import EventFilter, Session, SessionEvent, SessionFilter
from store.timefmt import now_ts

_json_encode = msgspec.json.Encoder().encode
_json_decode_obj = msgspec.json.Decoder(dict[str, Any]).decode

_SESSION_SELECT: Final = "SELECT " + ", ".join(SESSION_COLUMNS) + " FROM sessions"
_UPDATABLE: Final = frozenset(SESSION_COLUMNS) - {"id", "created_at"}
_SORT_COLUMNS: Final = {
    "created": "created_at",
    "updated": "updated_at",
    "last_access": "last_access",
    "name": "name COLLATE NOCASE",
}
_EVENT_COLUMNS: Final = "id, session_id, event_type, timestamp, data"
_EVENT_INSERT: Final = (
    "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?, ?, ?, ?)"
)


def _decode_obj(text: str | bytes | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return _json_decode_obj(text)
    except msgspec.DecodeError:
        return {}


def session_from_row(row: Sequence[Any]) -> Session:
    """A Session from a row selected with SESSION_COLUMNS in that order."""
    return Session(
        id=row[0],
        name=row[1],
        project=row[2],
        worktree=row[3],
        branch=row[4],
        directory=row[5],
        created_at=row[6],
        updated_at=row[7],
        last_access=row[8],
        metadata=_decode_obj(row[9]),
        status=row[10],
        ended_at=row[11],
        tmux_server=row[12],
        tmux_id=row[13],
    )


def event_from_row(row: Sequence[Any]) -> SessionEvent:
    """A SessionEvent from a row selected as ``id, session_id, event_type, timestamp, data``."""
    return SessionEvent(
        id=row[0], session_id=row[1], event_type=row[2], timestamp=row[3], data=_decode_obj(row[4])
    )


def _session_params(session: Session) -> tuple[Any, ...]:
    return (
        session.id,
        session.name,
        session.project,
        session.worktree,
        session.branch,
        session.directory,
        session.created_at,
        session.updated_at,
        session.last_access,
        _json_encode(session.metadata).decode(),
        session.status,
        session.ended_at,
        session.tmux_server,
        session.tmux_id,
    )


class SessionRepository:
    """Create, read, update, delete and list sessions."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def create(self, session: Session) -> Session:
        """Insert a new session; raises sqlite3.IntegrityError if the id is taken."""
        placeholders = ", ".join("?" for _ in SESSION_COLUMNS)
        await self.conn.execute(
            f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES ({placeholders})",
            _session_params(session),
        )
        return session

    async def upsert(self, session: Session) -> Session:
        """Insert a session, or replace every field but ``created_at`` of the stored one."""
        placeholders = ", ".join("?" for _ in SESSION_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in SESSION_COLUMNS if c in _UPDATABLE)
        await self.conn.execute(
            f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            _session_params(session),
        )
        return session

    async def update(self, session_id: str, **changes: Any) -> Session | None:
        """Change the named fields of one session (``updated_at`` is set unless given).

        Returns the updated session, or None if there is no such session.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update session fields: {', '.join(sorted(unknown))}")
        changes.setdefault("updated_at", now_ts())
        if "metadata" in changes:
            changes["metadata"] = _json_encode(changes["metadata"]).decode()
        # Column names come from the fixed set checked above, never from input text.
        assignments = ", ".join(f"{column} = ?" for column in changes)
        cursor = await self.conn.execute(
            f"UPDATE sessions SET {assignments} WHERE id = ?", (*changes.values(), session_id)
        )
        if cursor.rowcount == 0:
            return None
        return await self.get(session_id)

    async def delete(self, session_id: str) -> bool:
        """Delete one session and (by cascade) its events; True if it existed."""
        cursor = await self.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return cursor.rowcount > 0

    async def get(self, session_id: str) -> Session | None:
        """The session with this id, or None."""
        async with self.conn.execute(f"{_SESSION_SELECT} WHERE id = ?", (session_id,)) as cur:
            row = await cur.fetchone()
        return session_from_row(row) if row else None

    async def get_by_name(self, name: str) -> Session | None:
        """The most recently used session with this name (names are reused), or None."""
        async with self.conn.execute(
            f"{_SESSION_SELECT} WHERE name = ? ORDER BY last_access DESC, rowid DESC LIMIT 1",
            (name,),
        ) as cur:
            row = await cur.fetchone()
        return session_from_row(row) if row else None

    async def get_by_tmux(self, tmux_server: str, tmux_id: str) -> Session | None:
        """The session that tmux knows as ``tmux_id`` on ``tmux_server``, or None."""
        async with self.conn.execute(
            f"{_SESSION_SELECT} WHERE tmux_server = ? AND tmux_id = ?", (tmux_server, tmux_id)
        ) as cur:
            row = await cur.fetchone()
        return session_from_row(row) if row else None

    async def list(self, flt: SessionFilter | None = None) -> list[Session]:
        """Sessions matching the filter, sorted by ``flt.sort``."""
        flt = flt or SessionFilter()
        where, params = _session_where(flt)
        direction = "DESC" if flt.descending else "ASC"
        order = f"{_SORT_COLUMNS[flt.sort]} {direction}, rowid {direction}"
        sql = f"{_SESSION_SELECT}{where} ORDER BY {order} LIMIT ? OFFSET ?"
        params.extend([flt.limit if flt.limit is not None else -1, flt.offset])
        async with self.conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [session_from_row(row) for row in rows]

    async def count(self, flt: SessionFilter | None = None) -> int:
        """How many sessions match the filter (limit and offset ignored)."""
        where, params = _session_where(flt or SessionFilter())
        async with self.conn.execute(f"SELECT count(*) FROM sessions{where}", params) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


def _session_where(flt: SessionFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("project", "worktree", "branch", "status"):
        value = getattr(flt, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if flt.since is not None:
        clauses.append("last_access >= ?")
        params.append(flt.since)
    if flt.until is not None:
        clauses.append("last_access <= ?")
        params.append(flt.until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class EventRepository:
    """Insert and list session events."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def insert(self, event: SessionEvent) -> SessionEvent:
        """Insert one event; returns it with its new id."""
        cursor = await self.conn.execute(_EVENT_INSERT, _event_params(event))
        return SessionEvent(
            id=cursor.lastrowid,
            session_id=event.session_id,
            event_type=event.event_type,
            timestamp=event.timestamp,
            data=event.data,
        )

    async def insert_batch(self, events: Iterable[SessionEvent]) -> int:
        """Insert many events with one prepared statement; returns how many."""
        rows = [_event_params(e) for e in events]
        if rows:
            await self.conn.executemany(_EVENT_INSERT, rows)
        return len(rows)

    async def list_for_session(
        self, session_id: str, *, limit: int | None = None
    ) -> list[SessionEvent]:
        """A session's events, oldest first."""
        async with self.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM session_events WHERE session_id = ? "
            "ORDER BY timestamp, id LIMIT ?",
            (session_id, limit if limit is not None else -1),
        ) as cur:
            rows = await cur.fetchall()
        return [event_from_row(row) for row in rows]

    async def list(self, flt: EventFilter | None = None) -> list[SessionEvent]:
        """Events matching the filter, newest first."""
        flt = flt or EventFilter()
        clauses: list[str] = []
        params: list[Any] = []
        if flt.session_id is not None:
            clauses.append("session_id = ?")
            params.append(flt.session_id)
        if flt.event_types:
            clauses.append(f"event_type IN ({', '.join('?' for _ in flt.event_types)})")
            params.extend(flt.event_types)
        if flt.since is not None:
            clauses.append("timestamp >= ?")
            params.append(flt.since)
        if flt.until is not None:
            clauses.append("timestamp <= ?")
            params.append(flt.until)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        params.extend([flt.limit if flt.limit is not None else -1, flt.offset])
        async with self.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM session_events{where} "
            "ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
            params,
        ) as cur:
            rows = await cur.fetchall()
        return [event_from_row(row) for row in rows]


def _event_params(event: SessionEvent) -> tuple[str, str, str, str]:
    return (event.session_id, event.event_type, event.timestamp, _json_encode(event.data).decode())


# --- What the watcher's writer needs (capture) ---------------------------------------------------

# One lifecycle event folded into its session's row. ``directory`` and ``created_at`` only
# overwrite what is stored when tmux told us (NULL keeps the stored value); ``last_access`` never
# goes backwards; ``ended_at`` keeps the first end and is cleared if the session is alive again.
# Name and directory of an existing row are set by a second statement, only when they change:
# the full-text index's update trigger fires for any UPDATE that names an indexed column, and
# re-indexing the row for every attach, window or kill was a large part of a write's cost.
_LIFECYCLE_UPSERT: Final = (
    "INSERT INTO sessions (id, name, directory, created_at, updated_at, last_access, metadata, "
    "status, ended_at, tmux_server, tmux_id) "
    "VALUES (:id, :name, :directory, COALESCE(:created_at, :timestamp), :now, :timestamp, '{}', "
    ":status, :ended_at, :server, :tmux_id) "
    "ON CONFLICT (id) DO UPDATE SET "
    "created_at = COALESCE(:created_at, sessions.created_at), "
    "updated_at = excluded.updated_at, "
    "last_access = MAX(sessions.last_access, excluded.last_access), "
    "status = excluded.status, "
    "ended_at = CASE WHEN excluded.status = 'ended' "
    "THEN COALESCE(sessions.ended_at, excluded.ended_at) ELSE NULL END"
)
_LIFECYCLE_RENAME: Final = (
    "UPDATE sessions SET name = :name, directory = COALESCE(:directory, directory) "
    "WHERE id = :id AND (name IS NOT :name "
    "OR (:directory IS NOT NULL AND directory IS NOT :directory))"
)

# Enrichment guessed from a session's name never replaces what git said.
_ENRICH_UPDATE: Final = (
    "UPDATE sessions SET project = :project, worktree = :worktree, branch = :branch, "
    "updated_at = :now, metadata = json_set(metadata, '$.enriched_from', :source) "
    "WHERE id = :id AND NOT (:source = 'name' "
    "AND json_extract(metadata, '$.enriched_from') IS 'git')"
)


class LifecycleRow(msgspec.Struct, frozen=True, kw_only=True):
    """The parameters of one lifecycle upsert (see :meth:`SessionRepository.apply_lifecycle`)."""

    id: str
    name: str
    timestamp: str
    status: str
    server: str
    tmux_id: str
    directory: str | None = None
    created_at: str | None = None
    ended_at: str | None = None


class EnrichmentRow(msgspec.Struct, frozen=True, kw_only=True):
    """Project, worktree and branch found for a session, and where they came from."""

    id: str
    project: str | None
    worktree: str | None
    branch: str | None
    source: str


def _lifecycle_params(rows: Sequence[LifecycleRow], now: str) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(row) | {"now": now} for row in rows]


def _enrichment_params(rows: Sequence[EnrichmentRow], now: str) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(row) | {"now": now} for row in rows]


async def apply_lifecycle(conn: aiosqlite.Connection, rows: Sequence[LifecycleRow]) -> None:
    """Fold lifecycle events into their sessions' rows, in order, with one prepared statement."""
    if not rows:
        return
    params = _lifecycle_params(rows, now_ts())
    await conn.executemany(_LIFECYCLE_UPSERT, params)
    await conn.executemany(_LIFECYCLE_RENAME, params)


async def apply_enrichment(conn: aiosqlite.Connection, rows: Sequence[EnrichmentRow]) -> None:
    """Write project, worktree and branch of sessions (a name guess never overrides git)."""
    if not rows:
        return
    await conn.executemany(_ENRICH_UPDATE, _enrichment_params(rows, now_ts()))


def write_capture_sync(
    conn: sqlite3.Connection,
    lifecycle: Sequence[LifecycleRow],
    events: Sequence[SessionEvent],
    enrichments: Sequence[EnrichmentRow],
) -> None:
    """One capture batch on a stdlib connection: the statements of :func:`apply_lifecycle`,
    :meth:`EventRepository.insert_batch` and :func:`apply_enrichment`, in that order.

    Meant for ``Database.transact`` (the caller owns the transaction); runs in the writer's
    thread, so the JSON encoding of event data is done there too.
    """
    now = now_ts()
    if lifecycle:
        params = _lifecycle_params(lifecycle, now)
        conn.executemany(_LIFECYCLE_UPSERT, params)
        conn.executemany(_LIFECYCLE_RENAME, params)
    if events:
        conn.executemany(_EVENT_INSERT, [_event_params(e) for e in events])
    if enrichments:
        conn.executemany(_ENRICH_UPDATE, _enrichment_params(enrichments, now))


async def sessions_alive_on_socket(conn: aiosqlite.Connection, socket_path: str) -> list[Session]:
    """Sessions believed alive on any server lifetime of this socket (status is not ``ended``)."""
    # Server keys are "<socket>#<pid>@<start>": a range on the prefix uses ix_sessions_tmux.
    # '$' is the character after '#', so [path#, path$) is exactly the keys of this socket.
    async with conn.execute(
        f"{_SESSION_SELECT} WHERE tmux_server >= ? AND tmux_server < ? AND tmux_id IS NOT NULL "
        "AND status != 'ended' ORDER BY tmux_server, tmux_id",
        (socket_path + "#", socket_path + "$"),
    ) as cur:
        rows = await cur.fetchall()
    sessions = [session_from_row(row) for row in rows]
    # A socket path may itself contain '#' ("/tmp/a#b"): keep exact matches of the socket part.
    return [s for s in sessions if (s.tmux_server or "").rsplit("#", 1)[0] == socket_path]
