"""Every read of the SQLite store: the one read-only opener, its error mapping, and the reads.

``session list|show|history``, ``query`` (:mod:`store.search`) and ``db status`` open their
connection here (:func:`open_reader`) and turn SQLite's errors into one message each
(:func:`read_error`). They run one or two indexed queries and exit, so they skip anyio,
aiosqlite and msgspec, whose imports cost more than the work.

Records are :class:`store.values.Value` objects, declared once here: the sessions and events of
every command's JSON, and what the capture writer hands the store.
"""

from __future__ import annotations

import json
import sqlite3

from store.columns import SESSION_COLUMNS, like_escape
from store.errors import CcmgrError, StoreError, UsageError
from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn, Protocol

    from store.models import SessionStatus

    class Reader(Protocol):
        """What the reads need of a connection: a stdlib SQLite connection, or
        :class:`store.postgres.reads.PgReader` (the same statements on PostgreSQL)."""

        def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

        def close(self) -> None: ...


BUSY_TIMEOUT_MS = 5000
"""How long every connection (reads and the writer) waits for a lock before failing."""
ID_PREFIX = "s-"
"""What every id the watcher gives a session starts with (``s-`` and 16 hex digits)."""
MIN_PREFIX = 4
"""Characters of an id (not counting its ``s-``) a shortened id needs."""
PREFIX_RULE = (
    f"an id may be shortened to a unique prefix of {MIN_PREFIX}+ characters, "
    f"with or without its '{ID_PREFIX}'"
)
_CANDIDATES_SHOWN = 5


class SessionRecord(Value):
    """One row of ``sessions``: the session record, declared once (the capture writer's
    ``alive_on_socket`` returns it too)."""

    __match_args__ = (
        "id",
        "name",
        "created_at",
        "updated_at",
        "last_access",
        "project",
        "worktree",
        "branch",
        "directory",
        "metadata",
        "status",
        "ended_at",
        "tmux_server",
        "tmux_id",
        "host",
    )
    __slots__ = __match_args__
    id: str
    name: str
    created_at: str
    updated_at: str
    last_access: str
    project: str | None
    worktree: str | None
    branch: str | None
    directory: str | None
    metadata: dict[str, Any]
    status: SessionStatus
    ended_at: str | None
    tmux_server: str | None
    tmux_id: str | None
    host: str | None

    def __init__(
        self,
        *,
        id: str,
        name: str,
        created_at: str,
        updated_at: str,
        last_access: str,
        project: str | None = None,
        worktree: str | None = None,
        branch: str | None = None,
        directory: str | None = None,
        metadata: dict[str, Any] | None = None,
        status: SessionStatus = "detached",
        ended_at: str | None = None,
        tmux_server: str | None = None,
        tmux_id: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(
            id,
            name,
            created_at,
            updated_at,
            last_access,
            project,
            worktree,
            branch,
            directory,
            {} if metadata is None else metadata,
            status,
            ended_at,
            tmux_server,
            tmux_id,
            host,
        )


class EventRecord(Value):
    """One row of ``session_events``: the event record, declared once (the capture writer hands
    them to ``write_batch``)."""

    __match_args__ = ("session_id", "event_type", "timestamp", "data", "id", "host")
    __slots__ = __match_args__
    session_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any]
    id: int | None
    host: str | None

    def __init__(
        self,
        *,
        session_id: str,
        event_type: str,
        timestamp: str,
        data: dict[str, Any] | None = None,
        id: int | None = None,
        host: str | None = None,
    ) -> None:
        data = {} if data is None else data
        super().__init__(session_id, event_type, timestamp, data, id, host)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def json_object(text: Any) -> dict[str, Any]:
    """A stored JSON object; anything else (not JSON, not an object) reads as empty.

    PostgreSQL's jsonb arrives decoded (a dict) and is taken as it is.
    """
    if isinstance(text, dict):
        return text
    if not text:
        return {}
    try:
        # NaN and Infinity are not JSON; refusing them keeps --json output valid.
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {}
    return value if isinstance(value, dict) else {}


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    """A SessionRecord from a row selected with SESSION_COLUMNS in that order."""
    values = dict(zip(SESSION_COLUMNS, row, strict=True))
    values["metadata"] = json_object(values["metadata"])
    return SessionRecord(**values)


_SELECT = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions"


