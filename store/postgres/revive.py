"""The SQL of ``ccmgr-watch revive`` on PostgreSQL: :mod:`store.revive_sql`'s statements in
PostgreSQL's spelling, with the same effect and the same single transaction.

The new row takes the id the watcher derives for the same tmux session, so a watcher recording
the revived session into the same database folds into this row (both write ``INSERT ... ON
CONFLICT (id)``). A session recorded on another host is never ended here: that host's watcher
owns its status (reconciliation reads only its own host's sessions), so reviving a copy of it
leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from store.errors import StoreError
from store.pgurl import redact
from store.postgres.connect import connect_sync, import_psycopg, query_error
from store.revive_sql import revival_values

if TYPE_CHECKING:
    from store.postgres.reads import PgReader

# As on SQLite: a watcher that inserted the row first keeps what it recorded; revive fills in
# what it cannot know. `||` keeps the right side's keys: the watcher's window record wins over
# the one revive made (json_patch(excluded, stored) on SQLite), and revived_from is set last.
_NEW_SESSION: Final = (
    b"INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
    b"updated_at, last_access, metadata, status, tmux_server, tmux_id, host) "
    b"VALUES (%(id)s, %(name)s, %(project)s, %(worktree)s, %(branch)s, %(directory)s, %(now)s, "
    b"%(now)s, %(now)s, %(metadata)s::jsonb, 'detached', %(server)s, %(tmux_id)s, %(host)s) "
    b"ON CONFLICT (id) DO UPDATE SET "
    b"host = COALESCE(sessions.host, excluded.host), "
    b"project = COALESCE(sessions.project, excluded.project), "
    b"worktree = COALESCE(sessions.worktree, excluded.worktree), "
    b"branch = COALESCE(sessions.branch, excluded.branch), "
    b"metadata = excluded.metadata || sessions.metadata "
    b"|| jsonb_build_object('revived_from', %(old_id)s::text)"
)
_OLD_ENDED: Final = (
    b"UPDATE sessions SET status = 'ended', ended_at = COALESCE(ended_at, %(now)s), "
    b"updated_at = %(now)s WHERE id = %(id)s AND status != 'ended'"
)
_EVENT: Final = (
    b"INSERT INTO session_events (session_id, event_type, timestamp, data, host) "
    b"VALUES (%s, 'revived', %s, %s::json, %s)"
)
_KEY_IN_USE: Final = (
    b"SELECT 1 FROM sessions WHERE tmux_server = %s AND tmux_id IS NOT NULL "
    b"AND status != 'ended' LIMIT 1"
)


class PgRevival:
    """What revive does on PostgreSQL, over one connection for the whole command (a shared
    server is often remote, behind TLS: each connection costs round trips). Reads run as
    :class:`store.postgres.reads.PgReader`'s; the one write is one transaction."""

    def __init__(self, url: str) -> None:
        from store.postgres.reads import PgReader

        self.url = url
        self.conn = connect_sync(url)
        self.conn.prepare_threshold = None  # as PgReader: a one-off command prepares nothing
        self._reader = PgReader(url, self.conn)
        self._error = import_psycopg().Error

    @contextmanager
    def reading(self) -> Iterator[PgReader]:
        """The connection as store.reads' reader (it stays open: :meth:`close` closes it)."""
        yield self._reader

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def server_key_in_use(self, key: str) -> bool:
        """Whether sessions believed alive were recorded under the server key ``key``."""
        try:
            return self.conn.execute(_KEY_IN_USE, (key,)).fetchone() is not None
        except self._error as exc:
            raise query_error(self.url, exc) from None

    def record_revival(
        self,
        *,
        old_id: str,
        new_id: str,
        name: str,
        server: str,
        tmux_id: str,
        directory: str | None,
        project: str | None,
        worktree: str | None,
        branch: str | None,
        windows: list[dict[str, Any]],
        timestamp: str,
        host: str | None = None,
        end_old: bool = True,
    ) -> None:
        """Store the revived session and a ``revived`` event on both sessions, as
        :func:`store.revive_sql.record_revival` does; ``end_old`` False leaves the old
        session's status alone (it was recorded on another host)."""
        params, to_old, to_new = revival_values(
            old_id=old_id,
            new_id=new_id,
            name=name,
            server=server,
            tmux_id=tmux_id,
            directory=directory,
            project=project,
            worktree=worktree,
            branch=branch,
            windows=windows,
            timestamp=timestamp,
            host=host,
        )
        conn = self.conn
        try:
            with conn.transaction():
                conn.execute(_NEW_SESSION, params)
                if end_old:
                    conn.execute(_OLD_ENDED, {"id": old_id, "now": timestamp})
                conn.execute(_EVENT, (old_id, timestamp, to_old, host))
                conn.execute(_EVENT, (new_id, timestamp, to_new, host))
        except self._error as exc:
            raise _not_recorded(self.url, query_error(self.url, exc).message) from None


def _not_recorded(url: str, why: str) -> StoreError:
    return StoreError(
        f"the session was revived in tmux, but recording it in {redact(url)} failed: {why}",
        hint="a running watcher records it anyway; otherwise check the database with "
        "`ccmgr-watch db status`",
    )
