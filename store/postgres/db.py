"""The capture writer's database on PostgreSQL: :class:`PgDatabase`, the surface of
:class:`store.db.Database` (``open``, ``write_batch``, ``alive_on_socket``, ``close``) over one
async psycopg connection.

The statements are the SQLite writer's (store/repositories.py) in PostgreSQL's spelling; each
batch is one transaction (executemany runs in pipeline mode: one round trip per statement kind,
not per row). A lost server (down, restarting, the network) raises StoreUnavailable: the capture
writer then holds its events, backs off and retries; the next write reconnects. Other failures
(a value the server refuses) raise ValueError: the writer isolates the bad item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread

from store.columns import LAYOUT_KEY, SESSION_COLUMNS
from store.errors import StoreUnavailable
from store.pgurl import redact
from store.postgres.connect import CONNECT_TIMEOUT, import_psycopg
from store.postgres.migrate import migrate
from store.reads import EventRecord, SessionRecord, session_from_row
from store.repositories import EnrichmentRow, LayoutRow, LifecycleRow
from store.timefmt import now_ts

if TYPE_CHECKING:
    from psycopg import AsyncConnection

_COLUMNS: Final = ", ".join(SESSION_COLUMNS)
_UPSERT: Final = (
    b"INSERT INTO sessions (id, name, directory, created_at, updated_at, last_access, metadata, "
    b"status, ended_at, tmux_server, tmux_id, host) "
    b"VALUES (%(id)s, %(name)s, %(directory)s, COALESCE(%(created_at)s::text, %(timestamp)s), "
    b"%(now)s, %(timestamp)s, '{}', %(status)s, %(ended_at)s, %(server)s, %(tmux_id)s, %(host)s) "
    b"ON CONFLICT (id) DO UPDATE SET "
    b"created_at = COALESCE(%(created_at)s::text, sessions.created_at), "
    b"updated_at = excluded.updated_at, "
    b"last_access = GREATEST(sessions.last_access, excluded.last_access), "
    b"status = excluded.status, "
    b"ended_at = CASE WHEN excluded.status = 'ended' "
    b"THEN COALESCE(sessions.ended_at, excluded.ended_at) ELSE NULL END, "
    b"host = COALESCE(sessions.host, excluded.host)"
)
# As in SQLite: name and directory only when they change (the search column is regenerated on
# every update of its columns).
_RENAME: Final = (
    b"UPDATE sessions SET name = %(name)s, directory = COALESCE(%(directory)s::text, directory) "
    b"WHERE id = %(id)s AND (name IS DISTINCT FROM %(name)s "
    b"OR (%(directory)s::text IS NOT NULL AND directory IS DISTINCT FROM %(directory)s::text))"
)
_EVENT: Final = (
    b"INSERT INTO session_events (session_id, event_type, timestamp, data, host) "
    b"VALUES (%s, %s, %s, %s::json, %s)"
)
_ENRICH: Final = (
    b"UPDATE sessions SET project = %(project)s, worktree = %(worktree)s, branch = %(branch)s, "
    b"updated_at = %(now)s, "
    b"metadata = jsonb_set(metadata, '{enriched_from}', to_jsonb(%(source)s::text)) "
    b"WHERE id = %(id)s AND NOT (%(source)s::text = 'name' "
    b"AND metadata->>'enriched_from' IS NOT DISTINCT FROM 'git')"
)

# A session's windows as last seen (what `revive` recreates): one metadata key, replaced whole,
# as store.repositories does on SQLite.
_LAYOUT: Final = (
    f"UPDATE sessions SET metadata = jsonb_set(metadata, '{{{LAYOUT_KEY}}}', %s::jsonb) "
    "WHERE id = %s"
).encode()


def _struct_params(rows: Sequence[Any], now: str) -> list[dict[str, Any]]:
    import msgspec

    return [msgspec.structs.asdict(row) | {"now": now} for row in rows]


class PgDatabase:
    """The capture writer's PostgreSQL database: one connection, written only by
    :meth:`write_batch`; reconnects by itself after the server was lost."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = redact(url)  # what messages and the status file show
        self._conn: AsyncConnection[Any] | None = None
        self.abandoned = False  # never: there is no file to leave open

    @classmethod
    async def open(cls, url: str, *, migrate_first: bool = True) -> PgDatabase:
        """Connect to ``url`` (migrating its schema first: several watchers may do it at once)."""
        if migrate_first:
            await anyio.to_thread.run_sync(migrate, url)
        db = cls(url)
        await db._connection()
        return db

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        pg = import_psycopg()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        try:
            self._conn = await pg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="ccmgr-watch run",
            )
        except pg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {self.path}: {_first_line(exc)}") from None
        return self._conn

    def file_changed(self) -> str | None:
        """Never: a server has no file to be deleted or replaced under the watcher."""
        return None

    async def reopen(self) -> None:
        """Connect again."""
        await self.close()
        await self._connection()

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def write_batch(
        self,
        lifecycle: Sequence[LifecycleRow],
        events: Sequence[EventRecord],
        enrichments: Sequence[EnrichmentRow],
        layouts: Sequence[LayoutRow] = (),
    ) -> None:
        """One capture batch in one transaction: all of it is stored, or none."""
        now = now_ts()
        await self._run(self._write, (lifecycle, events, enrichments, layouts, now))

    async def _write(self, conn: AsyncConnection[Any], batch: tuple[Any, ...]) -> None:
        lifecycle, events, enrichments, layouts, now = batch
        async with conn.transaction(), conn.cursor() as cur:
            if lifecycle:
                params = _struct_params(lifecycle, now)
                await cur.executemany(_UPSERT, params)
                await cur.executemany(_RENAME, params)
            if events:
                await cur.executemany(
                    _EVENT,
                    [
                        (e.session_id, e.event_type, e.timestamp, json.dumps(e.data), e.host)
                        for e in events
                    ],
                )
            if enrichments:
                await cur.executemany(_ENRICH, _struct_params(enrichments, now))
            if layouts:
                import msgspec

                last = {row.id: row for row in layouts}  # the batch's last record of a session
                encode = msgspec.json.Encoder().encode
                await cur.executemany(
                    _LAYOUT,
                    [
                        (encode({"recorded_at": r.recorded_at, "windows": r.windows}).decode(), i)
                        for i, r in last.items()
                    ],
                )

    async def alive_on_socket(
        self, socket_path: str, host: str | None = None
    ) -> list[SessionRecord]:
        """Sessions believed alive on any server lifetime of this socket on ``host`` (None: any
        host); see store.repositories.sessions_alive_on_socket."""
        return await self._run(self._alive, (socket_path, host))  # type: ignore[no-any-return]

    async def _alive(self, conn: AsyncConnection[Any], where: tuple[str, str | None]) -> Any:
        socket_path, host = where
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM sessions WHERE tmux_server >= %s AND tmux_server < %s "
            "AND tmux_id IS NOT NULL AND status != 'ended' "
            "AND (%s::text IS NULL OR host IS NULL OR host = %s) "
            "ORDER BY tmux_server, tmux_id".encode(),
            (socket_path + "#", socket_path + "$", host, host),
        )
        sessions = [session_from_row(row) for row in await cur.fetchall()]
        return [s for s in sessions if (s.tmux_server or "").rsplit("#", 1)[0] == socket_path]

    async def _run(self, work: Any, argument: Any) -> Any:
        """``work(conn, argument)``; a lost server becomes StoreUnavailable, anything else the
        server refuses a ValueError (the batch, not the database, is at fault)."""
        pg = import_psycopg()
        conn = await self._connection()
        try:
            return await work(conn, argument)
        except (pg.OperationalError, pg.errors.UndefinedTable, pg.errors.UndefinedColumn) as exc:
            # The connection or the server is gone (or the schema was dropped under us).
            raise StoreUnavailable(f"{self.path}: {_first_line(exc)}") from None
        except pg.Error as exc:
            if conn.broken or conn.closed:
                raise StoreUnavailable(f"{self.path}: {_first_line(exc)}") from None
            raise ValueError(_first_line(exc)) from None


def _first_line(exc: BaseException) -> str:
    from store.postgres.connect import redact_words

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact_words(lines[0]) if lines else type(exc).__name__
