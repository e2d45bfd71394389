"""``ccmgr-watch revive SESSION``: bring an ended session back on its tmux server."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import contextmanager

from watcher.cli.argtypes import text

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    import threading
    from collections.abc import Iterator
    from typing import Any, NoReturn

    from store.reads import SessionRecord


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``revive``."""
    from store.reads import PREFIX_RULE
    from watcher.cli.main import allow_dash_values

    revive = commands.add_parser(
        "revive",
        parents=[db_parent],
        help="bring an ended session back: its name, directory, windows and layouts",
        description="Recreate an ended session on its tmux server as it was last recorded: its "
        "name (NAME-2, NAME-3... if that name is taken), start directory, and its windows with "
        "their names, order, directories and layouts. Windows run your default shell. A "
        "directory that no longer exists is replaced by your home folder (with a warning); a "
        "tmux server that is not running is started. The new session is linked to the old one "
        "by a `revived` event on both. A session that still runs is refused (exit 2).",
    )
    revive.add_argument(
        "session",
        metavar="SESSION",
        type=text,
        help=f"the ended session's id or name (as for `session show`); {PREFIX_RULE}",
    )
    allow_dash_values(revive, "ccmgr-watch revive -- {}")
    revive.add_argument(
        "--attach",
        action="store_true",
        help="then switch to it (switch-client inside tmux, attach-session outside)",
    )
    revive.add_argument(
        "--name", metavar="NAME", type=text, help="give the revived session this name instead"
    )
    revive.add_argument("--json", action="store_true", help="print a JSON object")
    revive.set_defaults(handler=run_revive)


def run_revive(args: argparse.Namespace) -> int:
    """Handler of ``revive``."""
    import threading

    # Importing libtmux is most of this command's own time (~160 ms on a quiet machine): it
    # runs beside the database read and the tmux checks below, which mostly wait.
    preload = threading.Thread(target=_import_libtmux, daemon=True)
    preload.start()

    from store.pgurl import is_postgres_url
    from watcher.cli.settings import db_file, db_path
    from watcher.revive_plan import check_name

    if args.name is not None:
        check_name(args.name)
    location = db_file(args)
    if not is_postgres_url(location):
        return _revive(args, preload, _FileStore(str(db_path(args))))
    from store.postgres.revive import PgRevival

    store = PgRevival(location)  # one connection for the whole command
    try:
        return _revive(args, preload, store)
    finally:
        store.close()


def _revive(args: argparse.Namespace, preload: threading.Thread, store: Any) -> int:
    """Revive what ``args`` names through ``store`` (a :class:`_FileStore` or
    :class:`store.postgres.revive.PgRevival`)."""
    import os
    import sys

    from store.timefmt import now_ts
    from watcher.capture.events import session_id
    from watcher.cli.settings import watcher_host
    from watcher.revive import carry_out, session_is_live, session_names
    from watcher.revive_plan import free_name, plan_revive

    session = _find(store, args.session)
    host = watcher_host(args)
    # Recorded on another machine (a shared PostgreSQL store): tmux here knows nothing of it,
    # and that machine's watcher owns its status. It is recreated here, on this machine's server
    # of the same name, and left as it is there (docs/revive.md).
    elsewhere = session.host is not None and session.host != host
    notes: list[str] = []
    if elsewhere:
        socket = _local_socket(session)
        if session.status != "ended":
            notes.append(
                f"{session.name!r} is still recorded as running on {session.host}: this is a "
                f"copy of it here; the session there is left as it is"
            )
    else:
        socket = None
        # An ended session stays ended: tmux never gives its id to another session of the
        # same server. One the store still believes alive is asked about in tmux.
        if session.status != "ended" and session_is_live(session):
            _refuse_live(session)
    home = os.path.expanduser("~")
    plan = plan_revive(session, home=home, socket=socket)
    wanted = args.name if args.name is not None else plan.name
    names = session_names(plan.socket)
    name = free_name(wanted, names or [])
    if name != wanted:
        notes.append(f"a session named {wanted!r} exists: the revived one is {name!r}")
    if elsewhere and names is None:
        # tmux makes its socket folder for `-L`, not for a path: a machine where tmux never
        # ran has none yet (tmux's own mode: 0700).
        os.makedirs(os.path.dirname(plan.socket), mode=0o700, exist_ok=True)
    preload.join()
    revived = carry_out(plan, name, server_running=names is not None)
    if revived.server_started:
        notes.append(f"no tmux server was running at {plan.socket}: started one")
    # The key the watcher records this server lifetime by (watcher.capture.server_task): the
    # lifetime's key from before hosts were while sessions recorded under it live, else the key
    # with this machine's host.
    server = revived.server
    if revived.server_started or not store.server_key_in_use(server):
        server = f"{server}@{host}"
    new_id = session_id(server, revived.tmux_id)
    recorded: dict[str, Any] = {
        "old_id": session.id,
        "new_id": new_id,
        "name": revived.name,
        "server": server,
        "tmux_id": revived.tmux_id,
        "directory": plan.directory,
        "project": session.project,
        "worktree": session.worktree,
        "branch": session.branch,
        "windows": revived.windows,
        "timestamp": now_ts(),
        "host": host,
    }
    store.record_revival(**recorded, end_old=not elsewhere)
    warnings = [*plan.warnings, *revived.warnings]
    if args.json:
        from watcher.cli.output import print_json

        print_json(
            {
                "id": new_id,
                "name": revived.name,
                "from": session.id,
                "socket": plan.socket,
                "tmux_id": revived.tmux_id,
                "server_started": revived.server_started,
                "windows": revived.windows,
                "warnings": warnings,
                "notes": notes,
            }
        )
    else:
        for warning in warnings:
            print(f"Warning: {warning}", file=sys.stderr)
        for note in notes:
            print(f"Note: {note}", file=sys.stderr)
        count = len(revived.windows)
        print(
            f"revived {session.name!r} as {revived.name!r} ({new_id}) on {plan.socket}: "
            f"{count} window{'s' if count != 1 else ''}"
        )
    sys.stdout.flush()
    if args.attach:
        _switch_to(plan.socket, revived.tmux_id)
    return 0


