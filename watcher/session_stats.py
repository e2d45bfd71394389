"""Statistics of one session for ``session show``: its events counted (pure), with the attached
time and lifetime that :mod:`store.stats` defines for it."""

from __future__ import annotations

from collections.abc import Sequence

from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Protocol

    class _Event(Protocol):
        event_type: str
        timestamp: str
        data: dict[str, Any]


class SessionStatistics(Value):
    """What ``session show`` reports about a session's life.

    A plain value, not a msgspec struct: ``session show`` must start fast (see store.values).
    """

    __match_args__ = (
        "events",
        "times_attached",
        "attached_seconds",
        "lifetime_seconds",
        "windows_opened",
        "windows_closed",
        "renames",
    )
    __slots__ = __match_args__
    events: int
    times_attached: int
    attached_seconds: float
    lifetime_seconds: float | None
    windows_opened: int
    windows_closed: int
    renames: int

    def __init__(
        self,
        *,
        events: int,
        times_attached: int,
        attached_seconds: float,
        lifetime_seconds: float | None,
        windows_opened: int,
        windows_closed: int,
        renames: int,
    ) -> None:
        super().__init__(
            events,
            times_attached,
            attached_seconds,
            lifetime_seconds,
            windows_opened,
            windows_closed,
            renames,
        )


def session_statistics(
    events: Sequence[_Event], *, attached_seconds: float, lifetime_seconds: float | None
) -> SessionStatistics:
    """Count a session's events; its attached time and lifetime come from
    :func:`store.stats.session_times`, the one definition ``ccmgr-watch stats`` uses too."""
    return SessionStatistics(
        events=len(events),
        times_attached=sum(1 for e in events if e.event_type == "attached"),
        attached_seconds=attached_seconds,
        lifetime_seconds=lifetime_seconds,
        windows_opened=sum(1 for e in events if e.event_type == "window_added"),
        windows_closed=sum(1 for e in events if e.event_type == "window_closed"),
        renames=sum(1 for e in events if e.event_type == "renamed"),
    )