def open_store(location: str) -> Reader:
    """The CLI's read connection to ``location``: a SQLite file (:func:`open_reader`) or a
    ``postgresql://`` URL (the same reads on PostgreSQL; psycopg imported only then)."""
    from store.pgurl import is_postgres_url

    if is_postgres_url(location):
        from store.postgres.reads import PgReader

        return PgReader.open(location)
    return open_reader(location)


MMAP_BYTES = 2_147_418_112
"""How much of the database file a reader maps: SQLite's own ceiling (SQLITE_MAX_MMAP_SIZE)."""


def open_reader(path: str) -> sqlite3.Connection:
    """A read-only stdlib connection to an existing database, with the project's pragmas."""
    import os

    if not os.path.exists(path):
        raise StoreError(
            f"no database at {path}",
            hint="run `ccmgr-watch db migrate` or start the watcher to create it",
        )
    if os.path.isdir(path):
        raise StoreError(
            f"{path} is a folder, not a database file",
            hint=f"give the database file itself, e.g. --db {os.path.join(path, 'data.db')}",
        )
    try:
        # Not mode=ro: a read-only open cannot create the WAL index (-shm) when no writer runs.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        # Pages read through a memory map, not copied into a 2 MB page cache per process
        # (each CLI process starts cold): searches that read rows by rowid across the table
        # (a filter's sessions, a time window's) take up to a third less at 1 M sessions
        # (docs/search.md, eighth round). Only this read-only connection maps the file;
        # SQLite remaps when another connection grows or shrinks it (tested).
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    except sqlite3.Error as exc:
        conn.close()
        raise read_error(path, exc) from exc
    return conn


def read_error(path: object, exc: sqlite3.Error) -> StoreError:
    """What a failed read of the database at ``path`` means, with a hint that helps."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return StoreError(
            f"{path} is not a usable ccmgr-watch database ({text})",
            hint="point --db (or CCMGR_WATCH_DB) at the database the watcher writes",
        )
    if "no such table" in text or "no such column" in text:
        return StoreError(
            f"{path} has no ccmgr-watch schema, or an old one ({text})",
            hint="run `ccmgr-watch db migrate --db PATH` to create or upgrade it",
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the database {path} stayed locked for {BUSY_TIMEOUT_MS // 1000}s ({text})",
            hint="another program holds a long write transaction on it; try again",
        )
    if "readonly" in text or "unable to open" in text:
        return StoreError(
            f"cannot read the database {path} ({text})",
            hint="a database in WAL mode needs its folder writable for the -shm file, or a "
            "running watcher; check the permissions of the file and its folder",
        )
    return StoreError(
        f"reading the database {path} failed ({text})",
        hint="check the file with `sqlite3 PATH 'PRAGMA integrity_check'`",
    )


def list_sessions(
    conn: Reader,
    *,
    statuses: Sequence[str] = (),
    project: str | None = None,
    limit: int | None = None,
) -> list[SessionRecord]:
    """Sessions with any of ``statuses`` (all when empty) of ``project``, most recent first."""
    clauses: list[str] = []
    params: list[Any] = []
    if statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    if project is not None:
        clauses.append("project = ?")
        params.append(project)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    sql = f"{_SELECT}{where} ORDER BY last_access DESC, rowid DESC{_limit(limit, params)}"
    return [session_from_row(row) for row in conn.execute(sql, params)]


def _limit(limit: int | None, params: list[Any]) -> str:
    """`` LIMIT ?`` with its parameter, or nothing for no limit (PostgreSQL has no LIMIT -1)."""
    if limit is None:
        return ""
    params.append(limit)
    return " LIMIT ?"


def has_sessions(conn: Reader) -> bool:
    """Whether any session is recorded at all."""
    return conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchone() is not None


def _prefix_patterns(ref: str) -> list[str]:
    """LIKE patterns for ``ref`` as an id prefix ([] when too short); the ``s-`` is optional."""
    core = ref[len(ID_PREFIX) :] if ref.startswith(ID_PREFIX) else ref
    if len(core) < MIN_PREFIX:
        return []
    # Escape LIKE's wildcards: the prefix is user input.
    escaped = like_escape(ref) + "%"
    return [escaped] if ref.startswith(ID_PREFIX) else [escaped, ID_PREFIX + escaped]


def _by_prefix(conn: Reader, ref: str) -> list[SessionRecord]:
    patterns = _prefix_patterns(ref)
    if not patterns:
        return []
    where = " OR ".join("id LIKE ? ESCAPE '\\'" for _ in patterns)
    sql = f"{_SELECT} WHERE {where} ORDER BY last_access DESC LIMIT {_CANDIDATES_SHOWN + 1}"
    return [session_from_row(row) for row in conn.execute(sql, patterns)]


def _ambiguous(ref: str, found: list[SessionRecord]) -> UsageError:
    shown = ", ".join(f"{s.id} ({s.name})" for s in found[:_CANDIDATES_SHOWN])
    more = ", ..." if len(found) > _CANDIDATES_SHOWN else ""
    return UsageError(
        f"{ref!r} is the start of several session ids: {shown}{more}",
        hint="give more characters of the id",
    )


def not_found(ref: str) -> CcmgrError:
    """The error for a session reference that names nothing."""
    return CcmgrError(
        f"no session has the id or name {ref!r}",
        hint=f"`ccmgr-watch session list` or `ccmgr-watch query WORDS` finds it; {PREFIX_RULE}",
    )


def find_session(conn: Reader, ref: str) -> SessionRecord:
    """The session ``ref`` names: its id, else its name (the most recently used session of that
    name: names are reused), else a unique id prefix. Raises when none or several match."""
    row = conn.execute(f"{_SELECT} WHERE id = ?", (ref,)).fetchone()
    if row is None:
        row = conn.execute(
            f"{_SELECT} WHERE name = ? ORDER BY last_access DESC, rowid DESC LIMIT 1", (ref,)
        ).fetchone()
    if row is not None:
        return session_from_row(row)
    found = _by_prefix(conn, ref)
    if len(found) > 1:
        raise _ambiguous(ref, found)
    if not found:
        raise not_found(ref)
    return found[0]


def resolve_sessions(conn: Reader, ref: str) -> tuple[str, ...]:
    """Ids of every session ``ref`` names: its id, every session of that name, or a unique id
    prefix (an ambiguous prefix raises, as for :func:`find_session`)."""
    rows = conn.execute("SELECT id FROM sessions WHERE id = ? OR name = ?", (ref, ref)).fetchall()
    if rows:
        return tuple(row[0] for row in rows)
    found = _by_prefix(conn, ref)
    if len(found) > 1:
        raise _ambiguous(ref, found)
    if not found:
        raise not_found(ref)
    return (found[0].id,)


def events_of(conn: Reader, session_id: str) -> list[EventRecord]:
    """A session's events, oldest first."""
    rows = conn.execute(
        "SELECT session_id, event_type, timestamp, data, id, host FROM session_events "
        "WHERE session_id = ? ORDER BY timestamp, id",
        (session_id,),
    )
    return [
        EventRecord(
            session_id=r[0],
            event_type=r[1],
            timestamp=r[2],
            data=json_object(r[3]),
            id=r[4],
            host=r[5],
        )
        for r in rows
    ]


