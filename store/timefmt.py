"""Timestamps as the database stores them: ISO 8601 UTC with microseconds and a ``Z`` suffix.

That text form sorts in time order, so range queries compare strings and use indexes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_STORED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
# Forms ccmgr-ultra's Go code writes: "2025-06-21 23:03:13.256298-07:00", "2025-06-22 17:03:13",
# RFC 3339 with nanoseconds ("2025-06-21T23:03:13.256298123-07:00") and the zero time.
_LOOSE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """Format an aware datetime as stored text (naive datetimes are taken to be UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year >= 1000:
        # The same text as the strftime below, several times faster (the watcher stamps every
        # event): isoformat of an aware UTC time is "YYYY-MM-DDTHH:MM:SS.ffffff+00:00".
        return moment.isoformat(timespec="microseconds")[:26] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_ts() -> str:
    """The current time as stored text."""
    return format_ts(utcnow())


def parse_ts(text: str) -> datetime:
    """Parse stored text, or any timestamp form ccmgr-ultra writes, into an aware UTC datetime.

    Raises ``ValueError`` for anything else.
    """
    if _STORED.match(text):
        # Not strptime: its first call imports _strptime, calendar and locale, a few ms of
        # every CLI command that shows a time.
        return datetime.fromisoformat(text[:26]).replace(tzinfo=UTC)
    match = _LOOSE.match(text.strip())
    if match is None:
        raise ValueError(f"not a timestamp: {text!r}")
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    moment = datetime.strptime(f"{match['date']} {match['time']}.{frac}", "%Y-%m-%d %H:%M:%S.%f")
    tz = match["tz"]
    if tz is None or tz in ("Z", "z"):
        return moment.replace(tzinfo=UTC)
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
