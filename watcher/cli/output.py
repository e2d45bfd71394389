"""Rendering for the CLI: JSON for scripts, plain tables for people."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from store.values import Value

# typing is imported by type checkers only: it costs the read commands' start-up ~10%.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


def print_json(value: Any, *, file: TextIO | None = None, sort_keys: bool = True) -> None:
    """Write ``value`` (dicts, lists, msgspec structs, Values) as indented JSON and a newline.

    Dicts' keys are sorted (``sort_keys=False`` keeps their order); structs and Values keep
    field order; NaN and infinities are null. The text is what msgspec wrote, but for the
    spelling of very large or small floats (``1e+16``, ``5e-05`` for msgspec's ``1e16``,
    ``0.00005``: the same numbers).
    """
    out = file or sys.stdout
    # Stdlib json: importing msgspec costs ~15 ms, too much for `ccmgr-watch query`'s start-up.
    text = json.dumps(
        _plain(value, sort_keys), indent=2, ensure_ascii=False, allow_nan=False, default=_default
    )
    out.write(text)
    out.write("\n")


def _plain(value: Any, sort_keys: bool) -> Any:
    """``value`` with its dicts' keys sorted (json's own sort_keys would reorder structs too)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # as msgspec wrote them
    if isinstance(value, Value):
        return {key: _plain(item, sort_keys) for key, item in value.as_dict().items()}
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0]) if sort_keys else value.items()
        return {key: _plain(item, sort_keys) for key, item in items}
    if isinstance(value, list | tuple):
        return [_plain(item, sort_keys) for item in value]
    return value


def _default(value: Any) -> Any:
    """What json cannot encode itself (structs, datetimes, sets, ...), as msgspec encodes it."""
    import msgspec

    # to_builtins sorts dicts' keys itself ("deterministic") and keeps structs' field order.
    return _plain(msgspec.to_builtins(value, order="deterministic"), sort_keys=False)


def use_color(stream: TextIO | None = None) -> bool:
    """Colours only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def style(text: str, name: str, *, enabled: bool) -> str:
    """Wrap ``text`` in an ANSI style when ``enabled``."""
    if not enabled or name not in _STYLES:
        return text
    return f"\033[{_STYLES[name]}m{text}\033[0m"


def relative_time(stamp: str | None, *, now: datetime | None = None) -> str:
    """``3m ago``, ``2h ago``, ``5d ago`` for a stored timestamp; ``-`` for None."""
    if not stamp:
        return "-"
    try:
        moment = _parse_stamp(stamp)
    except ValueError:
        return stamp
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if future else f"{amount} ago"


def _parse_stamp(stamp: str) -> datetime:
    """A stored timestamp as a datetime; the stored form without store.timefmt's strptime,
    whose first call imports _strptime, calendar and locale (~4 ms of a table's start-up)."""
    if len(stamp) == 27 and stamp[10] == "T" and stamp.endswith("Z"):
        try:
            return datetime.fromisoformat(stamp[:26]).replace(tzinfo=UTC)
        except ValueError:
            pass
    from store.timefmt import parse_ts

    return parse_ts(stamp)


def duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h 05m``, ``2d 4h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 time``, ``2 times``, ``0 windows``; ``many`` when adding an s is wrong."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide characters and most emoji take two,
    combining marks and zero-width characters none."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, file: TextIO | None = None
) -> None:
    """Print left-aligned columns separated by two spaces; the header is bold on a TTY.

    Columns are measured in terminal columns, so names with emoji or CJK stay aligned.
    """
    out = file or sys.stdout
    color = use_color(out)
    widths = [display_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    line = "  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out.write(style(line, "bold", enabled=color) + "\n")
    for row in rows:
        out.write("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
