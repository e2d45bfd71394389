"""``ccmgr-watch import [PATH ...]`` and ``ccmgr-watch import --export-json PATH``."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from store.postgres.imports import ImportDone
    from watcher.importer.run import ImportReport


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``import``."""
    parser = commands.add_parser(
        "import",
        parents=[db_parent],
        help="import ccmgr-ultra's session history (JSON state files, its data.db)",
        description="Import sessions from ccmgr-ultra's tmux-sessions.json, its migrator's "
        "state.json or a data.db (recognised from the content). Without PATH: the files "
        "ccmgr-ultra uses (tmux.state_file, state.json in its config folder, "
        "~/.ccmgr-ultra/state.json, ./state.json). A session the database already has (same id, "
        "same tmux identity, or same name and creation time) is merged field by field, newer "
        "values winning; importing the same file twice adds nothing. A database file is backed "
        "up first; into PostgreSQL, the rows the import changes are saved, as they were, to a "
        "snapshot file. One transaction; a bad file or entry stops the import (exit 4) before "
        "anything is written.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files to import")
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would be added, merged and skipped"
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="list bad files and entries and import the rest (in one transaction)",
    )
    parser.add_argument(
        "--export-json",
        metavar="PATH",
        help="instead: write every session to PATH in tmux-sessions.json format (0600, atomic)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.set_defaults(handler=run_import_command)


def run_import_command(args: argparse.Namespace) -> int:
    """Handler of ``import``."""
    from pathlib import Path

    from store.errors import UsageError
    from store.pgurl import is_postgres_url
    from watcher.cli.output import print_json
    from watcher.cli.settings import db_file, db_path

    location = db_file(args)
    # A SQLite file (a Path) or a PostgreSQL URL (kept as text): docs/import.md.
    database: Any = location if is_postgres_url(location) else db_path(args)
    if args.export_json is not None:
        if args.paths or args.dry_run or args.skip_bad:
            raise UsageError(
                "--export-json writes a file: it takes no PATH, --dry-run or --skip-bad",
                hint="ccmgr-watch import --export-json ~/tmux-sessions.json",
            )
        from watcher.importer.run import export_json

        target = Path(args.export_json).expanduser().absolute()
        if target.is_dir():
            raise UsageError(f"{target} is a folder", hint="give the file to write")
        count = export_json(database, target)
        if args.json:
            print_json({"file": str(target), "sessions": count})
        else:
            print(f"wrote {count} sessions to {target}")
        return 0
    from watcher.importer.run import import_files

    paths = [Path(p).expanduser() for p in args.paths] or _default_paths(args)
    if not paths:
        if args.json:
            from store.pgurl import redact

            print_json({"database": redact(str(database)), "files": [], "counts": {}})
        else:
            print("no ccmgr-ultra state files found (looked where ccmgr-ultra keeps them)")
        return 0
    if isinstance(database, str):
        from watcher.cli.settings import watcher_host

        report = import_files(
            database,
            paths,
            dry_run=args.dry_run,
            skip_bad=args.skip_bad,
            host=watcher_host(args),
            snapshot=lambda done: _snapshot(args, database, paths, done),
        )
    else:
        report = import_files(
            database,
            paths,
            dry_run=args.dry_run,
            skip_bad=args.skip_bad,
            backup=lambda: _backup(args, database),
        )
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    if args.skip_bad and report.problems and not report.files:
        return 4  # nothing could be read at all
    return 0


def _default_paths(args: argparse.Namespace) -> list[Any]:
    from watcher.config.scopes import load_config
    from watcher.importer.sources import default_sources

    config = load_config(getattr(args, "project_dir", None))
    return default_sources(config.tmux.state_file)


def _backup(args: argparse.Namespace, database: Any) -> str:
    from watcher.backup.catalog import settings_from
    from watcher.backup.create import create_backup
    from watcher.config.locations import resolve_scopes
    from watcher.config.scopes import load_config

    settings = settings_from(load_config(getattr(args, "project_dir", None)))
    entry = create_backup(
        database,
        settings,
        note="before ccmgr-watch import",
        config_files=resolve_scopes(getattr(args, "project_dir", None)),
    )
    return str(settings.folder / entry.file)


def _snapshot(args: argparse.Namespace, url: str, paths: list[Any], done: ImportDone) -> str:
    from store.pgurl import redact
    from watcher.config.scopes import backup_folder, load_config
    from watcher.importer.run import write_snapshot

    folder = backup_folder(load_config(getattr(args, "project_dir", None)))
    files = [str(p.absolute()) for p in paths]
    return write_snapshot(folder, redact(url), files, done)


def _print_report(report: ImportReport) -> None:
    verb = {"add": "would add", "merge": "would merge", "skip": "unchanged"}
    if not report.dry_run:
        verb = {"add": "added", "merge": "merged", "skip": "unchanged"}
    for item in report.files:
        print(f"{item['file']}: {item['format']}, {item['sessions']} sessions")
    for action in report.actions:
        if action["action"] == "skip":
            continue  # counted below; --json lists them
        how = f" (same {action['matched_by']})" if action.get("matched_by") else ""
        fields = f": {', '.join(action['fields'])}" if action.get("fields") else ""
        events = f", {action['events']} events" if action.get("events") else ""
        into = f" into {action['into']}" if action["into"] != action["id"] else ""
        print(f"  {verb[action['action']]:<11} {action['name']}{into}{how}{fields}{events}")
    for problem in report.problems:
        print(f"  skipped     {problem.render()}")
    c = report.counts
    summary = (
        f"{c.get('added', 0)} added, {c.get('merged', 0)} merged, "
        f"{c.get('skipped', 0)} unchanged, {c.get('events', 0)} events, {c.get('bad', 0)} bad"
    )
    if report.dry_run:
        print(f"dry run: {summary}; nothing written to {report.database}")
    else:
        print(f"{summary} in {report.database}")
    from store.pgurl import is_postgres_url

    if report.backup and is_postgres_url(report.database):
        print(f"the rows this import changed, as they were, and what it added: {report.backup}")
    elif report.backup:
        print(f"backup of the database before the import: {report.backup}")
