"""``ccmgr-watch run`` (the watcher service) and ``ccmgr-watch status`` (is one running?)."""

from __future__ import annotations

import argparse

from watcher.cli.argtypes import whole_number

# pathlib and typing are imported by type checkers only: `status` reads a JSON file and starts
# like a plain script that does (they cost it ~15% of its start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The watcher reacts to tmux at the very moments tmux is busy (a session was just created): at
# normal priority it competes with tmux for the CPU and slows the user's tmux commands. Lower
# priority makes it wait for a free CPU instead; on an idle CPU it runs at once just the same
# (see _give_way).


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``run`` and ``status``."""
    run = commands.add_parser(
        "run",
        parents=[db_parent],
        help="watch tmux servers and record every session's life (runs in the foreground)",
        description="Attach to tmux servers in control mode and record sessions and their "
        "events (created, renamed, attached, detached, killed, windows) into the database as they "
        "happen. Without -L/-S/--all it watches your default tmux server. Stops cleanly (flushing "
        "what is queued) on SIGTERM or Ctrl-C. Only one watcher runs per database.",
    )
    run.add_argument(
        "-L",
        "--socket-name",
        action="append",
        default=[],
        metavar="NAME",
        help="watch the server of `tmux -L NAME` (repeatable)",
    )
    run.add_argument(
        "-S",
        "--socket-path",
        action="append",
        default=[],
        metavar="PATH",
        help="watch the server of `tmux -S PATH` (repeatable)",
    )
    run.add_argument(
        "--all",
        action="store_true",
        help="watch every server socket in your tmux socket folder, including later ones",
    )
    run.add_argument(
        "--batch-size",
        type=whole_number(1),
        default=None,
        metavar="N",
        help="most events committed in one transaction (default: the config's "
        "watcher.batch_size, 500)",
    )
    run.add_argument(
        "--nice",
        type=whole_number(0),
        default=None,
        metavar="N",
        help="lower the watcher's CPU priority by N at start (0: leave it alone; default: the "
        "config's watcher.nice, 10) so that tmux itself always runs first",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log debug detail to stderr (-vv: also of the libraries used)",
    )
    run.set_defaults(handler=run_run)

    status = commands.add_parser(
        "status",
        parents=[db_parent],
        help="is a watcher running on this database, and what has it recorded",
        description="Tell whether a watcher is running on the database (by its lock, not just its "
        "status file), which servers it watches, when it started, how many events it wrote, the "
        "last event and the last error. Exit 0 if a watcher is running, 1 if not.",
    )
    status.add_argument("--json", action="store_true", help="print a JSON object")
    status.set_defaults(handler=run_status)


def _give_way(nice: int) -> None:
    """Lower this process's CPU priority by ``nice``, and (Linux) never preempt on wake-up.

    Called before any thread starts: on Linux niceness and scheduling policy are per thread,
    and new threads (the database thread, the tmux client) inherit them from this one.
    SCHED_BATCH keeps the watcher, woken by a notification, from preempting the tmux process
    that is still working; it runs as soon as a CPU is free (measured: a create+kill loop ~9%
    slower at normal priority, ~3% with nice alone, within noise with both).
    """
    import contextlib
    import os

    with contextlib.suppress(OSError):  # not allowed here: run at the normal priority
        os.nice(nice)
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, policy, os.sched_param(0))


def run_run(args: argparse.Namespace) -> int:
    """Handler of ``run``."""
    import signal

    # First of all: until the service listens for signals itself (imports, the config, the
    # migrations take a few hundred ms, a big config longer), SIGTERM from a service manager
    # still means "stop cleanly", not death by signal.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args)
    except _Terminated:
        return 0
    except BaseExceptionGroup as group:
        if group.split(_Terminated)[1] is None:
            return 0
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    import logging
    import os
    import sys

    import anyio

    from watcher.capture.tmux_address import socket_for_name
    from watcher.config.live import describe_errors, reload
    from watcher.config.locations import resolve_scopes
    from watcher.config.schema import Config
    from watcher.config.scopes import database_path
    from watcher.service import Service
    from watcher.service_config import ServiceConfig

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Command-line settings win over the config's `watcher` section, now and after reloads.
    sockets = [socket_for_name(name) for name in args.socket_name]
    sockets += [os.path.abspath(os.path.expanduser(path)) for path in args.socket_path]
    # The default (the config's log_level, info) already logs every state change: -v adds
    # ccmgr-watch's own detail, -vv that of the libraries under it (watchfiles, asyncio).
    level = None if args.verbose == 0 else "DEBUG"
    if args.verbose >= 2:
        logging.getLogger().setLevel(logging.DEBUG)

    def settings(config: Config) -> ServiceConfig:
        return ServiceConfig.from_section(
            config.watcher,
            sockets=sockets,
            watch_all=args.all,
            batch_size=args.batch_size,
            log_level=level,
        )

    config_files = resolve_scopes(None)
    loaded = reload(config_files)
    config_error = describe_errors(loaded)
    if config_error is not None:
        # A background service must not stay down over a typo in a file that mostly belongs to
        # ccmgr-ultra: every valid value applies, the invalid ones (and files that cannot be
        # read) are left out, said once here, and taken once they are fixed.
        logging.getLogger("ccmgr_watch.service").error(
            "configuration not applied where it is invalid (defaults used there): %s", config_error
        )
    config = loaded.config
    service = Service(
        # From the config just loaded (leniently): a config file the watcher cannot read must
        # not stop it at start, where the commands that read the database refuse (exit 3).
        _postgres_url(config, getattr(args, "db", None))
        or database_path(config, getattr(args, "db", None)),
        settings(config),
        config_files=config_files,
        settings=settings,
        config_error=config_error,
        backup_config=config,
    )
    nice = args.nice if args.nice is not None else config.watcher.nice
    if nice:
        _give_way(nice)
    try:
        anyio.run(service.run)
    finally:
        if service.database_abandoned:
            _exit_leaving_database_open()
    return 0


def _exit_leaving_database_open() -> None:
    """Report the error being raised and end the process without closing SQLite.

    The database's files became unwritable (immutable, read-only mount) under the open
    connection: SQLite's close would write to its memory-mapped ``-shm`` and the kernel would
    kill the process with SIGBUS, so the process ends here, at once, with exit code 5.
    """
    import os
    import sys

    from store.errors import CcmgrError, StoreError

    exc = sys.exc_info()[1]
    if isinstance(exc, BaseExceptionGroup):
        found = exc.subgroup(lambda e: isinstance(e, CcmgrError))
        exc = found.exceptions[0] if found else exc
    error = exc if isinstance(exc, CcmgrError) else StoreError("the database cannot be written")
    sys.stderr.write(f"Error: {error.message}\n")
    if error.hint:
        sys.stderr.write(f"Hint: {error.hint}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(StoreError.exit_code)


class _Terminated(BaseException):
    """SIGTERM arrived during start-up (nothing was recorded yet, so nothing is lost)."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def _postgres_url(config: Any, explicit: str | None) -> str | None:
    """The PostgreSQL URL ``run`` is given (``--db``, env, ``storage.database``), or None."""
    import os

    from store.paths import DB_ENV
    from store.pgurl import is_postgres_url

    location = explicit or os.environ.get(DB_ENV) or config.storage.database
    return location if location and is_postgres_url(location) else None


