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
    "KnownSession",
    "Lifecycle",
    "LifecycleType",
    "StatusAfter",
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
