"""Argument types shared by the commands (argparse reports their errors with the option's name)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Final

MAX_COUNT: Final = 1_000_000_000_000
"""The largest count or offset accepted (``--limit``, ``--offset``, ``--batch-size``...).

SQLite's integers stop at 2**63 - 1 and the search adds a limit to an offset; a trillion rows is
far beyond any database this tool writes, so it is a round bound with room to spare."""


def whole_number(minimum: int, maximum: int = MAX_COUNT) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers (ASCII digits) from ``minimum`` to ``maximum``.

    ``int()`` alone would also take ``٣`` or ``1_000``, and numbers SQLite cannot hold.
    """

    def parse(text: str) -> int:
        digits = text.strip()
        sign = digits[:1] if digits[:1] in "+-" else ""
        body = digits[len(sign) :]
        if not body or not (body.isascii() and body.isdigit()):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number")
        if len(body) > len(str(maximum)) + 1:  # no need to convert a 4,000-digit number
            value = maximum + 1 if sign != "-" else minimum - 1
        else:
            value = int(sign + body)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def text(value: str) -> str:
    """An argparse ``type`` for text that ends up in the database: it must be valid UTF-8.

    Python decodes arguments that are not UTF-8 (under ``LANG=C``, or a file name in Latin-1)
    into lone surrogates; they cannot be stored, compared or printed, so they are refused here.
    """
    bad = first_surrogate(value)
    if bad is not None:
        raise argparse.ArgumentTypeError(
            f"{_shown(value)} is not valid UTF-8 (byte 0x{_byte(value[bad])} at position "
            f"{bad + 1}); use UTF-8 text (check LANG/LC_ALL)"
        )
    return value


def first_surrogate(value: str) -> int | None:
    """The index of the first lone surrogate in ``value`` (an undecodable byte), or None."""
    for index, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            return index
    return None


def _byte(char: str) -> str:
    code = ord(char)
    # surrogateescape maps byte b to U+DC00+b; other surrogates have no byte: show the code.
    return f"{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"{code:04x}"


def _shown(value: str) -> str:
    """``value`` quoted for a message, undecodable bytes as ``\\xff``, and cut when long."""
    safe = value.encode("utf-8", "surrogateescape" if _escapable(value) else "backslashreplace")
    shown = safe.decode("utf-8", "backslashreplace")
    return "'" + (shown if len(shown) <= 40 else shown[:37] + "...") + "'"


def _escapable(value: str) -> bool:
    return all(not ("\ud800" <= c <= "\udfff") or "\udc80" <= c <= "\udcff" for c in value)


def when_bounds(args: argparse.Namespace, now: Any) -> tuple[str | None, str | None]:
    """``--since`` and ``--until`` as stored timestamp text: WHEN read as in the query language
    (the start of ``--since``'s interval, the end of ``--until``'s); a mistake is a QueryError
    naming the option."""
    from store.errors import QueryError
    from store.query.when import parse_when

    bounds: dict[str, str | None] = {"since": None, "until": None}
    for option in bounds:
        text = getattr(args, option)
        if text is None:
            continue
        try:
            interval = parse_when(text, now=now)
        except QueryError as exc:
            raise QueryError(
                f"--{option}: {exc.message}", query=exc.query, position=exc.position, hint=exc.hint
            ) from None
        bounds[option] = interval.start if option == "since" else interval.end
    return bounds["since"], bounds["until"]
