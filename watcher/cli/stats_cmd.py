"""``ccmgr-watch stats``: where the time went, over the sessions a query selects.

Like ``query``, the handler uses the stdlib sqlite3 directly (one statement, no event loop) and
imports nothing heavy; the SQL is :mod:`store.stats` (:mod:`store.postgres.stats` for a
``postgresql://`` URL: the same numbers), the folding :mod:`watcher.activity`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from watcher.cli.argtypes import whole_number

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

_DEFAULT_LIMITS = {"project": 15, "worktree": 15, "branch": 15, "day": 31, "hour": 24}
_HEADINGS = {"project": "PROJECT", "worktree": "WORKTREE", "branch": "BRANCH", "day": "DAY"}


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``stats``."""
    from watcher.cli.main import allow_dash_values
    from watcher.cli.search_cmd import QUERY_HELP

    stats = commands.add_parser(
        "stats",
        parents=[db_parent],
        help="where the time went: sessions, attached time, lifetimes, busiest hours",
        description="Activity statistics over the sessions a query selects (the query "
        "language of `ccmgr-watch query`; none: every session): sessions created, time "
        "attached, attaches, lifetimes, busiest hours and days, grouped by --by. "
        "--since/--until bound the time window (attached time is clipped to it; lifetimes are "
        "of the sessions created in it); hours and days are local time. Definitions: "
        "docs/stats.md. " + QUERY_HELP,
    )
    stats.add_argument("query", metavar="QUERY", nargs="*", help="the query (words are joined)")
    stats.add_argument(
        "--by",
        choices=("project", "worktree", "branch", "day", "hour"),
        default="project",
        help="one row per project (default), worktree, branch, local day or hour of the day",
    )
    stats.add_argument("--since", metavar="WHEN", help="the window starts at WHEN")
    stats.add_argument("--until", metavar="WHEN", help="the window ends at WHEN (default: now)")
    stats.add_argument(
        "--limit",
        type=whole_number(0),
        default=None,
        metavar="N",
        help="at most N rows: the first groups, the last days (0: all; default 15 groups, "
        "31 days, 24 hours)",
    )
    stats.add_argument("--json", action="store_true", help="print a JSON object")
    stats.set_defaults(handler=run_stats)
    allow_dash_values(stats, "ccmgr-watch stats -- {}")


def _window(args: argparse.Namespace, now: Any) -> tuple[str | None, str | None]:
    """``--since`` and ``--until`` as stored timestamp text (WHEN as in the query language)."""
    from store.errors import UsageError
    from watcher.cli.argtypes import when_bounds

    since, until = when_bounds(args, now)
    if since is not None and until is not None and since > until:
        raise UsageError(
            f"--since ({since}) is after --until ({until})",
            hint="give the earlier time to --since and the later one to --until",
        )
    return since, until


def run_stats(args: argparse.Namespace) -> int:
    """Handler of ``stats``."""
    from datetime import UTC, datetime

    from store.pgurl import is_postgres_url
    from store.query.parser import parse_query
    from store.stats import FAR_FUTURE
    from store.timefmt import parse_ts
    from watcher.activity import report
    from watcher.cli.search_cmd import _context
    from watcher.cli.settings import db_file

    context = _context()
    now: datetime = context["now"]
    text = " ".join(args.query)
    tree = parse_query(text, **context)
    since, until = _window(args, now)
    lo = parse_ts(since).timestamp() if since else 0.0
    hi = min(parse_ts(until).timestamp(), FAR_FUTURE) if until else now.timestamp()
    path = db_file(args)
    read = _read_postgres if is_postgres_url(path) else _read_sqlite
    found = read(path, tree, by=args.by, lo=lo, hi=hi, now=now.timestamp())
    limit = args.limit if args.limit is not None else _DEFAULT_LIMITS[args.by]
    data = report(found, by=args.by, limit=limit or None)
    total = data["total"]
    del total["key"]
    result = {
        "query": text,
        "by": args.by,
        "since": since,
        "until": until,
        "now": now.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z",
        **data,
    }
    if args.json:
        from watcher.cli.output import print_json

        print_json(result, sort_keys=False)
        return 0
    _print_report(result)
    return 0


def _read_sqlite(path: str, tree: Any, **window: Any) -> Any:
    """The statistics from a SQLite file (store/stats.py)."""
    import sqlite3

    from store.query.compiler import where_sql
    from store.reads import open_reader, read_error
    from store.stats import activity

    where, params = where_sql(tree)
    conn = open_reader(path)
    try:
        return activity(conn, where, params, **window)
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    finally:
        conn.close()


def _read_postgres(url: str, tree: Any, **window: Any) -> Any:
    """The statistics from a PostgreSQL database (store/postgres/stats.py: the same numbers)."""
    from store.postgres.reads import PgReader
    from store.postgres.search import where_pg
    from store.postgres.stats import activity

    where, params = where_pg(tree)
    reader = PgReader.open(url)
    try:
        return activity(reader, where, params, **window)
    finally:
        reader.close()


# --- the table ---------------------------------------------------------------------------------

_SPARKS = "▁▂▃▄▅▆▇█"


