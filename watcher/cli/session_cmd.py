"""``ccmgr-watch session show|list``: read what the watcher captured."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watcher.cli.argtypes import text, whole_number

if TYPE_CHECKING:
    import aiosqlite

    from store.models import Session

DEFAULT_LIMIT = 50


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``session show`` and ``session list`` to the ``session`` group."""
    session = group("session", "Look at recorded tmux sessions.")
    show = session.add_parser(
        "show",
        parents=[db_parent],
        help="one session: its record, its events and statistics",
        description="Show one recorded session, found by its id (or a unique id prefix) or its "
        "name (the most recently used session of that name), with every event and statistics: "
        "times attached, total attached time, lifetime, windows opened. Exit 1 if none matches.",
    )
    show.add_argument(
        "session", metavar="NAME_OR_ID", type=text, help="session id, id prefix, or name"
    )
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
        type=whole_number(1),
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N sessions (default {DEFAULT_LIMIT})",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=run_list)


def _db_path(args: argparse.Namespace) -> Path:
    """The database to read; it must exist (checked here, before any connection is opened)."""
    from watcher.cli.settings import existing_db_path

    return existing_db_path(args)


async def _find(conn: aiosqlite.Connection, key: str) -> Session | None:
    """By id, then by name, then by a unique id prefix."""
    from store.columns import SESSION_COLUMNS
    from store.errors import UsageError
    from store.repositories import SessionRepository, session_from_row

    repo = SessionRepository(conn)
    found = await repo.get(key) or await repo.get_by_name(key)
    if found is not None or len(key) < 4 or not key.startswith("s-"):
        return found
    # Escape LIKE's wildcards: the prefix is user input.
    pattern = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with conn.execute(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
        (pattern,),
    ) as cur:
        rows = list(await cur.fetchall())
    if len(rows) > 1:
        raise UsageError(f"{key!r} matches several sessions", hint="give more of the id")
    return session_from_row(rows[0]) if rows else None


def run_show(args: argparse.Namespace) -> int:
    """Handler of ``session show``."""
    import anyio

    from store.db import open_reader
    from store.errors import CcmgrError
    from store.repositories import EventRepository
    from store.timefmt import utcnow
    from watcher.session_stats import session_statistics

    path = _db_path(args)

    async def load() -> tuple[Any, Any]:
        async with open_reader(path) as conn:
            session = await _find(conn, args.session)
            if session is None:
                return None, []
            return session, await EventRepository(conn).list_for_session(session.id)

    session, events = anyio.run(load)
    if session is None:
        raise CcmgrError(
            f"no session with the id or name {args.session!r}",
            hint="`ccmgr-watch session list` shows the recorded sessions",
        )
    stats = session_statistics(session, events, now=utcnow())
    if args.json:
        from watcher.cli.output import print_json

        print_json({"session": session, "events": events, "statistics": stats})
        return 0
    _print_show(session, events, stats)
    return 0


def _print_show(session: Any, events: list[Any], stats: Any) -> None:
    from watcher.cli.output import duration, relative_time, table

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
    fields.append(("tmux", f"{session.tmux_id or '-'} on {session.tmux_server or '-'}"))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.ljust(width)}  {value}")
    print()
    lifetime = "-" if stats.lifetime_seconds is None else duration(stats.lifetime_seconds)
    print(
        f"attached {stats.times_attached} times for {duration(stats.attached_seconds)} in all; "
        f"lifetime {lifetime}; {stats.windows_opened} windows opened, {stats.renames} renames"
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
    import anyio

    from store.db import open_reader
    from store.models import SessionFilter
    from store.repositories import SessionRepository

    statuses: set[str] = set(args.status or [])
    if "alive" in statuses:
        statuses |= {"attached", "detached"}
        statuses.discard("alive")

    path = _db_path(args)

    async def load() -> list[Any]:
        async with open_reader(path) as conn:
            repo = SessionRepository(conn)
            if len(statuses) <= 1:
                status = next(iter(statuses), None)
                flt = SessionFilter(project=args.project, status=status, limit=args.limit)  # type: ignore[arg-type]
                return await repo.list(flt)
            found: list[Any] = []
            for status in sorted(statuses):
                flt = SessionFilter(project=args.project, status=status, limit=args.limit)  # type: ignore[arg-type]
                found += await repo.list(flt)
            found.sort(key=lambda s: s.last_access, reverse=True)
            return found[: args.limit]

    sessions = anyio.run(load)
    if args.json:
        from watcher.cli.output import print_json

        print_json(sessions)
        return 0
    from watcher.cli.output import relative_time, table

    if not sessions:
        print("no sessions recorded yet")
        return 0
    table(
        ["NAME", "STATUS", "PROJECT", "BRANCH", "LAST ACCESS", "ID"],
        [
            [
                s.name,
                s.status,
                s.project or "-",
                s.branch or "-",
                relative_time(s.last_access),
                s.id,
            ]
            for s in sessions
        ],
    )
    return 0
