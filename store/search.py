"""Running searches and history queries: compiled SQL in, result structs out.

The async functions take a reader connection (``Database.reader()`` / ``open_reader``) for code
that runs inside the service's event loop. The ``*_sync`` twins take a stdlib connection: the CLI
runs one query and exits, and skipping the event loop (and the import of anyio and aiosqlite)
keeps ``ccmgr-watch query`` quick to start.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from store.errors import CcmgrError, StoreError
from store.query.compiler import RESULT_COLUMNS, CompiledQuery
from store.values import Value

DEFAULT_LIMIT = 20
"""Sessions a search shows by default; the config's ``search.default_limit`` (whose default this
is) changes it."""

if TYPE_CHECKING:
    from pathlib import Path  # not at run time: pathlib costs `ccmgr-watch query` ~10 %

    import aiosqlite

_BUSY_TIMEOUT_MS = 5000
_MISSING_INDEX_HINT = "run `ccmgr-watch db migrate` to create the search index"


# Results and queries are plain values, not msgspec structs: they never leave the process, and
# the CLI's search path must not pay for importing msgspec (see store.values).


class SearchHit(Value):
    """One session found by a search; ``score`` (higher is better) only when ranked."""

    __match_args__ = (
        "id",
        "name",
        "project",
        "worktree",
        "branch",
        "directory",
        "status",
        "created_at",
        "updated_at",
        "last_access",
        "ended_at",
        "metadata",
        "score",
    )
    __slots__ = __match_args__
    id: str
    name: str
    project: str | None
    worktree: str | None
    branch: str | None
    directory: str | None
    status: str
    created_at: str
    updated_at: str
    last_access: str
    ended_at: str | None
    metadata: dict[str, Any]
    score: float | None

    def __init__(
        self,
        *,
        id: str,
        name: str,
        project: str | None,
        worktree: str | None,
        branch: str | None,
        directory: str | None,
        status: str,
        created_at: str,
        updated_at: str,
        last_access: str,
        ended_at: str | None,
        metadata: dict[str, Any],
        score: float | None = None,
    ) -> None:
        super().__init__(
            id,
            name,
            project,
            worktree,
            branch,
            directory,
            status,
            created_at,
            updated_at,
            last_access,
            ended_at,
            metadata,
            score,
        )


class HistoryEvent(Value):
    """One lifecycle event with its session's current name, as ``session history`` lists it."""

    __match_args__ = ("id", "session_id", "session_name", "event_type", "timestamp", "data")
    __slots__ = __match_args__
    id: int
    session_id: str
    session_name: str | None
    event_type: str
    timestamp: str
    data: dict[str, Any]

    def __init__(
        self,
        *,
        id: int,
        session_id: str,
        session_name: str | None,
        event_type: str,
        timestamp: str,
        data: dict[str, Any],
    ) -> None:
        super().__init__(id, session_id, session_name, event_type, timestamp, data)


class HistoryQuery(Value):
    """What ``session history`` selects: bounds are stored timestamp text, newest first."""

    __match_args__ = ("since", "until", "session_ids", "event_types", "limit")
    __slots__ = __match_args__
    since: str | None
    until: str | None
    session_ids: tuple[str, ...] | None
    event_types: tuple[str, ...] | None
    limit: int | None

    def __init__(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        session_ids: tuple[str, ...] | None = None,
        event_types: tuple[str, ...] | None = None,
        limit: int | None = 50,
    ) -> None:
        super().__init__(since, until, session_ids, event_types, limit)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _metadata(text: Any) -> dict[str, Any]:
    """A stored JSON object; anything else (not JSON, not an object) reads as empty."""
    if not text:
        return {}
    try:
        # NaN and Infinity are not JSON; refusing them keeps --json output valid.
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {}
    return value if isinstance(value, dict) else {}


