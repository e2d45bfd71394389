"""The stored records the capture writer writes and reads, as msgspec structs.

Timestamps are the stored text form (see :mod:`store.timefmt`), so structs encode to JSON as
they are and compare in time order.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

SessionStatus = Literal["attached", "detached", "ended"]
SESSION_STATUSES: tuple[SessionStatus, ...] = ("attached", "detached", "ended")

# Lifecycle event types the watcher records (the first of store.columns.EVENT_TYPES); the
# watcher's Lifecycle struct uses this Literal.
LifecycleType = Literal[
    "created",
    "renamed",
    "attached",
    "detached",
    "killed",
    "window_added",
    "window_closed",
    "window_renamed",
    "discovered",
    "vanished",
]


class Session(msgspec.Struct, kw_only=True):
    """A tmux session as stored: one row of ``sessions``."""

    id: str
    name: str
    created_at: str
    updated_at: str
    last_access: str
    project: str | None = None
    worktree: str | None = None
    branch: str | None = None
    directory: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    status: SessionStatus = "detached"
    ended_at: str | None = None
    tmux_server: str | None = None
    tmux_id: str | None = None


class SessionEvent(msgspec.Struct, kw_only=True):
    """One lifecycle event of a session: one row of ``session_events``."""

    session_id: str
    event_type: str
    timestamp: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    id: int | None = None
