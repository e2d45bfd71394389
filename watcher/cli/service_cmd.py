"""``ccmgr-watch service install|uninstall|status``: the watcher as a systemd user unit or a
launchd agent."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from watcher.service_install import Installed
    from watcher.service_unit import ServicePlan


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add the ``service`` group."""
    service = group(
        "service",
        "Run the watcher as a user service (systemd on Linux, launchd on macOS).",
    )
    install = service.add_parser(
        "install",
        parents=[db_parent],
        help="write and start the user service that runs `ccmgr-watch run`",
        description="Write a systemd user unit (~/.config/systemd/user/ccmgr-watch.service) or "
        "a launchd agent (~/Library/LaunchAgents/ccmgr-watch.plist) that runs this ccmgr-watch's "
        "`run` with the database and servers chosen now, then enable and start it. Run it again "
        "to change them (the file is replaced atomically, the service restarted). Without a "
        "service manager (no systemctl, or no user bus) it prints the file to install by hand "
        "and exits 1, writing nothing.",
    )
    _manager_options(install)
    install.add_argument(
        "-L",
        "--socket-name",
        action="append",
        default=[],
        metavar="NAME",
        help="the service watches the server of `tmux -L NAME` (repeatable)",
    )
    install.add_argument(
        "-S",
        "--socket-path",
        action="append",
        default=[],
        metavar="PATH",
        help="the service watches the server of `tmux -S PATH` (repeatable)",
    )
    install.add_argument(
        "--all",
        action="store_true",
        help="the service watches every server in your tmux socket folder",
    )
    install.add_argument(
        "--binary",
        metavar="PATH",
        help="the ccmgr-watch the service runs (default: this one, else the one on PATH)",
    )
    install.add_argument(
        "--no-enable",
        action="store_true",
        help="write the file only; do not ask the service manager to enable or start it",
    )
    install.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="print the unit (or plist) and write nothing",
    )
    install.add_argument("--json", action="store_true", help="print a JSON object")
    install.set_defaults(handler=run_install)

    uninstall = service.add_parser(
        "uninstall",
        help="stop and disable the service, remove its file",
        description="Stop and disable the service, remove its unit (or plist) and reload the "
        "service manager. Nothing installed is not an error (exit 0).",
    )
    _manager_options(uninstall)
    uninstall.add_argument("--json", action="store_true", help="print a JSON object")
    uninstall.set_defaults(handler=run_uninstall)

    status = service.add_parser(
        "status",
        parents=[db_parent],
        help="the service manager's view of the service and the watcher's own",
        description="Show whether the service file is installed, what the service manager says "
        "about it (state, pid, restarts) and what the watcher itself reports (as "
        "`ccmgr-watch status`) for the database the service records into. Exit 0 when the "
        "service is installed and its watcher runs, else 1.",
    )
    _manager_options(status)
    status.add_argument("--json", action="store_true", help="print a JSON object")
    status.set_defaults(handler=run_service_status)


def _manager_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manager",
        choices=("systemd", "launchd"),
        default=None,
        help="the service manager (default: launchd on macOS, systemd elsewhere)",
    )
    parser.add_argument(
        "--unit-dir",
        metavar="DIR",
        default=None,
        help="the folder of the unit or plist (default: $CCMGR_WATCH_UNIT_DIR, else "
        "~/.config/systemd/user or ~/Library/LaunchAgents)",
    )


def _manager(args: argparse.Namespace) -> str:
    from watcher.service_install import default_manager

    return str(args.manager or default_manager())


def _plan(args: argparse.Namespace, manager: str) -> ServicePlan:
    import os

    from store.errors import UsageError
    from store.pgurl import is_postgres_url
    from watcher.cli.settings import db_file
    from watcher.service_install import find_binary
    from watcher.service_unit import ServicePlan, run_arguments

    for name in args.socket_name:
        if not name or "/" in name:
            raise UsageError(
                f"-L {name!r}: not a tmux socket name",
                hint="use -S PATH for a socket given by its path",
            )
    binary = find_binary(args.binary)
    location = db_file(args)
    # A file's path absolute now: the service's working folder and environment are not this
    # shell's.
    url = is_postgres_url(location)
    db = _service_url(location) if url else os.path.abspath(location)
    if not url and os.path.isdir(db):
        raise UsageError(
            f"{db} is a folder, not a database file",
            hint=f"give the database file, e.g. --db {os.path.join(db, 'data.db')}",
        )
    sockets = [os.path.abspath(os.path.expanduser(p)) for p in args.socket_path]
    # The service does not inherit this shell's environment: what decides where the config,
    # the sockets and tmux are goes into the service file.
    environment = {
        name: os.environ[name]
        for name in ("XDG_CONFIG_HOME", "TMUX_TMPDIR")
        if os.environ.get(name)
    }
    environment["PATH"] = _service_path()
    return ServicePlan(
        binary=binary,
        run_args=run_arguments(db, args.socket_name, sockets, args.all),
        environment=environment,
    )