def run_status(args: argparse.Namespace) -> int:
    """Handler of ``status``."""
    # Only the standard library and the light status_file module: `status` reads a JSON file
    # and must start like a plain script that does (the service is never imported here).
    import os

    from watcher.cli.settings import db_file
    from watcher.status_file import lock_holder, path_text, read_status

    location = db_file(args)
    shown = None
    from store.pgurl import is_postgres_url

    if is_postgres_url(location):
        from store.pgurl import local_anchor, redact

        # The watcher of this machine keeps its lock and status file at a local anchor.
        location, shown = local_anchor(location), redact(location)
    path = path_text(location)  # what str(db_path(args)) would be
    if os.path.isdir(path):
        from store.errors import UsageError

        raise UsageError(
            f"{path} is a folder, not a database file",
            hint=f"give the database file, e.g. --db {path_text(path + '/data.db')}",
        )
    holder = lock_holder(path)
    last = read_status(path)
    running = holder is not None
    if running and last is not None and holder and last.get("pid") != holder:
        last = None  # a status file left by an older watcher: not this one's
    if not running and last is not None:
        _mark_stopped(last)
    path = shown or path
    if args.json:
        info: dict[str, Any] = {"database": path, "running": running, "pid": holder or None}
        info["status"] = last
        import json

        # Plain dicts from a JSON file: the stdlib prints them as print_json would, without
        # importing the rendering module (datetime and friends) for nothing.
        print(json.dumps(info, indent=2, ensure_ascii=False, sort_keys=True))
        return 0 if running else 1
    _print_status(path, running, holder, last)
    return 0 if running else 1


