"""The value sets of the stored records (session status, lifecycle event types).

Timestamps are the stored text form (see :mod:`store.timefmt`): they compare in time order.
"""

from __future__ import annotations

from typing import Literal

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
