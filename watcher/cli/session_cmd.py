"""``ccmgr-watch session show|list``: read what the watcher captured."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from watcher.cli.argtypes import text, whole_number

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

    from store.reads import Reader

DEFAULT_LIMIT = 50


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``session show`` and ``session list`` to the ``session`` group."""
    from store.reads import PREFIX_RULE
    from watcher.cli.main import allow_dash_values

    session = group("session", "look at recorded sessions and their history")
    show = session.add_parser(
        "show",
        parents=[db_parent],
        help="one session: its record, its events and statistics",
        description="Show one recorded session, found by its id (or a unique id prefix) or its "
        "name (the most recently used session of that name), with every event and statistics: "
        "times attached, total attached time, lifetime, windows opened. Exit 1 if none matches, "
        "2 if an id prefix matches several.",
    )
    show.add_argument(
        "session",
        metavar="NAME_OR_ID",
        type=text,
        help=f"the session's id or name; {PREFIX_RULE}",
    )
    allow_dash_values(show, "ccmgr-watch session show -- {}")
    show.add_argument("--json", action="store_true", help="print a JSON object")
    show.set_defaults(handler=run_show)

    listing = session.add_parser(
        "list",
        parents=[db_parent],
        help="recorded sessions, most recently used first",
        description="List recorded sessions, most recently used first.",
    )
    listing.add_argument(
        "--status",
        action="append",
        choices=("attached", "detached", "ended", "alive"),
        help="only sessions with this status (repeatable; alive = attached or detached)",
    )
    listing.add_argument(
        "--project", metavar="NAME", type=text, help="only sessions of this project"
    )
    listing.add_argument(
        "--limit",
        type=whole_number(0),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N sessions (0: all; default {DEFAULT_LIMIT})",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=run_list)


def _connect(args: argparse.Namespace) -> tuple[str, Reader]:
    """The database the command names (it must exist) and a read-only connection to it: a
    SQLite file or a PostgreSQL URL."""
    from store.reads import open_store
    from watcher.cli.settings import db_file

    path = db_file(args)
    return path, open_store(path)


def run_show(args: argparse.Namespace) -> int:
    """Handler of ``session show``."""
    import sqlite3

    from store.reads import events_of, find_session, read_error
    from store.timefmt import utcnow
    from watcher.session_stats import session_statistics

    path, conn = _connect(args)
    try:
        session = find_session(conn, args.session)
        events = events_of(conn, session.id)
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    finally:
        conn.close()
    stats = session_statistics(session, events, now=utcnow())
    plan = _revive_plan(session)
    if args.json:
        from watcher.cli.output import print_json

        shown: dict[str, Any] = {"session": session, "events": events, "statistics": stats}
        if plan is not None:
            shown["revive"] = {
                "socket": plan.socket,
                "directory": plan.directory,
                "recorded_at": plan.recorded_at,
                "windows": [w.as_dict() for w in plan.windows],
                "warnings": list(plan.warnings),
            }
        print_json(shown)
        return 0
    _print_show(session, events, stats)
    if plan is not None:
        _print_revive(plan)
    return 0


def _revive_plan(session: Any) -> Any:
    """What ``revive`` would restore of an ended session (None for a live one)."""
    if session.status != "ended":
        return None
    import os

    from watcher.revive_plan import plan_revive

    return plan_revive(session, home=os.path.expanduser("~"))


def _print_revive(plan: Any) -> None:
    from watcher.cli.output import table

    when = f", windows as recorded {plan.recorded_at}" if plan.recorded_at else ""
    print()
    print(f"`ccmgr-watch revive` would restore it on {plan.socket} in {plan.directory}{when}:")
    table(
        ["INDEX", "WINDOW", "PANES", "DIRECTORIES", "LAYOUT"],
        [
            [
                str(w.index),
                w.name or "-",
                str(len(w.directories)),
                ", ".join(dict.fromkeys(w.directories)),
                w.layout or "-",
            ]
            for w in plan.windows
        ],
    )
    for warning in plan.warnings:
        print(f"warning: {warning}")


def _print_show(session: Any, events: list[Any], stats: Any) -> None:
    from watcher.cli.output import duration, plural, relative_time, table

    fields = [
        ("name", session.name),
        ("id", session.id),
        ("status", session.status),
        ("project", session.project or "-"),
        ("worktree", session.worktree or "-"),
        ("branch", session.branch or "-"),
        ("directory", session.directory or "-"),
        ("created", f"{session.created_at} ({relative_time(session.created_at)})"),
        ("last access", f"{session.last_access} ({relative_time(session.last_access)})"),
    ]
    if session.ended_at:
        fields.append(("ended", f"{session.ended_at} ({relative_time(session.ended_at)})"))
    fields.append(("host", session.host or "-"))
    fields.append(("tmux", f"{session.tmux_id or '-'} on {session.tmux_server or '-'}"))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.ljust(width)}  {value}")
    print()
    lifetime = "-" if stats.lifetime_seconds is None else duration(stats.lifetime_seconds)
    print(
        f"attached {plural(stats.times_attached, 'time')} for "
        f"{duration(stats.attached_seconds)} in all; lifetime {lifetime}; "
        f"{plural(stats.windows_opened, 'window')} opened, {plural(stats.renames, 'rename')}"
    )
    print()
    table(
        ["TIME", "EVENT", "DETAILS"],
        [[e.timestamp, e.event_type, _details(e.data)] for e in events],
    )


def _details(data: dict[str, Any]) -> str:
    if "old_name" in data or "new_name" in data:
        return f"{data.get('old_name')!r} -> {data.get('new_name')!r}"
    return " ".join(f"{k}={v}" for k, v in sorted(data.items()))


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``session list``."""
    import sqlite3
    import sys

    from store.reads import has_sessions, list_sessions, read_error

    statuses: set[str] = set(args.status or [])
    if "alive" in statuses:
        statuses |= {"attached", "detached"}
        statuses.discard("alive")
    path, conn = _connect(args)
    try:
        sessions = list_sessions(
            conn, statuses=sorted(statuses), project=args.project, limit=args.limit or None
        )
        anything = bool(sessions) or has_sessions(conn)
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    finally:
        conn.close()
    if args.json:
        from watcher.cli.output import print_json

        print_json(sessions)
        return 0
    if not sessions:
        if anything:
            print(f"No sessions match {_filters(args)}.", file=sys.stderr)
        else:
            print("No sessions recorded yet.", file=sys.stderr)
        return 0
    from watcher.cli.output import relative_time, table

    # The host only when the sessions come from more than one (a shared store).
    hosts = len({s.host for s in sessions}) > 1
    table(
        ["NAME", "STATUS", *(["HOST"] if hosts else []), "PROJECT", "BRANCH", "LAST ACCESS", "ID"],
        [
            [
                s.name,
                s.status,
                *([s.host or "-"] if hosts else []),
                s.project or "-",
                s.branch or "-",
                relative_time(s.last_access),
                s.id,
            ]
            for s in sessions
        ],
    )
    return 0


def _filters(args: argparse.Namespace) -> str:
    """The filters of a ``session list`` as typed: ``--status attached --project x``."""
    given = [f"--status {status}" for status in args.status or []]
    if args.project is not None:
        given.append(f"--project {args.project}")
    return " ".join(given)
