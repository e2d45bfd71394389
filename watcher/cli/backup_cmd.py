"""``ccmgr-watch backup create|list|verify|restore|delete|prune``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.backup.catalog import Entry, Settings


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add the ``backup`` group."""
    backup = group("backup", "Back up, verify, restore and rotate the database.")

    def command(name: str, help_text: str, description: str, handler: Any) -> Any:
        parser = backup.add_parser(
            name, parents=[db_parent], help=help_text, description=description
        )
        parser.set_defaults(handler=handler)
        return parser

    create = command(
        "create",
        "write a backup now (full or incremental)",
        "Write one backup into backup.folder: full (a consistent copy of the database and the "
        "config files) or incremental (only what changed since the newest backup). Without "
        "--full or --incremental: incremental when a recent chain exists, else full.",
        run_create,
    )
    kind = create.add_mutually_exclusive_group()
    kind.add_argument("--full", action="store_true", help="a full backup")
    kind.add_argument("--incremental", action="store_true", help="an incremental backup")
    create.add_argument("--note", metavar="TEXT", default="", help="a note kept in the manifest")
    create.add_argument("--json", action="store_true", help="print a JSON object")

    listing = command(
        "list", "the backups in backup.folder", "List the backups, oldest first.", run_list
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    _identity(listing)

    verify = command(
        "verify",
        "check a backup: decrypt, every hash, open its database",
        "Decrypt the backup and every backup its chain needs, check every member against its "
        "manifest, rebuild the database in a temporary folder and run integrity_check on it. "
        "Exit 4 if anything is wrong.",
        run_verify,
    )
    verify.add_argument("backup_id", metavar="BACKUP_ID", help="id, unique id prefix or latest")
    verify.add_argument("--json", action="store_true", help="print a JSON object")
    _identity(verify)

    restore = command(
        "restore",
        "restore a backup (whole, or merge sessions/events/config)",
        "Verify the backup, rebuild the database next to the live one, check it, and swap it "
        "in atomically; the replaced database is kept as <db>.rollback. Refused while a "
        "watcher records into the database (stop it first). --only merges rows without "
        "overwriting newer ones.",
        run_restore,
    )
    restore.add_argument("backup_id", metavar="BACKUP_ID", help="id, unique id prefix or latest")
    restore.add_argument("--dry-run", action="store_true", help="say what would change only")
    restore.add_argument("--only", choices=("sessions", "events", "config"), help="merge only")
    restore.add_argument("--to", metavar="PATH", help="restore into this database file instead")
    restore.add_argument("--json", action="store_true", help="print a JSON object")
    _identity(restore)

    delete = command(
        "delete",
        "delete one backup",
        "Delete one backup (refused while incremental backups build on it).",
        run_delete,
    )
    delete.add_argument("backup_id", metavar="BACKUP_ID", help="id, unique id prefix or latest")
    delete.add_argument("--json", action="store_true", help="print a JSON object")

    prune = command(
        "prune",
        "delete what backup.retention no longer keeps",
        "Apply backup.retention (keep_last, keep_hourly, keep_daily, keep_weekly, "
        "keep_monthly, restic-style): print every backup with keep or remove and the reasons, "
        "and delete the removed ones. A policy that keeps nothing is refused.",
        run_prune,
    )
    prune.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    prune.add_argument("--json", action="store_true", help="print a JSON array")


def _identity(parser: Any) -> None:
    parser.add_argument(
        "--identity",
        metavar="FILE",
        help="age private key file (age-keygen) for backups encrypted to a public key "
        "(default: $CCMGR_WATCH_BACKUP_IDENTITY)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    from watcher.backup.catalog import settings_from
    from watcher.backup.crypto import load_identities
    from watcher.config.scopes import load_config

    identities = load_identities(Path(args.identity)) if getattr(args, "identity", None) else None
    return settings_from(load_config(getattr(args, "project_dir", None)), identities)


def _db(args: argparse.Namespace) -> Path:
    from watcher.cli.settings import db_path

    return db_path(args)


class _Progress:
    """Bytes done, on stderr, only when it is a terminal; at most ten updates a second."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.done = 0
        self.shown = 0.0
        self.enabled = sys.stderr.isatty()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.shown > 0.1:
            self.shown = now
            sys.stderr.write(f"\r{self.what}: {self.done / 1e6:.1f} MB")
            sys.stderr.flush()

    def end(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _entry_json(entry: Entry) -> dict[str, Any]:
    import msgspec

    return dict(msgspec.to_builtins(entry))


def run_create(args: argparse.Namespace) -> int:
    """Handler of ``backup create``."""
    from watcher.backup.create import create_backup
    from watcher.cli.output import print_json
    from watcher.config.locations import resolve_scopes

    settings = _settings(args)
    kind = "full" if args.full else "incremental" if args.incremental else "auto"
    progress = _Progress("writing backup")
    started = time.perf_counter()
    try:
        entry = create_backup(
            _db(args),
            settings,
            kind=kind,
            note=args.note,
            config_files=resolve_scopes(getattr(args, "project_dir", None)),
            progress=progress,
        )
    finally:
        progress.end()
    seconds = round(time.perf_counter() - started, 3)
    if args.json:
        print_json(_entry_json(entry) | {"path": str(settings.folder / entry.file)})
    else:
        print(
            f"backup {entry.id} ({entry.kind}) written: {settings.folder / entry.file} "
            f"({entry.size} bytes, {seconds:.2f}s)"
        )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``backup list``."""
    from watcher.backup.catalog import list_backups
    from watcher.cli.output import print_json, table

    settings = _settings(args)
    entries = list_backups(settings.folder, settings.keys)
    if args.json:
        print_json([_entry_json(e) for e in entries])
        return 0
    if not entries:
        print(f"no backups in {settings.folder}")
        return 0
    rows = [
        [
            e.id,
            e.kind,
            e.parent or "-",
            e.created_at or "?",
            str(e.size),
            "age" if e.encrypted else "-",
            str(e.totals.get("sessions", "?")),
            str(e.totals.get("events", "?")),
            e.note,
        ]
        for e in entries
    ]
    table(
        ["ID", "KIND", "PARENT", "CREATED", "BYTES", "ENCRYPTED", "SESSIONS", "EVENTS", "NOTE"],
        rows,
    )
    return 0


def _find(settings: Settings, wanted: str) -> tuple[list[Entry], Entry]:
    from watcher.backup.catalog import list_backups, resolve

    entries = list_backups(settings.folder, settings.keys)
    return entries, resolve(entries, wanted)


def run_verify(args: argparse.Namespace) -> int:
    """Handler of ``backup verify``."""
    from watcher.backup.restore import verify_backup
    from watcher.cli.output import print_json

    settings = _settings(args)
    entries, target = _find(settings, args.backup_id)
    progress = _Progress(f"verifying {target.id}")
    try:
        report = verify_backup(entries, target, settings, progress)
    finally:
        progress.end()
    if args.json:
        print_json(report)
    else:
        print(
            f"backup {target.id} is sound: chain {' -> '.join(report['chain'])}, "
            f"{report['sessions']} sessions, {report['events']} events"
        )
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Handler of ``backup restore``."""
    from watcher.backup.restore import restore_backup
    from watcher.cli.output import print_json

    if args.to and args.only == "config":
        from store.errors import UsageError

        raise UsageError(
            "--to names a database file; config files go back where they were",
            hint="drop --to, or use --dry-run to see where they would go",
        )
    settings = _settings(args)
    entries, target = _find(settings, args.backup_id)
    db_path = Path(args.to).expanduser().absolute() if args.to else _db(args).absolute()
    progress = _Progress(f"restoring {target.id}")
    try:
        report = restore_backup(
            entries,
            target,
            settings,
            db_path,
            only=args.only,
            dry_run=args.dry_run,
            progress=progress,
        )
    finally:
        progress.end()
    if args.json:
        print_json(report)
        return 0
    verb = "would restore" if args.dry_run else "restored"
    print(f"{verb} backup {target.id} ({' -> '.join(report['chain'])}) into {db_path}")
    for table, change in report.get("changes", {}).items():
        parts = ", ".join(f"{n} {what}" for what, n in change.items())
        print(f"  {table}: {parts}")
    for item in report.get("config", []):
        print(f"  {item['file']}: {item['action']}")
    if report.get("rollback"):
        print(f"the replaced database is kept as {report['rollback']}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Handler of ``backup delete``."""
    from watcher.backup.prune import delete_backup
    from watcher.cli.output import print_json

    entry = delete_backup(_settings(args), args.backup_id)
    if args.json:
        print_json({"deleted": entry.id, "file": entry.file})
    else:
        print(f"deleted backup {entry.id} ({entry.file})")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """Handler of ``backup prune``."""
    from watcher.backup.prune import prune_backups
    from watcher.cli.output import print_json

    result = prune_backups(_settings(args), dry_run=args.dry_run)
    if args.json:
        print_json(result)
        return 0
    for item in result:
        verb = item["action"] if not args.dry_run else f"would {item['action']}"
        reasons = ", ".join(item["reasons"]) or "no rule keeps it"
        print(f"{verb:<14} {item['id']}  {item['kind']:<11}  {reasons}")
    return 0
