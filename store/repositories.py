"""The capture writer's statements: lifecycle rows, events and enrichments in, rows out.

Every statement is parameterised. These run on the writer's thread, inside the one transaction
:meth:`store.db.Database.write_batch` opens; the CLI's reads are :mod:`store.reads`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from store.columns import LAYOUT_KEY, SESSION_COLUMNS
from store.reads import EventRecord, SessionRecord, session_from_row
from store.timefmt import now_ts

_json_encode = msgspec.json.Encoder().encode

_SESSION_SELECT: Final = "SELECT " + ", ".join(SESSION_COLUMNS) + " FROM sessions"
_EVENT_INSERT: Final = (
    "INSERT INTO session_events (session_id, event_type, timestamp, data, host) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _event_params(event: EventRecord) -> tuple[str, str, str, str, str | None]:
    data = _json_encode(event.data).decode()
    return (event.session_id, event.event_type, event.timestamp, data, event.host)


# --- What the watcher's writer needs (capture) ---------------------------------------------------

# One lifecycle event folded into its session's row. ``directory`` and ``created_at`` only
# overwrite what is stored when tmux told us (NULL keeps the stored value); ``last_access`` never
# goes backwards; ``ended_at`` keeps the first end and is cleared if the session is alive again.
# Name and directory of an existing row are set by a second statement, only when they change:
# the full-text index's update trigger fires for any UPDATE that names an indexed column, and
# re-indexing the row for every attach, window or kill was a large part of a write's cost.
_LIFECYCLE_UPSERT: Final = (
    "INSERT INTO sessions (id, name, directory, created_at, updated_at, last_access, metadata, "
    "status, ended_at, tmux_server, tmux_id, host) "
    "VALUES (:id, :name, :directory, COALESCE(:created_at, :timestamp), :now, :timestamp, '{}', "
    ":status, :ended_at, :server, :tmux_id, :host) "
    "ON CONFLICT (id) DO UPDATE SET "
    "created_at = COALESCE(:created_at, sessions.created_at), "
    "updated_at = excluded.updated_at, "
    "last_access = MAX(sessions.last_access, excluded.last_access), "
    "status = excluded.status, "
    "ended_at = CASE WHEN excluded.status = 'ended' "
    "THEN COALESCE(sessions.ended_at, excluded.ended_at) ELSE NULL END, "
    "host = COALESCE(sessions.host, excluded.host)"
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


# A session's windows as last seen (what `revive` recreates): one key of its metadata, replaced
# whole. metadata is not in the search index, so this costs no re-indexing.
_LAYOUT_UPDATE: Final = (
    f"UPDATE sessions SET metadata = json_set(metadata, '$.{LAYOUT_KEY}', json(?)) WHERE id = ?"
)


class LayoutRow(msgspec.Struct, frozen=True, kw_only=True):
    """A session's windows as last seen: ``windows`` are msgspec structs or plain dicts (index,
    name, layout, panes...), encoded to JSON on the writer's thread."""

    id: str
    recorded_at: str
    windows: tuple[Any, ...]


class LifecycleRow(msgspec.Struct, frozen=True, kw_only=True):
    """The parameters of one lifecycle upsert (see :func:`write_capture_sync`)."""

    id: str
    name: str
    timestamp: str
    status: str
    server: str
    tmux_id: str
    directory: str | None = None
    created_at: str | None = None
    ended_at: str | None = None
    host: str | None = None


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


def write_capture_sync(
    conn: sqlite3.Connection,
    lifecycle: Sequence[LifecycleRow],
    events: Sequence[EventRecord],
    enrichments: Sequence[EnrichmentRow],
    layouts: Sequence[LayoutRow] = (),
) -> None:
    """One capture batch on a stdlib connection: lifecycle rows folded into their sessions,
    then the events inserted, then the enrichments applied, then the windows recorded (the
    last record of a session in the batch wins).

    The caller owns the transaction (``Database.write_batch``); runs in the writer's thread, so
    the JSON encoding of event data is done there too.
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
    if layouts:
        last = {row.id: row for row in layouts}
        conn.executemany(
            _LAYOUT_UPDATE,
            [
                (_json_encode({"recorded_at": row.recorded_at, "windows": row.windows}).decode(), i)
                for i, row in last.items()
            ],
        )


def sessions_alive_on_socket(
    conn: sqlite3.Connection, where: tuple[str, str | None]
) -> list[SessionRecord]:
    """Sessions believed alive on any server lifetime of this socket (status is not ``ended``),
    ``where`` being (socket path, host): on that host, or recorded before hosts were (NULL).

    Another host's socket of the same path is another server: a shared store holds both, and
    reconciling one host's tmux must never end the other's sessions.
    """
    socket_path, host = where
    # Server keys are "<socket>#<pid>@<start>[@<host>]": a range on the prefix uses
    # ix_sessions_tmux. '$' is the character after '#', so [path#, path$) is exactly the keys
    # of this socket.
    rows = conn.execute(
        f"{_SESSION_SELECT} WHERE tmux_server >= ? AND tmux_server < ? AND tmux_id IS NOT NULL "
        "AND status != 'ended' AND (? IS NULL OR host IS NULL OR host = ?) "
        "ORDER BY tmux_server, tmux_id",
        (socket_path + "#", socket_path + "$", host, host),
    ).fetchall()
    sessions = [session_from_row(row) for row in rows]
    # A socket path may itself contain '#' ("/tmp/a#b"): keep exact matches of the socket part.
    return [s for s in sessions if (s.tmux_server or "").rsplit("#", 1)[0] == socket_path]
