"""Stored timestamp text: the fast formatting path gives exactly the strftime form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from store.timefmt import format_ts, now_ts, parse_ts

_OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


def _reference(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.one_of(st.none(), _OFFSETS),
    )
)
def test_format_ts_matches_strftime(moment: datetime) -> None:
    assert format_ts(moment) == _reference(moment)


def test_format_ts_examples() -> None:
    assert format_ts(datetime(2026, 11, 26, 12, 0, tzinfo=UTC)) == "2026-11-26T12:00:00.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert format_ts(datetime(2026, 1, 1, 1, 2, 3, 4, tzinfo=plus_two)) == (
        "2025-12-31T23:02:03.000004Z"
    )
    assert format_ts(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000000Z"  # naive is UTC
    text = now_ts()
    assert format_ts(parse_ts(text)) == text