def _service_url(url: str) -> str:
    """A PostgreSQL URL for the service file, which other users may read: one that carries a
    password is refused (libpq reads it from ~/.pgpass or $PGPASSFILE instead)."""
    from store.errors import UsageError
    from store.pgurl import redact

    if redact(url) != url:
        raise UsageError(
            f"{redact(url)} carries a password; the service file would hold it in plain text",
            hint="take the password out of the URL and put it in ~/.pgpass "
            "(host:port:database:user:password, chmod 600), then install again",
        )
    return url


def _service_path() -> str:
    """PATH for the service: the folders of tmux and git as found now, then the system's."""
    import os
    import shutil

    folders: list[str] = []
    for tool in ("tmux", "git"):
        found = shutil.which(tool)
        if found:
            folders.append(os.path.dirname(os.path.abspath(found)))
    folders += ["/usr/local/bin", "/usr/bin", "/bin"]
    return ":".join(dict.fromkeys(folders))


def _service_text(manager: str, plan: ServicePlan) -> bytes:
    from watcher.service_unit import launchd_plist, systemd_unit

    if manager == "launchd":
        from watcher.service_install import launchd_log_file

        return launchd_plist(plan, launchd_log_file())
    return systemd_unit(plan).encode("utf-8")


def run_install(args: argparse.Namespace) -> int:
    """Handler of ``service install``."""
    from watcher.cli.output import print_json
    from watcher.service_install import (
        Installed,
        ServiceError,
        enable_launchd,
        enable_systemd,
        manager_problem,
        unit_file,
        unit_folder,
        write_service_file,
    )

    manager = _manager(args)
    plan = _plan(args, manager)
    body = _service_text(manager, plan)
    if args.print_only:
        sys.stdout.write(body.decode("utf-8"))
        return 0
    folder, custom = unit_folder(manager, args.unit_dir)
    path = unit_file(manager, folder)
    if not args.no_enable:
        problem = manager_problem(manager)
        if problem is not None:
            # Nothing half done: the file to install by hand on stdout, the reason on stderr.
            if args.json:
                print_json(
                    {
                        "manager": manager,
                        "file": str(path),
                        "written": False,
                        "manager_problem": problem,
                        "text": body.decode("utf-8"),
                    }
                )
            else:
                sys.stdout.write(body.decode("utf-8"))
            raise ServiceError(
                f"no {manager} user service manager to enable the service with ({problem}); "
                "nothing was written",
                hint=_by_hand(manager, path),
            )
    result = Installed(manager=manager, file=str(path))
    try:
        result.changed = write_service_file(path, body)
    except OSError as exc:
        raise ServiceError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check the permissions of the folder, or choose another with --unit-dir",
        ) from exc
    result.written = True
    if not args.no_enable:
        if manager == "launchd":
            enable_launchd(result)
        else:
            enable_systemd(result, custom_folder=custom)
    if args.json:
        print_json({**_installed_json(result), "argv": plan.argv})
        return 0
    print(f"{'wrote' if result.changed else 'unchanged'}: {path}")
    print(f"runs: {' '.join(_shell_words(plan.argv))}")
    if args.no_enable:
        print(f"not enabled (--no-enable); to start it: {_start_command(manager, path)}")
    elif result.started:
        print(f"enabled and {'restarted' if result.changed else 'started'}")
    else:
        print(f"enabled; {result.note or 'running'}")
    return 0


def _by_hand(manager: str, path: Path) -> str:
    if manager == "launchd":
        return (
            f"save the plist above as {path}, then `{_start_command(manager, path)}`; or write "
            "it without loading it: `ccmgr-watch service install --no-enable`"
        )
    return (
        f"save the unit above as {path} (`ccmgr-watch service install --print > FILE`), then "
        f"`{_start_command(manager, path)}` where a user manager runs (a login session, or "
        "`loginctl enable-linger` for one without); or write it without enabling: "
        "`ccmgr-watch service install --no-enable`"
    )


def _start_command(manager: str, path: Path) -> str:
    import shlex

    if manager == "launchd":
        import os

        return f"launchctl bootstrap gui/{os.getuid()} {shlex.quote(str(path))}"
    return "systemctl --user daemon-reload && systemctl --user enable --now ccmgr-watch"


def _shell_words(argv: list[str]) -> list[str]:
    import shlex

    return [shlex.quote(word) for word in argv]


def _installed_json(result: Installed) -> dict[str, Any]:
    return {
        "manager": result.manager,
        "file": result.file,
        "written": result.written,
        "changed": result.changed,
        "removed": result.removed,
        "enabled": result.enabled,
        "started": result.started,
        "stopped": result.stopped,
        "note": result.note,
    }