def _can_draw(out: Any) -> bool:
    """Whether ``out`` takes the block characters (else bars are drawn with ``#``)."""
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


def bar(value: float, top: float, width: int, *, blocks: bool) -> str:
    """A bar of up to ``width`` columns for ``value`` out of ``top`` (eighths with blocks)."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(8 * width * min(value, top) / top)
    if not blocks:
        return "#" * max(1, round(eighths / 8))
    full, part = divmod(max(1, eighths), 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")


def sparkline(values: list[float], *, blocks: bool) -> str:
    """One character per value, its height relative to the largest."""
    top = max(values, default=0.0)
    chars = _SPARKS if blocks else " .:-=+*#"
    if top <= 0:
        return chars[0] * len(values)
    return "".join(chars[min(7, int(8 * v / top))] if v > 0 else chars[0] for v in values)


def _summary(result: dict[str, Any]) -> str:
    from watcher.cli.output import duration, plural

    total = result["total"]
    parts = [
        plural(total["sessions"], "session"),
        f"{total['created']} created",
        plural(total["attaches"], "attach", "attaches"),
        f"attached {duration(total['attached_seconds'])}",
    ]
    if total["lifetime_median_seconds"] is not None:
        parts.append(f"median lifetime {duration(total['lifetime_median_seconds'])}")
    return ", ".join(parts)


def _window_text(result: dict[str, Any]) -> str:
    since = result["since"][:16].replace("T", " ") if result["since"] else "the beginning"
    until = result["until"][:16].replace("T", " ") + " UTC" if result["until"] else "now"
    if result["since"]:
        since += " UTC"
    query = f"; query: {result['query']}" if result["query"] else ""
    return f"from {since} to {until}{query}"


def _print_report(result: dict[str, Any]) -> None:
    import shutil
    import sys

    from watcher.activity import WEEKDAYS
    from watcher.cli.output import display_width, duration, style, use_color

    out = sys.stdout
    blocks = _can_draw(out)
    color = use_color(out)
    total = result["total"]
    if total["sessions"] == 0 and total["created"] == 0 and not result["rows"]:
        print(f"No sessions match ({_window_text(result)}).", file=sys.stderr)
        return
    print(_summary(result))
    print(style(_window_text(result), "dim", enabled=color))
    print()
    by = result["by"]
    heading = _HEADINGS.get(by, "HOUR")
    headers = [heading]
    if by not in ("day", "hour"):
        headers.append("SESSIONS")
    headers += ["CREATED", "ATTACHES", "ATTACHED", "MEDIAN LIFE"]
    cells: list[list[str]] = []
    for row in result["rows"]:
        key = row["key"] if row["key"] is not None else "-"
        if by == "hour":
            key = f"{key}-{(int(key) + 1) % 24:02d}"
        line = [key]
        if by not in ("day", "hour"):
            line.append(str(row["sessions"]))
        median = row["lifetime_median_seconds"]
        line += [
            str(row["created"]),
            str(row["attaches"]),
            duration(row["attached_seconds"]) if row["attached_seconds"] else "0s",
            duration(median) if median is not None else "-",
        ]
        cells.append(line)
    widths = [display_width(h) for h in headers]
    for line in cells:
        widths = [max(w, display_width(c)) for w, c in zip(widths, line, strict=True)]
    numeric = set(range(1, len(headers)))

    def render(line: list[str]) -> str:
        parts = []
        for i, (cell, width) in enumerate(zip(line, widths, strict=True)):
            pad = " " * (width - display_width(cell))
            parts.append(pad + cell if i in numeric else cell + pad)
        return "  ".join(parts)

    columns = shutil.get_terminal_size((80, 24)).columns
    used = sum(widths) + 2 * len(widths)
    bar_width = max(0, min(30, columns - used - 1))
    top = max((row["attached_seconds"] for row in result["rows"]), default=0.0)
    print(style(render(headers).rstrip(), "bold", enabled=color))
    for line, row in zip(cells, result["rows"], strict=True):
        drawn = bar(row["attached_seconds"], top, bar_width, blocks=blocks)
        print((render(line) + "  " + style(drawn, "cyan", enabled=color)).rstrip())
    if result["rows_omitted"]:
        what = "earlier days" if by == "day" else "more rows"
        print(f"({result['rows_omitted']} {what}; --limit 0 shows all)")
    hours = result["attached_seconds_by_hour"]
    weekdays = list(result["attached_seconds_by_weekday"].values())
    if any(hours):
        print()
        ranked = sorted(range(24), key=lambda h: -hours[h])[:3]
        busiest = ", ".join(f"{h:02d}-{(h + 1) % 24:02d}" for h in ranked if hours[h] > 0)
        print(f"hours    0 {sparkline(hours, blocks=blocks)} 23   busiest: {busiest}")
        days = sorted(range(7), key=lambda d: -weekdays[d])[:3]
        top_days = ", ".join(
            f"{WEEKDAYS[d]} ({duration(weekdays[d])})" for d in days if weekdays[d] > 0
        )
        print(f"weekdays {sparkline(weekdays, blocks=blocks)} Mon-Sun   busiest: {top_days}")
