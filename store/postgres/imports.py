"""The statements of ``ccmgr-watch import`` and of JSON state out, on PostgreSQL:
:mod:`store.imports`' reads and writes with the same effect, in PostgreSQL's spelling.

The decisions are the caller's (``watcher.importer``: the same pure plan for both stores); this
module runs statements. An import is one transaction that first takes an advisory lock (two
imports into one database run one after the other) and locks the stored rows its plan reads
(``FOR UPDATE``): a watcher writing one of those sessions meanwhile waits for the import, as it
waits for SQLite's ``BEGIN IMMEDIATE``, so the plan never merges into a row that changed under it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from store.columns import IMPORT_UPDATABLE, SESSION_COLUMNS
from store.imports import ImportWrites
from store.postgres.connect import connect_sync, import_psycopg, query_error
from store.reads import EventRecord, SessionRecord, session_from_row
from store.timefmt import now_ts

if TYPE_CHECKING:
    from psycopg import Connection

IMPORT_LOCK: Final = 0x63636D67_696D7074  # "ccmgimpt": one import at a time per database
_SELECT: Final = "SELECT " + ", ".join(SESSION_COLUMNS) + " FROM sessions"
_INSERT_SESSION: Final = (
    "INSERT INTO sessions ("
    + ", ".join(SESSION_COLUMNS)
    + ") VALUES ("
    + ", ".join("%s::jsonb" if c == "metadata" else "%s" for c in SESSION_COLUMNS)
    + ")"
).encode()
_INSERT_EVENT: Final = (
    b"INSERT INTO session_events (session_id, event_type, timestamp, data, host) "
    b"VALUES (%s, %s, %s, %s::json, %s) RETURNING id"
)


class PgImportReader:
    """The reads an import plan needs (:class:`store.imports.ImportReader`'s), on the connection
    of its transaction; ``lock`` takes the rows it returns ``FOR UPDATE``."""

    def __init__(self, conn: Connection[Any] | None, *, lock: bool = False) -> None:
        self._conn = conn
        self._lock = " FOR UPDATE" if lock else ""

    def sessions(
        self,
        ids: Sequence[str],
        names: Sequence[str],
        identities: Sequence[tuple[str, str]],
    ) -> list[SessionRecord]:
        """Stored sessions with one of these ids, names or (tmux_server, tmux_id)."""
        if self._conn is None:
            return []
        pairs = sorted(set(identities))
        rows = self._conn.execute(
            f"{_SELECT} WHERE id = ANY(%s) OR name = ANY(%s) OR (tmux_server, tmux_id) IN "
            f"(SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY seq{self._lock}".encode(),
            (
                sorted(set(ids)),
                sorted(set(names)),
                [p[0] for p in pairs],
                [p[1] for p in pairs],
            ),
        ).fetchall()
        return [session_from_row(row) for row in rows]

    def events(self, session_ids: Sequence[str]) -> list[EventRecord]:
        """Every stored event of these sessions."""
        if self._conn is None:
            return []
        rows = self._conn.execute(
            b"SELECT session_id, event_type, timestamp, data::text FROM session_events "
            b"WHERE session_id = ANY(%s) ORDER BY id",
            (sorted(set(session_ids)),),
        ).fetchall()
        result = []
        for sid, kind, stamp, data in rows:
            try:
                parsed = json.loads(data) if data else {}
            except ValueError:
                parsed = {"legacy_value": data}
            result.append(
                EventRecord(
                    session_id=sid,
                    event_type=kind,
                    timestamp=stamp,
                    data=parsed if isinstance(parsed, dict) else {"legacy_value": parsed},
                )
            )
        return result

    def identity_taken(self, server: str, tmux_id: str) -> bool:
        """Whether a stored session already has this tmux identity."""
        if self._conn is None:
            return False
        row = self._conn.execute(
            b"SELECT 1 FROM sessions WHERE tmux_server = %s AND tmux_id = %s", (server, tmux_id)
        ).fetchone()
        return row is not None


class ImportDone:
    """What an import wrote, for its snapshot: the stored sessions it changed as they were
    before, the ids of the sessions and events it added."""

    def __init__(
        self, before: list[SessionRecord], added_sessions: list[str], added_events: list[int]
    ) -> None:
        self.before = before
        self.added_sessions = added_sessions
        self.added_events = added_events


def _encode(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _write(conn: Connection[Any], writes: ImportWrites) -> ImportDone:
    now = now_ts()
    changed = sorted({sid for sid, _ in writes.updates})
    before = [
        session_from_row(row)
        for row in conn.execute(
            f"{_SELECT} WHERE id = ANY(%s) ORDER BY seq".encode(), (changed,)
        ).fetchall()
    ]
    with conn.cursor() as cur:
        cur.executemany(
            _INSERT_SESSION,
            [
                tuple(
                    _encode(getattr(s, c)) if c == "metadata" else getattr(s, c)
                    for c in SESSION_COLUMNS
                )
                for s in writes.adds
            ],
        )
        # One executemany per set of changed columns: psycopg pipelines it (one round trip per
        # statement, not per session; 10 k merged sessions one by one took twice SQLite's time).
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for sid, changes in writes.updates:
            columns = tuple(sorted(changes))
            unknown = set(columns) - IMPORT_UPDATABLE
            if unknown:
                raise ValueError(f"an import does not change {sorted(unknown)}")
            values = [_encode(changes[c]) if c == "metadata" else changes[c] for c in columns]
            by_columns.setdefault(columns, []).append((*values, now, sid))
        for columns, params in by_columns.items():
            sets = ", ".join(
                f"{c} = %s::jsonb" if c == "metadata" else f"{c} = %s" for c in columns
            )
            cur.executemany(
                f"UPDATE sessions SET {sets}, updated_at = %s WHERE id = %s".encode(), params
            )
        event_ids: list[int] = []
        if writes.events:
            cur.executemany(
                _INSERT_EVENT,
                [
                    (e.session_id, e.event_type, e.timestamp, _encode(e.data), e.host)
                    for e in writes.events
                ],
                returning=True,
            )
            while True:
                row = cur.fetchone()
                if row is not None:
                    event_ids.append(int(row[0]))
                if not cur.nextset():
                    break
    return ImportDone(before, [s.id for s in writes.adds], event_ids)


def run_import(
    url: str,
    plan: Callable[[PgImportReader], ImportWrites | None],
    *,
    write: bool,
    before_commit: Callable[[ImportDone], None] | None = None,
) -> None:
    """Run ``plan`` against the database at ``url`` and write what it returns, all in one
    transaction (the plan sees the rows it changes locked); ``before_commit`` sees what was
    written before it is committed (an exception there rolls everything back).

    ``write=False`` (a dry run) only reads, on a read-only connection; a database without the
    schema yet is an empty one.
    """
    pg = import_psycopg()
    conn = connect_sync(url)
    try:
        if not write:
            conn.execute(b"SET default_transaction_read_only = on")
            found = conn.execute(b"SELECT to_regclass('sessions') IS NOT NULL").fetchone()
            plan(PgImportReader(conn if found and found[0] else None))
            return
        with conn.transaction():
            conn.execute(b"SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
            writes = plan(PgImportReader(conn, lock=True))
            if writes is not None:
                done = _write(conn, writes)
                if before_commit is not None:
                    before_commit(done)
    except pg.Error as exc:
        raise query_error(url, exc) from None
    finally:
        conn.close()


def sessions_for_state(
    url: str, *, alive_only: bool, host: str | None = None
) -> list[SessionRecord]:
    """Every session (``alive_only``: those not ended; ``host``: of that host, or recorded
    without one), by id: what a JSON state file holds."""
    pg = import_psycopg()
    conn = connect_sync(url)
    try:
        clauses = []
        params: list[Any] = []
        if alive_only:
            clauses.append("status != 'ended'")
        if host is not None:
            clauses.append("(host IS NULL OR host = %s)")
            params.append(host)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = conn.execute(f"{_SELECT}{where} ORDER BY id".encode(), params).fetchall()
        return [session_from_row(row) for row in rows]
    except pg.Error as exc:
        raise query_error(url, exc) from None
    finally:
        conn.close()
