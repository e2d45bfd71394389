"""Rendering for the CLI: JSON for scripts, plain tables for people."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

_encoder = msgspec.json.Encoder(order="deterministic")


def print_json(value: Any, *, file: TextIO | None = None) -> None:
    """Write ``value`` (structs, dicts, lists) as indented JSON and a newline."""
    out = file or sys.stdout
    out.write(msgspec.json.format(_encoder.encode(value), indent=2).decode())
    out.write("\n")


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
    from store.timefmt import parse_ts

    try:
        moment = parse_ts(stamp)
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


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, file: TextIO | None = None
) -> None:
    """Print left-aligned columns separated by two spaces; the header is bold on a TTY."""
    out = file or sys.stdout
    color = use_color(out)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out.write(style(line, "bold", enabled=color) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