def run_uninstall(args: argparse.Namespace) -> int:
    """Handler of ``service uninstall``."""
    from watcher.cli.output import print_json
    from watcher.service_install import manager_problem, uninstall, unit_file, unit_folder

    manager = _manager(args)
    folder, _ = unit_folder(manager, args.unit_dir)
    path = unit_file(manager, folder)
    problem = manager_problem(manager)
    result = uninstall(manager, path, use_manager=problem is None)
    if args.json:
        print_json({**_installed_json(result), "manager_problem": problem})
        return 0
    if result.stopped:
        print("stopped and disabled")
    print(f"removed: {path}" if result.removed else f"not installed: {path} (nothing to remove)")
    if problem is not None:
        print(f"service manager: unavailable ({problem}); nothing was stopped through it")
    return 0


def run_service_status(args: argparse.Namespace) -> int:
    """Handler of ``service status``."""
    import os

    from watcher.cli.output import print_json
    from watcher.cli.settings import db_file
    from watcher.service_install import (
        installed_argv,
        launchd_view,
        manager_problem,
        systemd_view,
        unit_file,
        unit_folder,
    )
    from watcher.status_file import lock_holder, read_status

    manager = _manager(args)
    folder, _ = unit_folder(manager, args.unit_dir)
    path = unit_file(manager, folder)
    argv = installed_argv(manager, path)
    installed = argv is not None or path.exists()
    problem = manager_problem(manager)
    view: dict[str, str] | None = None
    if problem is None and installed:
        view = launchd_view() if manager == "launchd" else systemd_view()
    # The database the service records into (its --db), else the one this command would use.
    db = _db_of(argv) if argv else None
    db = db or db_file(args)
    # A PostgreSQL store's lock and status file are kept under a local anchor (as `status`).
    from store.pgurl import is_postgres_url, local_anchor, redact

    if is_postgres_url(db):
        anchor, db = local_anchor(db), redact(db)
    else:
        anchor = db = os.path.abspath(db)
    holder = lock_holder(anchor)
    last = read_status(anchor)
    if holder and last is not None and last.get("pid") != holder:
        last = None
    running = holder is not None
    info: dict[str, Any] = {
        "manager": manager,
        "file": str(path),
        "installed": installed,
        "argv": argv,
        "manager_problem": problem,
        "manager_view": view,
        "database": db,
        "watcher": {"running": running, "pid": holder or None, "status": last},
    }
    code = 0 if installed and running else 1
    if args.json:
        print_json(info)
        return code
    _print_service_status(info, last)
    return code


def _db_of(argv: list[str]) -> str | None:
    for word in argv:
        if word.startswith("--db="):
            return word[len("--db=") :]
    return None


def _print_service_status(info: dict[str, Any], last: dict[str, Any] | None) -> None:
    from watcher.cli.output import relative_time

    file = info["file"]
    print(f"service file: {file}" if info["installed"] else f"service file: none ({file})")
    if info["argv"]:
        print(f"runs: {' '.join(_shell_words(info['argv']))}")
    view = info["manager_view"]
    if info["manager_problem"]:
        print(f"{info['manager']}: unavailable ({info['manager_problem']})")
    elif view is None:
        print(f"{info['manager']}: -")
    elif "error" in view and info["manager"] == "systemd":
        print(f"systemd: {view['error']}")
    elif info["manager"] == "systemd":
        state = f"{view.get('ActiveState', '?')} ({view.get('SubState', '?')})"
        pid = view.get("MainPID", "0")
        extra = f", pid {pid}" if pid not in ("", "0") else ""
        extra += f", {view.get('NRestarts', '0')} restarts" if view.get("NRestarts") else ""
        result = view.get("Result")
        extra += f", last result {result}" if result and result != "success" else ""
        print(f"systemd: {state}{extra}; unit file {view.get('UnitFileState') or '?'}")
    else:
        pid = f", pid {view['pid']}" if view.get("pid") else ""
        code = view.get("last exit code")
        exit_text = f", last exit code {code}" if code else ""
        print(f"launchd: {view.get('state', '?')}{pid}{exit_text}")
    watcher = info["watcher"]
    print(f"database: {info['database']}")
    if watcher["running"]:
        started = last.get("started_at") if last else None
        since = f" since {started} ({relative_time(started)})" if started else ""
        print(f"watcher: running (pid {watcher['pid'] or '?'}){since}")
        event = last.get("last_event") if last else None
        if event:
            print(
                f"last event: {event.get('event_type')} {event.get('name')!r} "
                f"({relative_time(event.get('timestamp'))})"
            )
    else:
        print("watcher: not running")