class _FileStore:
    """What revive does on a SQLite file (store/revive_sql.py); the PostgreSQL counterpart is
    :class:`store.postgres.revive.PgRevival`."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read connection for the command's reads (store.reads)."""
        from store.reads import open_reader

        conn = open_reader(self.path)
        try:
            yield conn
        finally:
            conn.close()

    def server_key_in_use(self, key: str) -> bool:
        """Whether sessions believed alive were recorded under the server key ``key``."""
        from pathlib import Path

        from store.revive_sql import server_key_in_use

        return server_key_in_use(Path(self.path), key)

    def record_revival(self, **recorded: Any) -> None:
        """Store the revived session and its ``revived`` events."""
        from pathlib import Path

        from store.revive_sql import record_revival

        record_revival(Path(self.path), **recorded)


def _import_libtmux() -> None:
    # A failure here is reported by the real import in carry_out, where it happens again.
    try:
        import libtmux  # noqa: F401
    except Exception:
        return


def _find(store: Any, ref: str) -> SessionRecord:
    import sqlite3

    from store.errors import CcmgrError, UsageError
    from store.reads import find_session, read_error

    try:
        with store.reading() as conn:
            return find_session(conn, ref)
    except sqlite3.Error as exc:
        raise read_error(getattr(store, "path", ""), exc) from exc
    except UsageError:
        raise
    except CcmgrError as exc:  # nothing of that name or id: a usage mistake here
        raise UsageError(exc.message, hint=exc.hint) from exc


def _local_socket(session: SessionRecord) -> str:
    """Where a session recorded on another host comes back: this machine's tmux server of the
    same socket name (``tmux -L work`` there is ``tmux -L work`` here), in this user's socket
    folder; the other machine's path may not exist here or belong to another user."""
    import os

    from watcher.capture.tmux_address import socket_dir
    from watcher.revive_plan import socket_of_session

    return os.path.join(socket_dir(), os.path.basename(socket_of_session(session)) or "default")


def _refuse_live(session: SessionRecord) -> NoReturn:
    import shlex

    from store.errors import UsageError
    from watcher.revive_plan import socket_of_session

    socket = socket_of_session(session)
    target = shlex.quote(session.tmux_id or session.name)
    raise UsageError(
        f"the session {session.name!r} ({session.id}) is still running",
        hint=f"attach to it instead: tmux -S {shlex.quote(socket)} attach-session -t {target}",
    )


def _switch_to(socket: str, tmux_id: str) -> None:
    """Replace this process with tmux, on the revived session: ``switch-client`` when run inside
    a client of that server, ``attach-session`` when not inside tmux."""
    import os
    import sys

    inside = os.environ.get("TMUX", "")
    argv = ["tmux", "-S", socket]
    if inside:
        if os.path.realpath(inside.split(",", 1)[0]) != os.path.realpath(socket):
            # tmux does not nest clients, and switch-client cannot cross servers.
            print(
                f"Note: you are inside another tmux server; to go there, run outside tmux: "
                f"tmux -S {socket} attach-session -t '{tmux_id}'",
                file=sys.stderr,
            )
            return None
        argv += ["switch-client", "-t", tmux_id]
    else:
        argv += ["attach-session", "-t", tmux_id]
    os.execvp("tmux", argv)  # noqa: S606  # an argv list; becoming tmux is the point
