"""Statistics of one session from its events (pure): attaches, attached time, lifetime, windows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from store.timefmt import parse_ts
from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Protocol

    class _SessionTimes(Protocol):
        created_at: str
        ended_at: str | None

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


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        return None


def session_statistics(
    session: _SessionTimes, events: Sequence[_Event], *, now: datetime
) -> SessionStatistics:
    """Count a session's events (oldest first) and measure its time with a client attached.

    Attached time is the time at least one client was attached (two clients at once count
    once); an attach that was never followed by a detach lasts until the session ended, or until
    ``now`` if it is alive.
    """
    ended = _ts(session.ended_at)
    end = ended or now
    clients: set[str] = set()
    since: datetime | None = None
    attached = 0.0
    for event in events:
        moment = _ts(event.timestamp)
        client = str(event.data.get("client", ""))
        if event.event_type == "attached" and moment is not None:
            if not clients:
                since = moment
            clients.add(client)
        elif event.event_type == "detached" and moment is not None:
            clients.discard(client)
            if not clients and since is not None:
                attached += max(0.0, (moment - since).total_seconds())
                since = None
        elif event.event_type in ("killed", "vanished") and moment is not None:
            if since is not None:
                attached += max(0.0, (moment - since).total_seconds())
            clients.clear()
            since = None
    if since is not None:
        attached += max(0.0, (end - since).total_seconds())
    created = _ts(session.created_at)
    lifetime = max(0.0, (end - created).total_seconds()) if created else None
    return SessionStatistics(
        events=len(events),
        times_attached=sum(1 for e in events if e.event_type == "attached"),
        attached_seconds=attached,
        lifetime_seconds=lifetime,
        windows_opened=sum(1 for e in events if e.event_type == "window_added"),
        windows_closed=sum(1 for e in events if e.event_type == "window_closed"),
        renames=sum(1 for e in events if e.event_type == "renamed"),
    )