class HistoryRecord(Value):
    """One lifecycle event with its session's current name, as ``session history`` lists it."""

    __match_args__ = ("id", "session_id", "session_name", "event_type", "timestamp", "data")
    __slots__ = __match_args__
    id: int
    session_id: str
    session_name: str | None
    event_type: str
    timestamp: str
    data: dict[str, Any]


def list_events(
    conn: Reader,
    *,
    since: str | None = None,
    until: str | None = None,
    session_ids: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[HistoryRecord]:
    """Events newest first; bounds are stored timestamp text (inclusive), None means any."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("e.session_id", session_ids), ("e.event_type", event_types)):
        if values is not None:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if since is not None:
        clauses.append("e.timestamp >= ?")
        params.append(since)
    if until is not None:
        clauses.append("e.timestamp <= ?")
        params.append(until)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = conn.execute(
        "SELECT e.id, e.session_id, s.name, e.event_type, e.timestamp, e.data "
        f"FROM session_events AS e LEFT JOIN sessions AS s ON s.id = e.session_id{where} "
        f"ORDER BY e.timestamp DESC, e.id DESC{_limit(limit, params)}",
        params,
    )
    return [HistoryRecord(r[0], r[1], r[2], r[3], r[4], json_object(r[5])) for r in rows]


def event_type_recorded(conn: Reader, event_type: str) -> bool:
    """Whether any event of this type is in the database (other tools may add their own)."""
    found = conn.execute(
        "SELECT 1 FROM session_events WHERE event_type = ? LIMIT 1", (event_type,)
    ).fetchone()
    return found is not None
