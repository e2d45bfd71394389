"""The SQL of ``ccmgr-watch revive``: the revived session's row and the events that link it to
the session it brings back, in one transaction.

The new row uses the id the watcher derives for the same tmux session (the caller computes it
with the watcher's own function), so a watcher recording the revived session at the same time
folds into this row instead of adding a second one: both write ``INSERT ... ON CONFLICT (id)``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Final

from store.columns import LAYOUT_KEY
from store.errors import StoreError
from store.reads import BUSY_TIMEOUT_MS

# A watcher may have inserted the row already (it saw the session appear): then only what it
# cannot know is filled in (project and friends when git has not answered yet, where the
# session came from, its windows when none are recorded).
_NEW_SESSION: Final = (
    "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
    "updated_at, last_access, metadata, status, tmux_server, tmux_id, host) "
    "VALUES (:id, :name, :project, :worktree, :branch, :directory, :now, :now, :now, "
    ":metadata, 'detached', :server, :tmux_id, :host) "
    "ON CONFLICT (id) DO UPDATE SET "
    "host = COALESCE(sessions.host, excluded.host), "
    "project = COALESCE(sessions.project, excluded.project), "
    "worktree = COALESCE(sessions.worktree, excluded.worktree), "
    "branch = COALESCE(sessions.branch, excluded.branch), "
    "metadata = json_set(json_patch(excluded.metadata, sessions.metadata), "
    "'$.revived_from', :old_id)"
)
# The session that was brought back: ended (the caller checked tmux), if the store still
# believed it alive (no watcher saw it end).
_OLD_ENDED: Final = (
    "UPDATE sessions SET status = 'ended', ended_at = COALESCE(ended_at, :now), updated_at = :now "
    "WHERE id = :id AND status != 'ended'"
)
_EVENT: Final = (
    "INSERT INTO session_events (session_id, event_type, timestamp, data, host) "
    "VALUES (?, 'revived', ?, ?, ?)"
)
# Whether the store knows a server lifetime by this key with sessions still alive: the watcher
# then keeps that key for the lifetime (watcher.capture.server_task, sessions recorded before
# hosts were), and the revived session must be recorded under the same one.
_KEY_IN_USE: Final = (
    "SELECT 1 FROM sessions WHERE tmux_server = ? AND tmux_id IS NOT NULL "
    "AND status != 'ended' LIMIT 1"
)


def server_key_in_use(path: Path, key: str) -> bool:
    """Whether sessions believed alive were recorded under the server key ``key``."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return conn.execute(_KEY_IN_USE, (key,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read {path}: {exc}", hint="check the database with `ccmgr-watch db status`"
        ) from exc


def revival_values(
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
    host: str | None,
) -> tuple[dict[str, Any], str, str]:
    """What a revival writes, on either store: the new session's row parameters (its window
    record and ``revived_from`` in the metadata), and the data of the ``revived`` event on the
    old session (naming the new one) and on the new one (naming the old)."""
    metadata = {
        LAYOUT_KEY: {"recorded_at": timestamp, "windows": windows},
        "revived_from": old_id,
    }
    params = {
        "id": new_id,
        "name": name,
        "project": project,
        "worktree": worktree,
        "branch": branch,
        "directory": directory,
        "now": timestamp,
        "metadata": json.dumps(metadata, ensure_ascii=False),
        "server": server,
        "tmux_id": tmux_id,
        "old_id": old_id,
        "host": host,
    }
    to_old = json.dumps({"to": new_id, "name": name}, ensure_ascii=False)
    to_new = json.dumps({"from": old_id, "windows": len(windows)})
    return params, to_old, to_new


def record_revival(
    path: Path,
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
    """Store the revived session (``new_id``) and a ``revived`` event on both sessions, each
    naming the other; ``windows`` is what was created, kept as the new session's window record
    unless a watcher recorded its own already. ``end_old`` False leaves the old session's status
    alone (recorded on another host: that host's watcher owns it)."""
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

    def work(conn: sqlite3.Connection) -> None:
        conn.execute(_NEW_SESSION, params)
        if end_old:
            conn.execute(_OLD_ENDED, {"id": old_id, "now": timestamp})
        conn.execute(_EVENT, (old_id, timestamp, to_old, host))
        conn.execute(_EVENT, (new_id, timestamp, to_new, host))

    try:
        # The database exists (the session was read from it): no need for store.db's opener,
        # whose aiosqlite and asyncio imports would double the command's start-up.
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            try:
                work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"the session was revived in tmux, but recording it in {path} failed: {exc}",
            hint="a running watcher records it anyway; otherwise check the database with "
            "`ccmgr-watch db status`",
        ) from exc