def _mark_stopped(last: dict[str, Any]) -> None:
    """A status file whose watcher is gone (stopped, or killed before it could say so): nothing
    it lists is connected any more, and its database state is history."""
    for server in last.get("servers") or []:
        if isinstance(server, dict):
            server["state"] = "stopped"
    state = last.get("database_state")
    if isinstance(state, dict):
        state["ok"] = True
        state["failing"] = state["failing_since"] = None


def _print_status(path: str, running: bool, pid: int | None, last: dict[str, Any] | None) -> None:
    from watcher.cli.output import relative_time

    print(f"database: {path}")
    if running:
        started = last.get("started_at") if last else None
        since = f" since {started} ({relative_time(started)})" if started else ""
        print(f"watcher: running (pid {pid or '?'}){since}")
    elif last is not None:
        how = "stopped" if not last.get("running") else "died without cleaning up"
        print(f"watcher: not running (the last one, pid {last.get('pid')}, {how})")
    else:
        print("watcher: not running")
    if last is None:
        return
    state = last.get("database_state") or {}
    if running and state.get("failing"):
        failing_since = state.get("failing_since")
        print(
            f"database: WRITES FAILING since {failing_since} ({relative_time(failing_since)}): "
            f"{state['failing']}; {state.get('events_waiting', 0)} events waiting"
        )
    if state.get("events_dropped"):
        print(
            f"database: {state['events_dropped']} events did not fit while writes failed "
            "(tmux was reconciled after)"
        )
    servers = last.get("servers") or []
    if last.get("watch_all"):
        print(f"watching every server in {last.get('socket_dir')}")
    for server in servers:
        server_state = server.get("state")
        error = server.get("last_error")
        if not running:
            server_state = "not watched (the watcher is not running)"
        elif isinstance(server_state, dict):
            error = server_state.get("last_error") or error
            if server_state.get("connected"):
                server_state = f"connected, attached to session {server_state.get('session')}"
            else:
                server_state = "waiting for a server"
        line = f"  {server.get('socket')}: {server_state}"
        if error:
            line += f" (last error: {error})"
        print(line)
    print(f"events written: {last.get('events_written', 0)}")
    event = last.get("last_event")
    if event:
        stamp = event.get("timestamp")
        print(
            f"last event: {event.get('event_type')} {event.get('name')!r} ({relative_time(stamp)})"
        )
    error_at = last.get("last_error_at")
    if last.get("last_error"):
        when = f" at {error_at} ({relative_time(error_at)})" if error_at else ""
        past = "" if running and state.get("failing") else " (past)"
        print(f"last error{past}{when}: {last['last_error']}")
    else:
        print("last error: -")
    from watcher.status_file import backup_lines

    backup = last.get("backup")
    for line in backup_lines(backup if isinstance(backup, dict) else None):
        print(line)
    if last.get("config_error"):
        print(f"config error (the last good settings stay in force): {last['config_error']}")
