"""Go durations: the text Go writes and the text Go accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config.duration import Duration, format_go_duration, parse_go_duration

NS, US, MS, S, M, H = 1, 1000, 10**6, 10**9, 60 * 10**9, 3600 * 10**9


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1100, "1.1µs"),
        (2200 * US, "2.2ms"),
        (100 * MS, "100ms"),
        (2 * S, "2s"),
        (3 * S + 500 * MS, "3.5s"),
        (5 * M, "5m0s"),
        (90 * S, "1m30s"),
        (24 * H, "24h0m0s"),
        (168 * H, "168h0m0s"),
        (H + 30 * M + 1, "1h30m0.000000001s"),
        (-2 * S, "-2s"),
        (-(1 << 63), "-2562047h47m16.854775808s"),
        ((1 << 63) - 1, "2562047h47m16.854775807s"),
    ],
)
def test_format_like_go(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("+5s", 5 * S),
        ("1.5h", 90 * M),
        ("1h30m", 90 * M),
        ("300ms", 300 * MS),
        ("2us", 2 * US),
        ("2μs", 2 * US),
        (".5s", 500 * MS),
        ("1.s", S),
    ],
)
def test_parse_accepts_what_go_accepts(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    "text", ["", "fast", "5", "1d", "s", ".s", "1.2.3s", "-", "5 s", "9999999999h"]
)
def test_parse_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
def test_format_then_parse_is_identity(ns: int) -> None:
    assert parse_go_duration(format_go_duration(ns)) == ns


def test_duration_value_type() -> None:
    assert Duration.parse("2s") == Duration.parse("2000ms")
    assert str(Duration.parse("24h")) == "24h0m0s"
    assert Duration.parse("1s") < Duration.parse("2s")
    assert Duration.parse("1500ms").seconds == 1.5
