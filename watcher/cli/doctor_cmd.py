"""``ccmgr-watch doctor``: check the whole setup and say how to fix what needs attention."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from watcher.doctor import Finding

DEFAULT_TIMEOUT = 10.0


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``doctor``."""
    doctor = commands.add_parser(
        "doctor",
        parents=[db_parent],
        help="check tmux, the watcher, the database, the config, permissions and backups",
        description="Check the setup: tmux's version and its known traps, the tmux servers in "
        "your socket folder (alive or stale; no server is started), whether a watcher records "
        "into the database and its last event, the database's quick_check and the search "
        "index's integrity check, pending migrations, config validity, the permissions of the "
        "database, config and backup files, and the last backup's age. Every finding that needs "
        "attention comes with the command that fixes it. Exit 0 when all is well, 1 when "
        "anything needs attention.",
    )
    doctor.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"longest time for each database check (default {DEFAULT_TIMEOUT:g})",
    )
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.set_defaults(handler=run_doctor)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, got {text!r}")
    return value


def run_doctor(args: argparse.Namespace) -> int:
    """Handler of ``doctor``."""
    import os
    from datetime import UTC, datetime

    from watcher import doctor
    from watcher.cli.settings import db_file
    from watcher.status_file import lock_holder, read_status

    now = datetime.now(UTC)
    findings: list[Finding] = [doctor.check_tmux_version()]
    config_findings, config = doctor.check_config()
    from store.pgurl import is_postgres_url, local_anchor, redact

    location = db_file(args)
    url = location if is_postgres_url(location) else None
    # A PostgreSQL store's watcher keeps its lock and status file at a local anchor; messages
    # show the URL without its password.
    db = redact(url) if url else os.path.abspath(location)
    anchor = local_anchor(url) if url else db
    holder = None if os.path.isdir(anchor) else lock_holder(anchor)
    status = read_status(anchor) if holder is not None else None
    if holder and status is not None and status.get("pid") != holder:
        status = None  # left by an older watcher
    running = holder is not None
    findings += doctor.check_servers(status, running)
    service_file, argv = _service()
    findings += doctor.check_watcher(db, holder, status, service_file, now, _manager())
    findings += doctor.check_service_file(_manager(), service_file, argv, db)
    if url:
        findings += doctor.check_postgres(url, running)
    else:
        findings += doctor.check_database(db, args.timeout, running)
    findings += config_findings
    findings += doctor.check_permissions(
        anchor, _config_files(), _backup_folder(config), database_files=url is None
    )
    if url:
        findings.append(doctor.postgres_backups())
    else:
        findings += doctor.check_backups(config, status, running, now)
    attention = [f for f in findings if f.level != "ok"]
    if args.json:
        from watcher.cli.output import print_json

        print_json(
            {
                "ok": not attention,
                "database": db,
                "findings": [f.to_json() for f in findings],
            },
            sort_keys=False,
        )
        return 1 if attention else 0
    _print(findings)
    if attention:
        errors = sum(f.level == "error" for f in attention)
        print(
            f"\n{len(attention)} finding(s) need attention ({errors} error(s), "
            f"{len(attention) - errors} warning(s))"
        )
        return 1
    print("\nall good")
    return 0


def _manager() -> str:
    from watcher.service_install import default_manager

    return default_manager()


def _service() -> tuple[Path, list[str] | None]:
    from watcher.service_install import installed_argv, unit_file, unit_folder

    manager = _manager()
    folder, _ = unit_folder(manager)
    path = unit_file(manager, folder)
    return path, installed_argv(manager, path)


def _config_files() -> list[str]:
    from watcher.config.locations import resolve_scopes

    return [str(p) for p in resolve_scopes(None).values()]


def _backup_folder(config: Any) -> Any:
    from watcher.config.scopes import backup_folder

    return backup_folder(config)


def _print(findings: list[Finding]) -> None:
    from watcher.cli.output import style, use_color

    color = use_color(sys.stdout)
    labels = {"ok": ("ok", "green"), "warn": ("WARN", "yellow"), "error": ("ERROR", "red")}
    for finding in findings:
        label, name = labels[finding.level]
        print(f"{style(label.ljust(5), name, enabled=color)} {finding.message}")
        if finding.fix and finding.level != "ok":
            print(f"      fix: {finding.fix}")
