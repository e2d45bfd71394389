"""``ccmgr-watch query`` (alias ``session search``) and ``ccmgr-watch session history``.

Start-up time matters here more than anywhere: the module imports nothing heavy, and the handlers
use the stdlib sqlite3 directly (one query, no event loop; see :mod:`store.search`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from watcher.cli.argtypes import text, whole_number

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

    from store.errors import StoreError
    from store.reads import HistoryRecord, Reader
    from store.search import SearchHit

QUERY_HELP = (
    "Words match the start of any token of a session's name, project, worktree, branch or "
    'directory (all must match); "a phrase" matches tokens in order. Qualifiers: project:, '
    "worktree:, branch:, name: (whole value, case-insensitive, * wildcard), dir:PATH (that "
    "folder and below), status:active|attached|detached|ended, since:WHEN, until:WHEN. "
    "AND, OR, NOT (upper case), a leading -, parentheses; NOT binds tighter than AND, AND "
    "tighter than OR. WHEN: 2026-11-20, 2026-11-20T14:30, today, yesterday, '3 days ago', "
    "30m, 12h, 7d, 2w, 3mo, 1y. The empty query lists every session; a query that starts with '-' "
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
        "the older ones after them, most recent first; a word in many sessions weighted by an "
        "estimate of how many hold it; a session that matches through a qualifier alone, "
        "`auth OR project:x`, and holds none of the words scores 0; without words: most "
        "recent)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array of sessions")
    parser.set_defaults(handler=run_query)


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``query``, ``session search`` and ``session history``."""
    from store.columns import EVENT_TYPES
    from store.reads import PREFIX_RULE
    from watcher.cli.main import allow_dash_values

    query = commands.add_parser(
        "query",
        parents=[db_parent],
        help="search sessions with the query language",
        description="Search the recorded sessions. " + QUERY_HELP,
    )
    _add_search_arguments(query)
    allow_dash_values(query, "ccmgr-watch query -- {}")

    session = group("session", "look at recorded sessions and their history")
    search = session.add_parser(
        "search",
        parents=[db_parent],
        help="search sessions (same as `ccmgr-watch query`)",
        description="Search the recorded sessions. " + QUERY_HELP,
    )
    _add_search_arguments(search)
    allow_dash_values(search, "ccmgr-watch session search -- {}")

    history = session.add_parser(
        "history",
        parents=[db_parent],
        help="lifecycle events, newest first",
        description="List sessions' lifecycle events (created, renamed, attached, detached, "
        "killed, window_added, ...), newest first. WHEN is as in the query language: "
        "2026-11-20, 2026-11-20T14:30, today, yesterday, '1 week ago', 30m, 12h, 7d, 2w, 3mo, 1y; "
        "--until with a date includes that whole day.",
    )
    history.add_argument(
        "session_arg",
        nargs="?",
        metavar="SESSION",
        type=text,
        help="one session's events, as --session (`session history myapp`)",
    )
    history.add_argument("--since", metavar="WHEN", help="events at or after WHEN")
    history.add_argument("--until", metavar="WHEN", help="events at or before WHEN")
    history.add_argument(
        "--session",
        metavar="NAME_OR_ID",
        type=text,
        help=f"one session's events (its id or name; {PREFIX_RULE})",
    )
    history.add_argument(
        "--type",
        metavar="TYPES",
        type=text,
        help=f"only these event types, comma-separated: {', '.join(EVENT_TYPES)}",
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
    from store.errors import StoreError
    from store.pgurl import is_postgres_url
    from store.query.compiler import compile_query
    from store.query.parser import parse_query
    from store.reads import open_reader
    from store.search import search_sync
    from watcher.cli.settings import db_file, search_limit

    text = " ".join(args.query)
    tree = parse_query(text, **_context())
    path = db_file(args)
    if is_postgres_url(path):
        hits = _query_postgres(path, tree, args.sort, search_limit(args), args.offset)
    else:
        compiled = compile_query(tree, sort=args.sort, limit=search_limit(args), offset=args.offset)
        conn = open_reader(path)
        try:
            hits = search_sync(conn, compiled)
        except StoreError as exc:
            raise _explained(path, exc) from exc
        finally:
            conn.close()
    if args.json:
        from watcher.cli.output import print_json

        # Not sorted: the fields in their declared order are the documented format.
        print_json([_hit_dict(hit) for hit in hits], sort_keys=False)
    else:
        _print_hits(hits)
    return 0


def _query_postgres(
    url: str, tree: Any, sort: str, limit: int | None, offset: int
) -> list[SearchHit]:
    """The query on PostgreSQL (store/postgres/search.py: the same tree, its own SQL)."""
    from store.postgres.reads import PgReader
    from store.postgres.search import search_pg

    reader = PgReader.open(url)
    try:
        return search_pg(reader, tree, sort=sort, limit=limit, offset=offset)
    finally:
        reader.close()


def _explained(path: str, exc: StoreError) -> StoreError:
    """What ``exc`` (a failed read) means for ``path``, with a hint that helps.

    store.search's own message is kept where it is right: a missing search index.
    """
    import sqlite3

    from store.reads import read_error

    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error) and "sessions_fts" not in str(cause):
        return read_error(path, cause)
    return exc


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
    # The host only when the results come from more than one (a shared store): on one machine
    # the column would repeat its name on every line.
    hosts = len({hit.host for hit in hits}) > 1
    rows = [
        [
            hit.name,
            hit.status,
            *([hit.host or "-"] if hosts else []),
            hit.project or "-",
            hit.branch or "-",
            relative_time(hit.last_access),
            hit.directory or "-",
            hit.id[:12],
        ]
        for hit in hits
    ]
    headers = ["NAME", "STATUS", *(["HOST"] if hosts else [])]
    table([*headers, "PROJECT", "BRANCH", "LAST ACCESS", "DIRECTORY", "ID"], rows)


