"""WHEN expressions (``since:``, ``until:``, ``--since``, ``--until``) into time intervals.

Pure: the current time comes in as ``now``. A WHEN names an interval: a date or ``today`` is
that whole local day, an ISO time or ``3 days ago`` is one instant. ``since:`` uses the start and
``until:`` the end, so ``until:2026-11-20`` includes all of that day and ``since:yesterday`` starts
at yesterday's midnight. Dates and times without an offset are in the user's local zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from store.errors import QueryError
from store.values import Value

_UNITS: dict[str, str] = {
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "mo": "months",
    "month": "months",
    "months": "months",
    "y": "years",
    "yr": "years",
    "yrs": "years",
    "year": "years",
    "years": "years",
}
# Patterns, compiled by re (and kept in its cache) the first time a WHEN is parsed: compiling them
# at import would cost every `ccmgr-watch query` ~2% of its start-up, most of them for nothing.
_SHORT = r"^(\d{1,6})\s*(s|m|h|d|w|mo|y)$"
_AGO = r"^(\d{1,6}|an?|one)\s*([a-z]+)\s+ago$"
_DATE = r"^(\d{4})-(\d{2})-(\d{2})$"
# Matched against the lower-cased text: "t" and "z" are ISO's T and Z.
_DATETIME = r"^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(z|[+-]\d{2}:?\d{2})?$"
_HINT = (
    "use an ISO date or time (2026-11-20, 2026-11-20T14:30), today, yesterday, "
    "'3 days ago', or 30m / 12h / 7d / 2w / 3mo / 1y"
)
_MAX_DAYS = 100 * 366
# The times a WHEN may name, in UTC. Python's datetimes stop at years 1 and 9999 (a day, or a
# zone offset, past them overflows), and stored text sorts as time only with four-digit years;
# no session was recorded outside these.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_RANGE = "the years 1000 to 9998 (UTC)"


class Interval(Value):
    """A WHEN as stored timestamp text: ``start`` and ``end`` inclusive (equal for instants)."""

    __match_args__ = ("start", "end")
    __slots__ = __match_args__
    start: str
    end: str

    def __init__(self, start: str, end: str) -> None:
        super().__init__(start, end)


def _error(message: str, text: str, position: int = 0) -> QueryError:
    return QueryError(message, query=text, position=position, hint=_HINT)


def _midnight(day: date, tz: tzinfo | None) -> datetime:
    """Local midnight starting ``day``; None means the system's local zone."""
    naive = datetime.combine(day, time())
    if tz is None:
        return naive.astimezone()  # a naive datetime's astimezone() uses the system's rules
    return naive.replace(tzinfo=tz)


class _OutOfRange(Exception):
    """A WHEN that names a time outside ``EARLIEST``..``LATEST``."""


def _stamp(moment: datetime) -> str:
    try:
        utc = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _OutOfRange from None
    if not EARLIEST <= utc <= LATEST:
        raise _OutOfRange
    # Imported here: store.timefmt compiles patterns at import, which a query without a WHEN
    # (most of them) would pay for nothing.
    from store.timefmt import format_ts

    return format_ts(utc)


def _day(day: date, tz: tzinfo | None) -> Interval:
    try:
        start = _midnight(day, tz)
        end = _midnight(day + timedelta(days=1), tz) - timedelta(microseconds=1)
    except (ValueError, OverflowError):
        raise _OutOfRange from None
    return Interval(start=_stamp(start), end=_stamp(end))


def _instant(moment: datetime) -> Interval:
    stamp = _stamp(moment)
    return Interval(start=stamp, end=stamp)


def _months_back(moment: datetime, months: int) -> datetime:
    """The same local wall time ``months`` calendar months earlier (the day clamped to fit)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    if year < 1:
        raise ValueError("too far back")
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def parse_when(text: str, *, now: datetime, tz: tzinfo | None = None) -> Interval:
    """Parse a WHEN into an Interval; raises QueryError (position in ``text``) when it is not one.

    ``now`` must be timezone-aware. ``tz`` is the user's zone for dates and naive times; None
    means the system's local zone (tests pass a zone, so the function stays pure for them).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        return _parse(text, now, tz)
    except _OutOfRange:
        raise _error(
            f"{text.strip()!r} is out of range: a time must fall within {_RANGE}", text
        ) from None


def _parse(text: str, now: datetime, tz: tzinfo | None) -> Interval:
    zone = tz
    raw = text
    value = " ".join(text.strip().lower().split())
    if not value:
        raise _error("empty time expression", raw)
    local_now = now.astimezone(zone)  # astimezone(None) is the system's local zone
    if value == "now":
        return _instant(now)
    if value == "today":
        return _day(local_now.date(), zone)
    if value == "yesterday":
        return _day(local_now.date() - timedelta(days=1), zone)
    short = re.match(_SHORT, value)
    ago = re.match(_AGO, value)
    if short or ago:
        if short:
            amount, unit = int(short[1]), _UNITS[short[2]]
        else:
            assert ago is not None
            amount = 1 if ago[1] in ("a", "an", "one") else int(ago[1])
            unit_word = ago[2]
            if unit_word not in _UNITS or len(unit_word) == 1:
                raise _error(f"unknown time unit {ago[2]!r}", raw, max(0, raw.lower().find(ago[2])))
            unit = _UNITS[unit_word]
        try:
            if unit in ("months", "years"):
                # Calendar months and years (12 months): the same wall time, the day clamped.
                months = amount * 12 if unit == "years" else amount
                if months > 1200:
                    raise ValueError("too far back")
                return _instant(_months_back(local_now, months))
            delta = timedelta(**{unit: amount})
            if delta > timedelta(days=_MAX_DAYS):
                raise ValueError("too far back")
            return _instant(now - delta)
        except (ValueError, OverflowError):
            raise _error(f"{text.strip()!r} is too far in the past", raw) from None
    if re.match(_DATE, value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise _error(f"{text.strip()!r} is not a valid date", raw) from None
        return _day(day, zone)
    if re.match(_DATETIME, value):
        try:
            moment = datetime.fromisoformat(value.upper().replace(" ", "T"))
        except ValueError:
            raise _error(f"{text.strip()!r} is not a valid date and time", raw) from None
        if moment.tzinfo is None:
            try:
                moment = moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
            except (ValueError, OverflowError):  # the local zone's rules cannot reach year 1
                raise _OutOfRange from None
        return _instant(moment)
    raise _error(f"cannot read {text.strip()!r} as a time", raw)
