"""Table tests of every WHEN form."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from store.errors import QueryError
from store.query.when import Interval, parse_when

NOW = datetime(2026, 11, 26, 15, 45, 30, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1 in November


def instant(stamp: str) -> Interval:
    return Interval(start=stamp, end=stamp)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", instant("2026-11-26T15:45:30.000000Z")),
        ("today", Interval("2026-11-26T00:00:00.000000Z", "2026-11-26T23:59:59.999999Z")),
        ("Today", Interval("2026-11-26T00:00:00.000000Z", "2026-11-26T23:59:59.999999Z")),
        ("yesterday", Interval("2026-11-25T00:00:00.000000Z", "2026-11-25T23:59:59.999999Z")),
        ("2026-11-20", Interval("2026-11-20T00:00:00.000000Z", "2026-11-20T23:59:59.999999Z")),
        ("2026-11-20T14:30", instant("2026-11-20T14:30:00.000000Z")),
        ("2026-11-20 14:30", instant("2026-11-20T14:30:00.000000Z")),
        ("2026-11-20t14:30:15", instant("2026-11-20T14:30:15.000000Z")),
        ("2026-11-20T14:30:15.25", instant("2026-11-20T14:30:15.250000Z")),
        ("2026-11-20T14:30:00Z", instant("2026-11-20T14:30:00.000000Z")),
        ("2026-11-20T14:30:00+02:00", instant("2026-11-20T12:30:00.000000Z")),
        ("2026-11-20T14:30-0500", instant("2026-11-20T19:30:00.000000Z")),
        ("30m", instant("2026-11-26T15:15:30.000000Z")),
        ("12h", instant("2026-11-26T03:45:30.000000Z")),
        ("7d", instant("2026-11-19T15:45:30.000000Z")),
        ("2w", instant("2026-11-12T15:45:30.000000Z")),
        ("45s", instant("2026-11-26T15:44:45.000000Z")),
        ("1 minute ago", instant("2026-11-26T15:44:30.000000Z")),
        ("5 minutes ago", instant("2026-11-26T15:40:30.000000Z")),
        ("10 mins ago", instant("2026-11-26T15:35:30.000000Z")),
        ("1 hour ago", instant("2026-11-26T14:45:30.000000Z")),
        ("3 hours ago", instant("2026-11-26T12:45:30.000000Z")),
        ("an hour ago", instant("2026-11-26T14:45:30.000000Z")),
        ("1 day ago", instant("2026-11-25T15:45:30.000000Z")),
        ("3 days ago", instant("2026-11-23T15:45:30.000000Z")),
        ("  3   DAYS   Ago ", instant("2026-11-23T15:45:30.000000Z")),
        ("1 week ago", instant("2026-11-19T15:45:30.000000Z")),
        ("a week ago", instant("2026-11-19T15:45:30.000000Z")),
        ("2 weeks ago", instant("2026-11-12T15:45:30.000000Z")),
        ("1 month ago", instant("2026-10-26T15:45:30.000000Z")),
        ("9 months ago", instant("2026-02-26T15:45:30.000000Z")),
        ("12 months ago", instant("2025-11-26T15:45:30.000000Z")),
        ("3mo", instant("2026-08-26T15:45:30.000000Z")),
        ("3 mo ago", instant("2026-08-26T15:45:30.000000Z")),
        ("1y", instant("2025-11-26T15:45:30.000000Z")),
        ("a year ago", instant("2025-11-26T15:45:30.000000Z")),
        ("2 years ago", instant("2024-11-26T15:45:30.000000Z")),
        ("2 yrs ago", instant("2024-11-26T15:45:30.000000Z")),
    ],
)
def test_when_forms_in_utc(text: str, expected: Interval) -> None:
    assert parse_when(text, now=NOW, tz=UTC_ZONE) == expected


def test_dates_and_naive_times_are_local() -> None:
    assert parse_when("2026-11-20", now=NOW, tz=BERLIN) == Interval(
        "2026-11-19T23:00:00.000000Z", "2026-11-20T22:59:59.999999Z"
    )
    assert parse_when("2026-11-20T14:30", now=NOW, tz=BERLIN) == instant(
        "2026-11-20T13:30:00.000000Z"
    )
    # 23:30 UTC is already the 27th in Berlin.
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert parse_when("today", now=late, tz=BERLIN).start == "2026-11-26T23:00:00.000000Z"
    # Relative times do not depend on the zone.
    assert parse_when("3h", now=NOW, tz=BERLIN) == parse_when("3h", now=NOW, tz=UTC_ZONE)


def test_a_day_across_a_dst_change_is_23_hours_long() -> None:
    day = parse_when("2026-03-29", now=NOW, tz=BERLIN)
    assert day == Interval("2026-03-28T23:00:00.000000Z", "2026-03-29T21:59:59.999999Z")


def test_month_arithmetic_clamps_the_day() -> None:
    end_of_march = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert parse_when("1 month ago", now=end_of_march, tz=UTC_ZONE) == instant(
        "2026-02-28T12:00:00.000000Z"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "yesterdy",
        "3 dayz ago",
        "3 days",
        "3 m ago",
        "-3d",
        "3 y ago",
        "3yr",
        "3 mon ago",
        "2026-13-01",
        "2026-02-30",
        "2026-11-20T25:00",
        "20261120",
        "999999 months ago",
        "999999w",
        "next week",
    ],
)
def test_bad_when_raises_query_error_with_hint(text: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_when(text, now=NOW, tz=UTC_ZONE)
    assert info.value.hint
    assert 0 <= info.value.position <= len(text)


def test_a_year_back_from_a_leap_day_clamps_the_day() -> None:
    leap_day = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert parse_when("1y", now=leap_day, tz=UTC_ZONE) == instant("2027-02-28T12:00:00.000000Z")


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        parse_when("today", now=datetime(2026, 1, 1))


KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
ADAK = ZoneInfo("America/Adak")  # UTC-10 in November


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31",
        "0001-01-01",
        "9999-12-31T23:59-01:00",
        "0001-01-01T00:00+01:00",
        "0001-01-01T00:00",  # naive: the system zone's astimezone() raised (found by hypothesis)
        "9999-12-31T23:59",
        "9999-12-31T23:59:59.999999Z",
        "0999-12-31",
        "9999-01-01",
    ],
)
@pytest.mark.parametrize("zone", [UTC_ZONE, KIRITIMATI, ADAK, None])
def test_times_out_of_range_are_query_errors(text: str, zone: ZoneInfo | None) -> None:
    """Issue 9 §4: these ended in OverflowError/ValueError (exit 70)."""
    with pytest.raises(QueryError, match="out of range: a time must fall within the years"):
        parse_when(text, now=NOW, tz=zone)


@pytest.mark.parametrize(
    "text", ["100000d", "999999 days ago", "1201 months ago", "101y", "101 years ago"]
)
def test_too_far_back_is_a_query_error(text: str) -> None:
    with pytest.raises(QueryError):
        parse_when(text, now=NOW, tz=UTC_ZONE)


def test_the_edges_of_the_range_are_accepted() -> None:
    first = parse_when("1000-01-01", now=NOW, tz=UTC_ZONE)
    last = parse_when("9998-12-31", now=NOW, tz=UTC_ZONE)
    assert first.start == "1000-01-01T00:00:00.000000Z"
    assert last.end == "9998-12-31T23:59:59.999999Z"