def run_history(args: argparse.Namespace) -> int:
    """Handler of ``session history``."""
    import sqlite3

    from store.reads import list_events, open_store, read_error, resolve_sessions
    from watcher.cli.settings import db_file

    if args.session_arg is not None:
        if args.session is not None and args.session != args.session_arg:
            from store.errors import UsageError

            raise UsageError(
                f"two sessions given: {args.session_arg!r} and --session {args.session!r}",
                hint="name one session (SESSION or --session, not both)",
            )
        args.session = args.session_arg
    since, until = _history_bounds(args)
    path = db_file(args)
    conn = open_store(path)
    try:
        types = _event_types(conn, args.type) if args.type else None
        ids = resolve_sessions(conn, args.session) if args.session else None
        events = list_events(
            conn,
            since=since,
            until=until,
            session_ids=ids,
            event_types=types,
            limit=args.limit or None,
        )
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    finally:
        conn.close()
    if args.json:
        from watcher.cli.output import print_json

        print_json([e.as_dict() for e in events], sort_keys=False)
    else:
        _print_events(events)
    return 0


def _history_bounds(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``--since`` and ``--until`` as stored timestamp text (WHEN is read as in a query)."""
    if args.since is None and args.until is None:
        return None, None  # the query language's modules are not needed: not imported
    from watcher.cli.argtypes import when_bounds

    return when_bounds(args, _context()["now"])


def _event_types(conn: Reader, text: str) -> tuple[str, ...]:
    """The event types of ``--type``: each one the watcher records, or one found in the
    database (other tools may add their own); anything else is a usage mistake."""
    from store.columns import EVENT_TYPES
    from store.errors import UsageError
    from store.reads import event_type_recorded

    types = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [t for t in types if t not in EVENT_TYPES and not event_type_recorded(conn, t)]
    if not types or unknown:
        what = ", ".join(repr(t) for t in unknown) if unknown else repr(text)
        raise UsageError(
            f"--type: unknown event type {what}",
            hint=f"use one or more of {', '.join(EVENT_TYPES)}, comma-separated",
        )
    return types


def _print_events(events: list[HistoryRecord]) -> None:
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
