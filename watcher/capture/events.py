"""What flows from the tmux side to the store side: lifecycle events, as msgspec structs.

The session tracker (pure) derives these from control-mode notifications and snapshots; the
server task sends them into a bounded memory stream; the one writer task turns each into a
``sessions`` upsert and a ``session_events`` row. This module is the contract between the two
sides.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import msgspec

from store.models import LifecycleType, SessionStatus

__all__ = [
    "CaptureItem",
    "KnownSession",
    "Lifecycle",
    "LifecycleType",
    "PaneShape",
    "SessionLayout",
    "StatusAfter",
    "WindowShape",
    "server_key",
    "session_id",
    "socket_of",
]

StatusAfter = SessionStatus


class Lifecycle(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened to one tmux session.

    ``server`` is the server identity (:func:`server_key`), ``tmux_id`` tmux's session id
    (``$3``); together they identify the session (:func:`session_id`). ``status`` is the
    session's status after the event, as the tracker knows it from its client map (only human
    clients count as attached). ``name`` is the session's name after the event.
    ``data`` is the event's payload: ``{"old_name", "new_name"}`` for renamed, ``{"client"}``
    for attached and detached, ``{"window_id", "window_name"?}`` for window events.
    ``created_at`` (stored timestamp text) and ``directory`` are filled in when tmux told us.
    """

    server: str
    tmux_id: str
    event_type: LifecycleType
    timestamp: str
    name: str
    status: StatusAfter
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: str | None = None
    directory: str | None = None


class PaneShape(msgspec.Struct, frozen=True):
    """One pane of a window: its tmux id (``%5``) and current directory, as last listed."""

    id: str
    path: str


class WindowShape(msgspec.Struct, frozen=True, kw_only=True):
    """What reviving needs of one window: where it sits, its name, its layout and its panes.

    ``layout`` is tmux's ``#{window_layout}`` (``select-layout`` takes it back); ``panes`` are in
    tmux's pane order with each pane's current directory (``#{pane_current_path}``, which has no
    notification: it is as fresh as the last listing of the window). ``automatic_rename`` is the
    window option: tmux names such a window after its running program.
    """

    window_id: str
    index: int
    name: str
    active: bool = False
    automatic_rename: bool = False
    layout: str = ""
    panes: tuple[PaneShape, ...] = ()


class SessionLayout(msgspec.Struct, frozen=True, kw_only=True):
    """The windows of one session as last seen: the writer stores them in its ``metadata``.

    Not an event (nothing is added to ``session_events``): a snapshot that replaces the last
    one, so that an ended session can be revived as it was.
    """

    server: str
    tmux_id: str
    timestamp: str
    windows: tuple[WindowShape, ...]


CaptureItem = Lifecycle | SessionLayout
"""What a server task sends to the writer."""


class KnownSession(msgspec.Struct, frozen=True, kw_only=True):
    """A session the store believes alive on some server (input to reconciliation)."""

    server: str
    tmux_id: str
    name: str
    status: StatusAfter


def server_key(socket_path: str, pid: int, start_time: int, host: str | None = None) -> str:
    """The identity of one tmux server's lifetime: ``<socket path>#<pid>@<start time>@<host>``.

    tmux session ids restart at ``$0`` with every new server, so the socket path alone is not
    enough; pid plus start time (``#{pid}``, ``#{start_time}``) tell two lifetimes apart, and
    the host two machines (a shared store: both may have a server on the same socket path).
    Without a host this is the key of a server lifetime recorded before hosts were (sql/004),
    kept for that lifetime so its sessions keep their ids (:func:`session_id`).
    """
    key = f"{socket_path}#{pid}@{start_time}"
    return key if host is None else f"{key}@{host}"


def socket_of(server: str) -> str:
    """The socket path part of a server key."""
    return server.rsplit("#", 1)[0]


# The writer asks for the same few sessions' ids several times per event.
@lru_cache(maxsize=4096)
def session_id(server: str, tmux_id: str) -> str:
    """The stored session id: stable across watcher restarts, unique across servers."""
    digest = hashlib.sha256(f"{server}\0{tmux_id}".encode()).hexdigest()
    return f"s-{digest[:16]}"
