"""``ccmgr-watch import``: read the files, plan, back up, write everything in one transaction.

The plan is made twice: once read-only (a dry run ends there; an import that would change
nothing ends there too, without a backup), and again inside the write transaction, so that what
a running watcher committed in between is merged rather than overwritten.

The database is a SQLite file (store/imports.py; a backup of the file first) or a PostgreSQL
URL (store/postgres/imports.py; the same plan, with this machine's host, and a snapshot of the
rows the import changes written before it commits: docs/import.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from store.errors import DataError
from store.imports import ImportReader, ImportWrites, run_import, sessions_for_state
from store.paths import ensure_private_dir, write_private_atomic
from store.timefmt import now_ts
from watcher.importer.export import render_state
from watcher.importer.formats import ParsedFile, Problem
from watcher.importer.plan import ImportPlan, Lookup, build_plan, event_key
from watcher.importer.sources import parse_source

if TYPE_CHECKING:
    from store.postgres.imports import ImportDone, PgImportReader


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did (or, dry, would do)."""

    database: str
    dry_run: bool
    files: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    actions: list[dict[str, Any]] = []
    problems: list[Problem] = []
    backup: str | None = None


def read_sources(
    paths: Sequence[Path], *, skip_bad: bool
) -> tuple[list[ParsedFile], list[Problem]]:
    """Every file parsed; with ``skip_bad`` a file that cannot be read at all is a problem,
    without it the first bad file or entry raises DataError (located)."""
    parsed: list[ParsedFile] = []
    unreadable: list[Problem] = []
    for path in paths:
        try:
            parsed.append(parse_source(path))
        except DataError as exc:
            if not skip_bad:
                raise
            unreadable.append(_file_problem(str(path.absolute()), exc.message))
    if not skip_bad:
        bad = [p for f in parsed for p in f.problems]
        if bad:
            more = f" (and {len(bad) - 1} more bad entries)" if len(bad) > 1 else ""
            raise DataError(
                f"{bad[0].render()}{more}",
                hint="fix the file, or import the rest with --skip-bad (the bad entries are "
                "listed); nothing was written",
            )
    return parsed, unreadable


def _file_problem(file: str, message: str) -> Problem:
    """A DataError's message about a whole file as a Problem (its line:column, or ``$``)."""
    rest = message[len(file) :] if message.startswith(file) else ": " + message
    found = re.match(r"^:(\d+:\d+): (.*)$", rest, re.DOTALL)
    if found:
        return Problem(file=file, where=found.group(1), message=found.group(2))
    rest = rest.removeprefix(": ")
    if rest.startswith("$"):
        where, _, text = rest.partition(": ")
        return Problem(file=file, where=where, message=text)
    return Problem(file=file, where="$", message=rest)


def _planner(
    files: list[ParsedFile], now: str, result: list[ImportPlan], host: str | None = None
) -> Callable[[Any], ImportWrites | None]:
    def plan(reader: ImportReader | PgImportReader) -> ImportWrites | None:
        sessions = [s for f in files for s in f.sessions]
        stored = reader.sessions(
            [s.id for s in sessions],
            [s.name for s in sessions],
            [(s.tmux_server, s.tmux_id) for s in sessions if s.tmux_server and s.tmux_id],
        )
        keys: dict[str, set[tuple[str, str, str]]] = {}
        if any(f.events for f in files):
            for event in reader.events([s.id for s in stored]):
                keys.setdefault(event.session_id, set()).add(
                    event_key(event.event_type, event.timestamp, event.data)
                )
        built = build_plan(
            files,
            Lookup(sessions=stored, event_keys=keys),
            now=now,
            identity_taken=reader.identity_taken,
            host=host,
        )
        result.append(built)
        if not built.writes_anything:
            return None
        return ImportWrites(built.adds, [(u.id, u.changes) for u in built.updates], built.events)

    return plan


