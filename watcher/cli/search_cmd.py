"""``ccmgr-watch query`` (alias ``session search``) and ``ccmgr-watch session history``.

Start-up time matters here more than anywhere: the module imports nothing heavy, and the handlers
use the stdlib sqlite3 directly (one query, no event loop; see :mod:`store.search`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from watcher.cli.argtypes import whole_number

if TYPE_CHECKING:
    from store.search import HistoryEvent, SearchHit

QUERY_HELP = (
    "Words match the start of any token of a session's name, project, worktree, branch or "
    'directory (all must match); "a phrase" matches tokens in order. Qualifiers: project:, '
    "worktree:, branch:, name: (whole value, case-insensitive, * wildcard), dir:PATH (that "
    "folder and below), status:active|attached|detached|ended, since:WHEN, until:WHEN. "
    "AND, OR, NOT (upper case), a leading -, parentheses; NOT binds tighter than AND, AND "
    "tighter than OR. WHEN: 2026-11-20, 2026-11-20T14:30, today, yesterday, '3 days ago', "
    "30m, 12h, 7d, 2w. The empty query lists every session; a query that starts with '-' "
    "goes after '--'."
)


def _add_search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", nargs="*", help="the query (words are joined)")
    parser.add_argument(
        "--limit",
        type=whole_number(0),
        default=None,
        metavar="N",
        help="at most N (0: all; default: the config's search.default_limit, 20)",
    )
    parser.add_argument(
        "--offset", type=whole_number(0), default=0, metavar="N", help="skip the first N"
    )
    parser.add_argument(
        "--sort",
        choices=("relevance", "recent", "created", "name"),
        default="relevance",
        help="order (default relevance: bm25 over the 500 most recently recorded matches, "
        "the older ones after them, most recent first; without words: most recent)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of sessions")
    parser.set_defaults(handler=run_query)


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``query``, ``session search`` and ``session history``."""
    query = commands.add_parser(
        "query",
        parents=[db_parent],
        help="search sessions with the query language",
        description="Search the recorded sessions. " + QUERY_HELP,
    )
    _add_search_arguments(query)

    session = group("session", "Look at recorded sessions and their history.")
    search = session.add_parser(
        "search",
        parents=[db_parent],
        help="search sessions (same as `ccmgr-watch query`)",
        description="Search the recorded sessions. " + QUERY_HELP,
    )
    _add_search_arguments(search)

    history = session.add_parser(
        "history",
        parents=[db_parent],
        help="lifecycle events, newest first",
        description="List sessions' lifecycle events (created, renamed, attached, detached, "
        "killed, window_added, ...), newest first. WHEN is as in the query language: "
        "2026-11-20, 2026-11-20T14:30, today, yesterday, '1 week ago', 30m, 12h, 7d, 2w; "
        "--until with a date includes that whole day.",
    )
    history.add_argument("--since", metavar="WHEN", help="events at or after WHEN")
    history.add_argument("--until", metavar="WHEN", help="events at or before WHEN")
    history.add_argument(
        "--session", metavar="NAME_OR_ID", help="one session's events (an id, id prefix or name)"
    )
    history.add_argument(
        "--type",
        metavar="TYPES",
        help="only these event types, comma-separated (e.g. created,attached)",
    )
    history.add_argument(
        "--limit", type=whole_number(0), default=50, metavar="N", help="at most N (0: all; 50)"
    )
    history.add_argument("--json", action="store_true", help="print a JSON array of events")
    history.set_defaults(handler=run_history)


def _context() -> dict[str, Any]:
    """What the parser needs from the world: now, home and the working folder."""
    import os
    from datetime import UTC, datetime

    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working folder was deleted
        cwd = None
    return {"now": datetime.now(UTC), "home": os.path.expanduser("~"), "cwd": cwd}


def run_query(args: argparse.Namespace) -> int:
    """Handler of ``query`` and ``session search``."""
    from store.query.compiler import compile_query
    from store.query.parser import parse_query
    from store.search import connect_reader_sync, search_sync
    from watcher.cli.settings import db_path, search_limit

    text = " ".join(args.query)
    tree = parse_query(text, **_context())
    compiled = compile_query(tree, sort=args.sort, limit=search_limit(args), offset=args.offset)
    conn = connect_reader_sync(db_path(args))
    try:
        hits = search_sync(conn, compiled)
    finally:
        conn.close()
    if args.json:
        from watcher.cli.output import print_json

        # Not sorted: the fields in their declared order are the documented format.
        print_json([_hit_dict(hit) for hit in hits], sort_keys=False)
    else:
        _print_hits(hits)
    return 0


def _hit_dict(hit: SearchHit) -> dict[str, Any]:
    data = hit.as_dict()
    if hit.score is None:
        del data["score"]
    return data


def _print_hits(hits: list[SearchHit]) -> None:
    import sys

    from watcher.cli.output import relative_time, table

    if not hits:
        print("No sessions match.", file=sys.stderr)
        return
    rows = [
        [
            hit.name,
            hit.status,
            hit.project or "-",
            hit.branch or "-",
            relative_time(hit.last_access),
            hit.directory or "-",
            hit.id[:12],
        ]
        for hit in hits
    ]
    table(["NAME", "STATUS", "PROJECT", "BRANCH", "LAST USED", "DIRECTORY", "ID"], rows)


def run_history(args: argparse.Namespace) -> int:
    """Handler of ``session history``."""
    from store.errors import QueryError
    from store.query.when import parse_when
    from store.search import HistoryQuery, connect_reader_sync, history_sync, resolve_session_sync
    from watcher.cli.settings import db_path

    ctx = _context()
    bounds: dict[str, str | None] = {"since": None, "until": None}
    for option in bounds:
        text = getattr(args, option)
        if text is None:
            continue
        try:
            interval = parse_when(text, now=ctx["now"])
        except QueryError as exc:
            raise QueryError(
                f"--{option}: {exc.message}", query=exc.query, position=exc.position, hint=exc.hint
            ) from None
        bounds[option] = interval.start if option == "since" else interval.end
    since, until = bounds["since"], bounds["until"]
    types = None
    if args.type:
        types = tuple(t.strip() for t in args.type.split(",") if t.strip()) or None
    conn = connect_reader_sync(db_path(args))
    try:
        ids = resolve_session_sync(conn, args.session) if args.session else None
        events = history_sync(
            conn,
            HistoryQuery(
                since=since,
                until=until,
                session_ids=ids,
                event_types=types,
                limit=args.limit or None,
            ),
        )
    finally:
        conn.close()
    if args.json:
        from watcher.cli.output import print_json

        print_json([e.as_dict() for e in events], sort_keys=False)
    else:
        _print_events(events)
    return 0


def _print_events(events: list[HistoryEvent]) -> None:
    import json
    import sys

    from watcher.cli.output import relative_time, table

    if not events:
        print("No events match.", file=sys.stderr)
        return
    rows = [
        [
            relative_time(e.timestamp),
            e.timestamp[:19].replace("T", " "),
            e.event_type,
            e.session_name or e.session_id[:12],
            json.dumps(e.data, ensure_ascii=False, separators=(",", ":")) if e.data else "",
        ]
        for e in events
    ]
    table(["WHEN", "AT (UTC)", "EVENT", "SESSION", "DATA"], rows)
