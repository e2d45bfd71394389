"""``ccmgr-watch run`` (the watcher service) and ``ccmgr-watch status`` (is one running?)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watcher.cli.argtypes import whole_number

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


def _db_path(args: argparse.Namespace) -> Path:
    from watcher.cli.settings import db_path

    return db_path(args)


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
    import logging
    import os
    import signal
    import sys

    import anyio

    from watcher.config.live import reload
    from watcher.config.locations import resolve_scopes
    from watcher.config.schema import Config
    from watcher.service import Service, ServiceConfig, socket_for_name

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
    config_error = loaded if isinstance(loaded, str) else None
    if config_error is not None:
        # A background service must not stay down over a typo in a file that mostly belongs to
        # ccmgr-ultra: run on the defaults, say so, and take the file once it is fixed.
        logging.getLogger("ccmgr_watch.service").error(
            "configuration not applied, running with defaults: %s", config_error
        )
    config = loaded.config if not isinstance(loaded, str) else Config()
    service = Service(
        _db_path(args),
        settings(config),
        config_files=config_files,
        settings=settings,
        config_error=config_error,
    )
    # Until the service listens for signals itself (a few hundred ms of start-up: imports,
    # migrations), a SIGTERM from a service manager still means "stop cleanly", not a crash.
    previous = signal.signal(signal.SIGTERM, _terminate)
    nice = args.nice if args.nice is not None else config.watcher.nice
    if nice:
        _give_way(nice)
    try:
        anyio.run(service.run)
    except _Terminated:
        return 0
    except BaseExceptionGroup as group:
        if group.split(_Terminated)[1] is None:
            return 0
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


class _Terminated(BaseException):
    """SIGTERM arrived during start-up (nothing was recorded yet, so nothing is lost)."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def run_status(args: argparse.Namespace) -> int:
    """Handler of ``status``."""
    from watcher.cli.output import print_json
    from watcher.service import lock_holder, read_status

    path = _db_path(args)
    holder = lock_holder(path)
    last = read_status(path)
    running = holder is not None
    if running and last is not None and holder and last.get("pid") != holder:
        last = None  # a status file left by an older watcher: not this one's
    if args.json:
        info: dict[str, Any] = {"database": str(path), "running": running, "pid": holder or None}
        info["status"] = last
        print_json(info)
        return 0 if running else 1
    _print_status(path, running, holder, last)
    return 0 if running else 1


def _print_status(path: Path, running: bool, pid: int | None, last: dict[str, Any] | None) -> None:
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
    servers = last.get("servers") or []
    if last.get("watch_all"):
        print(f"watching every server in {last.get('socket_dir')}")
    for server in servers:
        state = server.get("state")
        error = server.get("last_error")
        if isinstance(state, dict):
            error = state.get("last_error") or error
            if state.get("connected"):
                state = f"connected, attached to session {state.get('session')}"
            else:
                state = "waiting for a server"
        line = f"  {server.get('socket')}: {state}"
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
    print(f"last error: {last.get('last_error') or '-'}")
    if last.get("config_error"):
        print(f"config error (the last good settings stay in force): {last['config_error']}")