def hit_from_row(row: Sequence[Any], *, ranked: bool) -> SearchHit:
    """A SearchHit from a row of a compiled query (RESULT_COLUMNS, then the score if ranked)."""
    values = dict(zip(RESULT_COLUMNS, row, strict=False))
    return SearchHit(
        id=values["id"],
        name=values["name"],
        project=values["project"],
        worktree=values["worktree"],
        branch=values["branch"],
        directory=values["directory"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        last_access=values["last_access"],
        ended_at=values["ended_at"],
        metadata=_metadata(values["metadata"]),
        # "+ 0.0" turns the -0.0 of an unscored row into 0.0.
        score=round(float(row[len(RESULT_COLUMNS)]), 6) + 0.0 if ranked else None,
    )


def compile_history(query: HistoryQuery) -> tuple[str, list[Any]]:
    """SQL and parameters for a history query (pure)."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.session_ids is not None:
        clauses.append(f"e.session_id IN ({', '.join('?' for _ in query.session_ids)})")
        params.extend(query.session_ids)
    if query.event_types:
        clauses.append(f"e.event_type IN ({', '.join('?' for _ in query.event_types)})")
        params.extend(query.event_types)
    if query.since is not None:
        clauses.append("e.timestamp >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("e.timestamp <= ?")
        params.append(query.until)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    params.append(query.limit if query.limit is not None else -1)
    sql = (
        "SELECT e.id, e.session_id, s.name, e.event_type, e.timestamp, e.data "
        f"FROM session_events AS e LEFT JOIN sessions AS s ON s.id = e.session_id{where} "
        "ORDER BY e.timestamp DESC, e.id DESC LIMIT ?"
    )
    return sql, params


def event_from_row(row: Sequence[Any]) -> HistoryEvent:
    """A HistoryEvent from a row of :func:`compile_history`'s SQL."""
    return HistoryEvent(
        id=row[0],
        session_id=row[1],
        session_name=row[2],
        event_type=row[3],
        timestamp=row[4],
        data=_metadata(row[5]),
    )


_RESOLVE_SQL = (
    "SELECT id FROM sessions WHERE id = ? UNION SELECT id FROM sessions WHERE name = ? "
    "UNION SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' AND length(?) >= 4"
)


def _resolve_params(ref: str) -> tuple[str, str, str, str]:
    prefix = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (ref, ref, prefix, ref)


def _not_found(ref: str) -> CcmgrError:
    return CcmgrError(
        f"no session has the id or name {ref!r}",
        hint="find it with `ccmgr-watch query WORDS`; ids may be shortened to 4+ characters",
    )


def _database_error(exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "no such table" in text or "no such column" in text:
        return StoreError(f"the database has no search index ({text})", hint=_MISSING_INDEX_HINT)
    return StoreError(f"searching the database failed: {text}")


# --- synchronous: the CLI ------------------------------------------------------------------------


def connect_reader_sync(path: Path) -> sqlite3.Connection:
    """A read-only stdlib connection with the project's pragmas (as store.db's readers have).

    Kept here rather than using ``store.db.connect_sync`` because importing store.db loads anyio
    and aiosqlite, which would double ``ccmgr-watch query``'s start-up time.
    """
    if not path.exists():
        raise StoreError(
            f"no database at {path}",
            hint="run `ccmgr-watch db migrate` or start the watcher to create it",
        )
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path} is not a usable SQLite database ({exc})",
            hint="point --db at another file, or move this one aside",
        ) from exc
    return conn


def statement_sync(
    conn: sqlite3.Connection, compiled: CompiledQuery
) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters to run for ``compiled``: its narrowed plan if the probe says so."""
    narrowed = compiled.narrowed
    if narrowed is None:
        return compiled.sql, compiled.params
    (matches,) = conn.execute(narrowed.matches_sql, narrowed.matches_params).fetchone()
    limit = narrowed.candidate_limit(matches)
    if limit > 0:
        params = (*narrowed.candidates_params, limit)
        (candidates,) = conn.execute(narrowed.candidates_sql, params).fetchone()
        if candidates < limit:
            return narrowed.sql, narrowed.params
    return compiled.sql, compiled.params


def search_sync(conn: sqlite3.Connection, compiled: CompiledQuery) -> list[SearchHit]:
    """Run a compiled search on a stdlib connection."""
    try:
        rows = conn.execute(*statement_sync(conn, compiled)).fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [hit_from_row(row, ranked=compiled.ranked) for row in rows]


def resolve_session_sync(conn: sqlite3.Connection, ref: str) -> tuple[str, ...]:
    """Ids of the sessions ``ref`` names: an id, a name (names are reused), or an id prefix."""
    try:
        rows = conn.execute(_RESOLVE_SQL, _resolve_params(ref)).fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    if not rows:
        raise _not_found(ref)
    return tuple(row[0] for row in rows)


def history_sync(conn: sqlite3.Connection, query: HistoryQuery) -> list[HistoryEvent]:
    """Run a history query on a stdlib connection."""
    sql, params = compile_history(query)
    try:
        rows = conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [event_from_row(row) for row in rows]


def rebuild_index_sync(conn: sqlite3.Connection) -> int:
    """Rebuild the FTS index from ``sessions`` in one write transaction; returns the row count.

    The index stores sessions' implicit rowids, which VACUUM may renumber: this re-reads them.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild')")
            (count,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return int(count)


# --- asynchronous: inside the service ------------------------------------------------------------


async def search(conn: aiosqlite.Connection, compiled: CompiledQuery) -> list[SearchHit]:
    """Run a compiled search on a reader connection (choosing a plan as search_sync does)."""
    try:
        sql, params = compiled.sql, compiled.params
        narrowed = compiled.narrowed
        if narrowed is not None:
            async with conn.execute(narrowed.matches_sql, narrowed.matches_params) as cursor:
                (matches,) = await cursor.fetchone() or (0,)
            limit = narrowed.candidate_limit(matches)
            if limit > 0:
                count_params = (*narrowed.candidates_params, limit)
                async with conn.execute(narrowed.candidates_sql, count_params) as cursor:
                    (candidates,) = await cursor.fetchone() or (limit,)
                if candidates < limit:
                    sql, params = narrowed.sql, narrowed.params
        async with conn.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [hit_from_row(row, ranked=compiled.ranked) for row in rows]


async def resolve_session(conn: aiosqlite.Connection, ref: str) -> tuple[str, ...]:
    """Ids of the sessions ``ref`` names (see :func:`resolve_session_sync`)."""
    try:
        async with conn.execute(_RESOLVE_SQL, _resolve_params(ref)) as cursor:
            rows = await cursor.fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    if not rows:
        raise _not_found(ref)
    return tuple(row[0] for row in rows)


async def history(conn: aiosqlite.Connection, query: HistoryQuery) -> list[HistoryEvent]:
    """Run a history query on a reader connection."""
    sql, params = compile_history(query)
    try:
        async with conn.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
    except sqlite3.Error as exc:
        raise _database_error(exc) from exc
    return [event_from_row(row) for row in rows]
