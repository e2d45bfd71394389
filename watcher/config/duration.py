"""Go's ``time.Duration`` text form, read and written exactly as Go (and yaml.v3) do.

ccmgr-ultra's YAML holds durations as Go writes them (``2s``, ``24h0m0s``, ``100ms``); a value we
did not change must come back byte for byte, and one we set must look like Go wrote it.
"""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Final

NANOSECOND: Final = 1
MICROSECOND: Final = 1000
MILLISECOND: Final = 1000 * MICROSECOND
SECOND: Final = 1000 * MILLISECOND
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
_MAX: Final = (1 << 63) - 1

_UNITS: Final = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # U+00B5 MICRO SIGN, what Go writes
    "\u03bcs": MICROSECOND,  # U+03BC GREEK SMALL LETTER MU, which Go also accepts
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_COMPONENT = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")


@total_ordering
class Duration:
    """A signed span of time in nanoseconds whose text form is Go's ``time.Duration.String()``."""

    __slots__ = ("_ns",)

    def __init__(self, nanoseconds: int = 0) -> None:
        if not -_MAX - 1 <= nanoseconds <= _MAX:
            raise ValueError("duration out of range")
        self._ns = int(nanoseconds)

    @property
    def nanoseconds(self) -> int:
        """The span in nanoseconds."""
        return self._ns

    @property
    def seconds(self) -> float:
        """The span in seconds, as a float (for sleeps and timeouts)."""
        return self._ns / SECOND

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse Go duration text (``1h30m``, ``1.5s``, ``-2ms``); raises ``ValueError`` like Go."""
        return cls(parse_go_duration(text))

    def __str__(self) -> str:
        return format_go_duration(self._ns)

    def __repr__(self) -> str:
        return f"Duration({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other._ns == self._ns

    def __lt__(self, other: Duration) -> bool:
        return self._ns < other._ns

    def __hash__(self) -> int:
        return hash(("Duration", self._ns))


def parse_go_duration(text: str) -> int:
    """``time.ParseDuration``: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` or ``0``, to nanoseconds."""
    orig = text
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f"invalid duration {orig!r}")
    total = 0
    pos = 0
    while pos < len(text):
        match = _COMPONENT.match(text, pos)
        if match is None:
            raise ValueError(f"invalid duration {orig!r}")
        whole, frac, unit_text = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            raise ValueError(f"invalid duration {orig!r}")
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError(f"unknown unit {unit_text!r} in duration {orig!r}")
        value = int(whole or "0") * unit
        if frac:
            # Go scales the fraction with float64 arithmetic; do the same so values agree.
            value += int(float(int(frac)) * (float(unit) / float(10 ** len(frac))))
        total += value
        if total > _MAX + (1 if negative else 0):
            raise ValueError(f"invalid duration {orig!r}")
        pos = match.end()
    return -total if negative else total


def _frac(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of value/10**precision without trailing zeros, and the rest."""
    scale = 10**precision
    digits = value % scale
    if digits == 0:
        return "", value // scale
    return "." + str(digits).rjust(precision, "0").rstrip("0"), value // scale


def format_go_duration(nanoseconds: int) -> str:
    """``time.Duration.String()``: ``0s``, ``1.5µs``, ``100ms``, ``2s``, ``5m0s``, ``24h0m0s``."""
    negative = nanoseconds < 0
    u = -nanoseconds if negative else nanoseconds
    if u == 0:
        return "0s"
    if u < SECOND:
        if u < MICROSECOND:
            frac, rest, unit = "", u, "ns"
        elif u < MILLISECOND:
            frac, rest = _frac(u, 3)
            unit = "\u00b5s"
        else:
            frac, rest = _frac(u, 6)
            unit = "ms"
        text = f"{rest}{frac}{unit}"
    else:
        frac, rest = _frac(u, 9)
        text = f"{rest % 60}{frac}s"
        rest //= 60
        if rest > 0:
            text = f"{rest % 60}m{text}"
            rest //= 60
            if rest > 0:
                text = f"{rest}h{text}"
    return f"-{text}" if negative else text