def import_files(
    database: Path | str,
    paths: Sequence[Path],
    *,
    dry_run: bool = False,
    skip_bad: bool = False,
    backup: Callable[[], str] | None = None,
    host: str | None = None,
    snapshot: Callable[[ImportDone], str] | None = None,
) -> ImportReport:
    """Import ``paths`` into ``database``: a SQLite file (a Path), or a PostgreSQL URL (a str).

    SQLite: ``backup`` (called only when the import changes an existing database, before it
    does) returns where the backup went. PostgreSQL: ``host`` is recorded with what is added,
    and ``snapshot`` writes what the import changed (inside its transaction, before it commits)
    and returns where."""
    files, unreadable = read_sources(paths, skip_bad=skip_bad)
    plans: list[ImportPlan] = []
    url = database if isinstance(database, str) else None
    if url is not None:
        from store.pgurl import redact
        from store.postgres import imports as pg

        pg.run_import(url, _planner(files, now_ts(), plans, host), write=False)
        shown = redact(url)
    else:
        assert isinstance(database, Path)
        run_import(database, _planner(files, now_ts(), plans), write=False)
        shown = str(database)
    report = ImportReport(
        database=shown,
        dry_run=dry_run,
        files=[
            {
                "file": f.file,
                "format": f.format,
                "sessions": len(f.sessions),
                "bad": len(f.problems),
            }
            for f in files
        ],
    )
    if not dry_run and plans[-1].writes_anything:
        if url is not None:
            from store.postgres.migrate import migrate

            def before_commit(done: ImportDone) -> None:
                if snapshot is not None:
                    report.backup = snapshot(done)

            migrate(url)
            try:
                pg.run_import(
                    url,
                    _planner(files, now_ts(), plans, host),
                    write=True,
                    before_commit=before_commit,
                )
            except BaseException:
                # Written, then the transaction failed: the snapshot describes nothing.
                if report.backup is not None:
                    Path(report.backup).unlink(missing_ok=True)
                    report.backup = None
                raise
        else:
            assert isinstance(database, Path)
            if backup is not None and database.exists():
                report.backup = backup()
            from store.db import migrate_sync

            migrate_sync(database)
            run_import(database, _planner(files, now_ts(), plans), write=True)
    plan = plans[-1]
    report.counts = plan.counts()
    report.counts["bad"] += len(unreadable)
    report.actions = [msgspec.to_builtins(a) for a in plan.actions]
    report.problems = unreadable + plan.problems
    return report


def write_snapshot(folder: Path, database: str, files: Sequence[str], done: ImportDone) -> str:
    """Write what an import into PostgreSQL changed to ``folder`` (0600 in a 0700 folder): the
    stored sessions it changed as they were, the ids of what it added. Returns the file."""
    from datetime import UTC, datetime

    moment = datetime.now(UTC)
    target = folder / f"import-snapshot-{moment.strftime('%Y%m%d-%H%M%S-%f')}.json"
    body = {
        "kind": "ccmgr-watch import snapshot",
        "version": 1,
        "database": database,
        "taken_at": now_ts(),
        "files": list(files),
        "sessions_before": [s.as_dict() for s in done.before],
        "sessions_added": done.added_sessions,
        "events_added": done.added_events,
    }
    try:
        ensure_private_dir(folder)
        write_private_atomic(target, msgspec.json.format(msgspec.json.encode(body), indent=2))
    except OSError as exc:
        from store.errors import StoreError

        raise StoreError(
            f"cannot write the import's snapshot to {folder}: {exc.strerror or exc}; "
            "nothing was imported",
            hint="make backup.folder a folder you can write (config), then import again",
        ) from None
    return str(target)


def export_json(database: Path | str, target: Path) -> int:
    """Write every session of the database (a SQLite file, or a PostgreSQL URL as a str) to
    ``target`` as ``tmux-sessions.json`` (atomic, 0600); returns how many."""
    if isinstance(database, str):
        from store.postgres.imports import sessions_for_state as pg_sessions

        sessions = pg_sessions(database, alive_only=False)
    else:
        sessions = sessions_for_state(database, alive_only=False)
    ensure_private_dir(target.parent)
    write_private_atomic(target, render_state(sessions))
    return len(sessions)
