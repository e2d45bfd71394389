"""Statistics of one session for ``session show`` (pure): its events counted, its attached time
and lifetime by the definition in docs/stats.md, from the events ``session show`` loads anyway
(on SQLite and PostgreSQL alike). ``ccmgr-watch stats`` computes the same numbers in SQL for
many sessions at once (store.stats); tests/stats/test_definition.py holds both to the same
answers on fixed cases and random event logs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from store.timefmt import parse_ts
from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Protocol

    class _SessionTimes(Protocol):
        @property
        def created_at(self) -> str: ...
        @property
        def last_access(self) -> str: ...
        @property
        def status(self) -> str: ...
        @property
        def ended_at(self) -> str | None: ...

    class _Event(Protocol):
        event_type: str
        timestamp: str
        data: dict[str, Any]
        id: int | None


_ATTACH_EVENTS = ("attached", "detached", "killed", "vanished")


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


def _seconds(text: str | None) -> float | None:
    """A stored timestamp as epoch seconds (None when missing or unreadable)."""
    if not text:
        return None
    try:
        return parse_ts(text).timestamp()
    except ValueError:
        return None


def attached_seconds(session: _SessionTimes, events: Sequence[_Event], *, now: float) -> float:
    """The time at least one client was attached (docs/stats.md), ``now`` in epoch seconds.

    Step by step over the events in (timestamp, id) order; store.stats computes the same in
    SQL for many sessions at once (tests/stats/test_definition.py checks they agree on random
    event logs).
    """
    created = _seconds(session.created_at)
    cap = _cap(session, now)
    if cap is None:
        return 0.0
    timed = []
    for index, event in enumerate(events):
        moment = _seconds(event.timestamp)
        if moment is not None and event.event_type in _ATTACH_EVENTS:
            timed.append((moment, event.id if event.id is not None else index, event))
    timed.sort(key=lambda item: (item[0], item[1]))
    clients: set[Any] = set()
    since = 0.0
    total = 0.0

    def clipped(start: float, end: float) -> float:
        return max(0.0, min(end, cap) - max(start, created if created is not None else start))

    for moment, _, event in timed:
        was_attached = bool(clients)
        client = event.data.get("client")
        if isinstance(client, dict | list):  # as SQLite's ->> gives it: compact JSON text
            client = json.dumps(client, separators=(",", ":"), ensure_ascii=False)
        if event.event_type == "attached":
            clients.add("" if client is None else client)
        elif event.event_type == "detached" and client not in (None, ""):
            clients.discard(client)
        else:  # a detach that names no client, killed, vanished: everyone is gone
            clients.clear()
        if not was_attached and clients:
            since = moment
        elif was_attached and not clients:
            total += clipped(since, moment)
    if clients:
        total += clipped(since, cap)
    return round(total, 6) + 0.0


def _cap(session: _SessionTimes, now: float) -> float | None:
    """Where an attach still open after the last event ends: the session's end; now while it
    is attached; its last recorded change while it is alive but detached."""
    if session.status == "ended":
        ended = _seconds(session.ended_at)
        return ended if ended is not None else _seconds(session.last_access)
    if session.status == "attached":
        return now
    return _seconds(session.last_access)


def lifetime_seconds(session: _SessionTimes, *, now: float) -> float | None:
    """From created_at to ended_at, or to now while alive (None without a readable start)."""
    created = _seconds(session.created_at)
    if created is None:
        return None
    if session.status == "ended":
        end = _seconds(session.ended_at)
        end = end if end is not None else _seconds(session.last_access)
    else:
        end = now
    return None if end is None else round(max(0.0, end - created), 6) + 0.0


def session_statistics(
    session: _SessionTimes, events: Sequence[_Event], *, now: datetime
) -> SessionStatistics:
    """Count a session's events (any order) and measure its attached time and lifetime."""
    moment = now.timestamp()
    return SessionStatistics(
        events=len(events),
        times_attached=sum(1 for e in events if e.event_type == "attached"),
        attached_seconds=attached_seconds(session, events, now=moment),
        lifetime_seconds=lifetime_seconds(session, now=moment),
        windows_opened=sum(1 for e in events if e.event_type == "window_added"),
        windows_closed=sum(1 for e in events if e.event_type == "window_closed"),
        renames=sum(1 for e in events if e.event_type == "renamed"),
    )
