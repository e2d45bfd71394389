"""``ccmgr-watch pick [QUERY]``: find a session as you type and go back to it.

The parser only; the picker (``watcher.pick``) is imported by the handler.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

EXIT_NOTHING_CHOSEN = 1
EXIT_INTERRUPTED = 130


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``pick``."""
    from watcher.cli.main import allow_dash_values

    pick = commands.add_parser(
        "pick",
        parents=[db_parent],
        help="find a session as you type and switch to it (or revive it)",
        description="An interactive picker: type the query language (words match as "
        "prefixes), move with the arrows or Ctrl-N/Ctrl-P, Enter goes to the session: "
        "switch-client inside tmux, attach-session outside, `ccmgr-watch revive ID --attach` "
        "for an ended one; a session alive on another host (a shared PostgreSQL store): nothing "
        "runs, the ssh command to attach there is printed (exit 6). Esc leaves with exit 1, "
        "Ctrl-C with 130. Inside a tmux popup: "
        'bind-key S display-popup -E "ccmgr-watch pick".',
    )
    pick.add_argument("query", metavar="QUERY", nargs="*", help="the query to start with")
    pick.add_argument(
        "--print",
        action="store_true",
        help="print the chosen session's id instead of going to it (exit 1: nothing chosen)",
    )
    pick.add_argument(
        "--json",
        action="store_true",
        help="print the chosen session as a JSON object instead of going to it "
        "(exit 1: nothing chosen)",
    )
    pick.add_argument(
        "--sort",
        choices=("recent", "relevance"),
        default="recent",
        help="order of the results (default recent: the most recently used first)",
    )
    allow_dash_values(pick, "ccmgr-watch pick -- {}")
    pick.set_defaults(handler=run_pick)


def run_pick(args: argparse.Namespace) -> int:
    """Handler of ``pick``."""
    import os
    import sys

    from watcher.cli.settings import db_file, watcher_host
    from watcher.pick.app import ESCAPED, INTERRUPTED, pick

    path = db_file(args)
    color = not os.environ.get("NO_COLOR")
    host: list[str] = []

    def here() -> str:  # asked after the first frame: it imports the watcher's settings
        if not host:
            host.append(watcher_host(args))
        return host[0]

    chosen = pick(path, " ".join(args.query), sort=args.sort, color=color, host=here)
    if chosen == INTERRUPTED:
        return EXIT_INTERRUPTED
    if chosen == ESCAPED:
        return EXIT_NOTHING_CHOSEN
    if args.print and not args.json:
        sys.stdout.write(chosen + "\n")
        return 0
    from store.reads import find_session, open_store

    conn = open_store(path)
    try:
        session = find_session(conn, chosen)
    finally:
        conn.close()
    if args.json:
        from watcher.cli.output import print_json

        print_json(session, sort_keys=False)
        return 0
    from watcher.pick.go import elsewhere, execute, plan_go, remote_command, session_is_live

    if elsewhere(session, here()):
        from watcher.errors import TmuxError

        # Its server is on that machine; a socket of the same path here is another server.
        raise TmuxError(
            f"{session.name!r} ({session.id}) runs on host {session.host}, not on this one "
            f"({here()})",
            hint=f"attach to it there: {remote_command(session)}",
        )
    live = session_is_live(session, os.environ)
    go = plan_go(session, live=live, env=os.environ, database=path)
    import logging  # only now: it costs the first frame ~5 ms

    logging.getLogger(__name__).info("pick: %s %s", go.kind, session.id)
    return execute(go)
