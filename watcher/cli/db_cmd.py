"""``ccmgr-watch db``: migrate the schema and report where it stands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


def register(commands: Any, group: Callable[[str, str], Any], db_parent: Any) -> None:
    """Add ``db migrate``, ``db status`` and ``db reindex``."""
    db = group("db", "Create, migrate and inspect the database.")
    migrate = db.add_parser(
        "migrate",
        parents=[db_parent],
        help="apply pending migrations (or go to --to N, up or down)",
        description="Bring the database to the latest schema version, or to --to N (up or down). "
        "Creates the database (0600, in a 0700 folder) if it does not exist. Refused (exit 6) "
        "while a watcher is recording into the database, unless --force.",
    )
    migrate.add_argument("--to", type=int, metavar="N", help="target schema version (0 = empty)")
    migrate.add_argument(
        "--force",
        action="store_true",
        help="migrate even while a watcher is recording into the database (it may lose events "
        "or stop; stop the watcher instead)",
    )
    migrate.add_argument("--json", action="store_true", help="print the steps taken as JSON")
    migrate.set_defaults(handler=run_migrate)

    status = db.add_parser(
        "status",
        parents=[db_parent],
        help="current and latest schema versions, pending migrations, checksums",
        description="Show the database's schema version, what is pending, and whether every "
        "applied migration still matches its file. Exit 5 if a checksum does not match.",
    )
    status.add_argument("--json", action="store_true", help="print a JSON object")
    status.set_defaults(handler=run_status)

    reindex = db.add_parser(
        "reindex",
        parents=[db_parent],
        help="rebuild the search index from the sessions table",
        description="Rebuild the full-text search index from the sessions table, in one "
        "transaction, with the name-order snapshot that `query --sort name` reads (the "
        "watcher rebuilds that by itself only up to 100,000 sessions). Run it after VACUUM "
        "(which may renumber the rows the index points at), if a search misses a session it "
        "should find, or when the watcher's log says the snapshot is due. Migrates the "
        "database first.",
    )
    reindex.add_argument("--json", action="store_true", help="print a JSON object")
    reindex.set_defaults(handler=run_reindex)

    copy = db.add_parser(
        "copy",
        help="copy a whole history from one database into another (SQLite <-> PostgreSQL)",
        description="Copy every session and event of SOURCE into DEST, each a SQLite file or a "
        "postgresql:// URL (created and migrated if needed). Idempotent: copying again adds "
        "nothing; a session newer in SOURCE is updated. Sessions recorded before hosts were "
        "get --host. Shows progress on a terminal.",
    )
    copy.add_argument("source", metavar="SOURCE", help="a database file or a postgresql:// URL")
    copy.add_argument("dest", metavar="DEST", help="a database file or a postgresql:// URL")
    copy.add_argument(
        "--host",
        metavar="NAME",
        help="host of the sessions and events that have none (default: this machine's)",
    )
    copy.add_argument("--json", action="store_true", help="print the counts as a JSON object")
    copy.set_defaults(handler=run_copy)


def _db_path(args: argparse.Namespace) -> Path:
    from watcher.cli.settings import db_path

    return db_path(args)


def _postgres_url(args: argparse.Namespace) -> str | None:
    """The PostgreSQL URL the command is given (``--db``, env or config), or None for a file."""
    from store.pgurl import is_postgres_url
    from watcher.cli.settings import db_file

    location = db_file(args)
    return location if is_postgres_url(location) else None


def run_migrate(args: argparse.Namespace) -> int:
    """Handler of ``db migrate``."""
    from store.db import migrate_sync

    url = _postgres_url(args)
    if url is not None:
        from store.pgurl import redact
        from store.postgres import migrate as pg

        if args.to is not None:
            _check_target(args.to, pg.load_migrations())
        # Several watchers may share the server: the migration's advisory lock keeps their
        # own migrations out, and a running watcher's writes wait for it.
        return _print_steps(args, redact(url), pg.migrate(url, args.to))
    path = _db_path(args)
    if args.to is not None:
        _check_target(args.to)
    _check_no_watcher(path, force=args.force)
    return _print_steps(args, str(path), migrate_sync(path, args.to))


def _print_steps(args: argparse.Namespace, path: str, steps: list[tuple[str, Any]]) -> int:
    from watcher.cli.output import print_json

    if args.json:
        print_json(
            {
                "database": path,
                "steps": [{"direction": d, "version": m.version, "name": m.name} for d, m in steps],
            }
        )
        return 0
    if not steps:
        print(f"{path}: already at the requested schema version")
    for direction, migration in steps:
        arrow = "applied" if direction == "up" else "reverted"
        print(f"{arrow} {migration.filename}")
    return 0


def _check_target(target: int, shipped: list[Any] | None = None) -> None:
    """A version this program does not ship is a usage mistake (exit 2), found before any write."""
    from store import migrations
    from store.errors import UsageError

    shipped = migrations.load_migrations() if shipped is None else shipped
    latest = max((m.version for m in shipped), default=0)
    if not 0 <= target <= latest:
        raise UsageError(
            f"there is no schema version {target}",
            hint=f"the latest is {latest}; choose --to from 0 (empty) to {latest}",
        )


def _check_no_watcher(path: Path, *, force: bool) -> None:
    """Refuse to migrate under a running watcher (it would lose events or stop), unless forced."""
    import sys

    from watcher.errors import WatcherError
    from watcher.status_file import lock_holder

    pid = lock_holder(path)
    if pid is None:
        return
    who = f"a watcher (pid {pid})" if pid else "a watcher"
    if not force:
        raise WatcherError(
            f"{who} is recording into {path}; migrating under it would drop or change tables "
            "it writes",
            hint="stop the watcher first (e.g. `systemctl --user stop ccmgr-watch`), migrate, "
            "then start it again; --force migrates anyway",
        )
    sys.stderr.write(
        f"WARNING: --force: migrating {path} while {who} is recording into it; the watcher "
        "may lose events or stop. Restart it afterwards.\n"
    )


def run_status(args: argparse.Namespace) -> int:
    """Handler of ``db status``."""
    from store.db import schema_status
    from store.errors import StoreError
    from watcher.cli.output import print_json

    url = _postgres_url(args)
    if url is not None:
        from store.pgurl import redact
        from store.postgres.migrate import schema_status as pg_status

        state, shown, exists = pg_status(url), redact(url), True
    else:
        path = _db_path(args)
        state, shown, exists = schema_status(path), str(path), path.exists()
    info = state.to_dict() | {"database": shown, "exists": exists}
    if args.json:
        print_json(info)
    else:
        print(f"database: {shown}{'' if exists else ' (does not exist yet)'}")
        print(f"schema version: {state.current} (latest {state.latest})")
        for m in state.pending:
            print(f"pending: {m.filename}")
        for m in state.mismatched:
            print(f"CHANGED AFTER APPLY: {m.filename}")
        if state.ok and not state.pending:
            print("up to date; every applied migration matches its file")
    if not state.ok:
        raise StoreError(
            "the database's migration history does not match this ccmgr-watch",
            hint="see the lines above; a changed migration file must be restored",
        )
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    """Handler of ``db reindex``."""
    import time

    from store.db import migrate_sync, reindex
    from watcher.cli.output import print_json

    url = _postgres_url(args)
    started = time.perf_counter()
    if url is not None:
        from store.pgurl import redact
        from store.postgres import migrate as pg

        pg.migrate(url)
        started = time.perf_counter()
        shown, rows = redact(url), pg.reindex(url)
    else:
        path = _db_path(args)
        migrate_sync(path)
        started = time.perf_counter()
        shown, rows = str(path), reindex(path)
    seconds = round(time.perf_counter() - started, 3)
    if args.json:
        print_json({"database": shown, "sessions_indexed": rows, "seconds": seconds})
    else:
        print(f"{shown}: search index rebuilt over {rows} sessions in {seconds:.3f}s")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    """Handler of ``db copy``."""
    import os
    import sys

    from store.copy import copy_store
    from store.errors import UsageError
    from store.pgurl import is_postgres_url, redact
    from watcher.config.rules import valid_host
    from watcher.service_config import local_host

    host = args.host or local_host()
    if not valid_host(host):
        raise UsageError(
            f"--host: invalid host name {host!r}", hint='letters, digits, ".", "-" and "_"'
        )
    source, dest = (
        x if is_postgres_url(x) else os.path.expanduser(x) for x in (args.source, args.dest)
    )
    if not is_postgres_url(source) and not os.path.isfile(source):
        raise UsageError(f"no database at {source}", hint="give an existing database file or URL")
    terminal = sys.stderr.isatty() and not args.json

    def progress(what: str, done: int, total: int) -> None:
        # One line per phase (sessions, then events), rewritten in place as chunks land.
        end = "\n" if done >= total and what == "sessions" else ""
        sys.stderr.write(f"\rcopied {done} of {total} {what}{end}")
        sys.stderr.flush()

    result = copy_store(source, dest, host=host, progress=progress if terminal else None)
    if terminal:
        sys.stderr.write("\n")
    if args.json:
        from watcher.cli.output import print_json

        print_json(result.as_dict() | {"source": redact(source), "dest": redact(dest)})
        return 0
    print(
        f"copied {result.sessions} sessions and {result.events_added} new events "
        f"(of {result.events_read}) from {redact(source)} to {redact(dest)}"
    )
    return 0
