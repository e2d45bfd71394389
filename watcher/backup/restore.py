"""Verifying and restoring backups, safely.

A restore verifies every archive of the chain while extracting it into a new folder beside the
database, replays the incrementals into the extracted copy, runs ``PRAGMA integrity_check`` and
the migration checks of ``db status`` on it, and only then swaps it in with one ``rename``. The
database it replaced stays as ``<db>.rollback`` until the next successful restore. Any failure
before the rename leaves the live database exactly as it was. While it runs, the restore holds
the watcher's lock (``<db>.watcher.lock``), so a watcher cannot start meanwhile; one that is
already running makes it refuse (exit 6).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from store import backup_sql, migrations
from store.errors import DataError, UsageError
from store.paths import FILE_MODE, ensure_private_dir
from watcher.backup import archive
from watcher.backup.catalog import Entry, Settings, chain, crashpoint
from watcher.errors import WatcherError

log = logging.getLogger("ccmgr_watch.backup")

ONLY = ("sessions", "events", "config")


def rollback_path(db_path: Path) -> Path:
    """``<db>.rollback``: the database the last restore replaced."""
    return db_path.with_name(db_path.name + ".rollback")


def _lock_path(db_path: Path) -> Path:
    # The same file as watcher.service.lock_path (not imported: it pulls in the whole service).
    return db_path.with_name(db_path.name + ".watcher.lock")


@contextlib.contextmanager
def watcher_lock(db_path: Path) -> Iterator[None]:
    """Hold the watcher's lock of ``db_path``, or refuse (exit 6) while a watcher holds it."""
    path = _lock_path(db_path)
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise WatcherError(
                f"a watcher is recording into {db_path}"
                + (f" (pid {text})" if text.isdigit() else ""),
                hint="stop it first (e.g. `systemctl --user stop ccmgr-watch`), restore, "
                "then start it again",
            ) from None
        # The lock file holds the holder's pid; keep whatever a watcher wrote there before.
        yield
    finally:
        os.close(fd)


def _read_jsonl(path: Path) -> Iterator[list[Any]]:
    decoder = msgspec.json.Decoder(list[Any])
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                yield decoder.decode(line)
            except msgspec.DecodeError:
                raise DataError(
                    f"{path.name} line {number} is not a row", hint="use another backup"
                ) from None


class Assembled(msgspec.Struct, kw_only=True):
    """A database rebuilt from a chain, in ``workdir``, checked."""

    workdir: str
    database: str
    chain: list[str]
    manifests: list[archive.Manifest]


def assemble(
    entries: list[Entry],
    target: Entry,
    settings: Settings,
    workdir: Path,
    progress: archive.Progress | None = None,
) -> Assembled:
    """Verify and extract the chain of ``target`` into ``workdir`` and replay it, then check it.

    Raises DataError for any problem with the archives or the rebuilt database.
    """
    if not target.readable:
        # The index does not know it and the keys at hand cannot open it: say exactly why.
        archive.read_manifest(settings.folder / target.file, settings.keys)
    links = chain(entries, target)
    manifests: list[archive.Manifest] = []
    base = workdir / "0"
    for number, link in enumerate(links):
        dest = workdir / str(number)
        ensure_private_dir(dest)
        manifest = archive.extract(settings.folder / link.file, dest, settings.keys, progress)
        if manifest.id != link.id or manifest.kind != link.kind:
            raise DataError(
                f"{link.file} holds backup {manifest.id} ({manifest.kind}), not what its name says",
                hint="use another backup",
            )
        if number == 0 and manifest.kind != "full":
            raise DataError(f"the chain of {target.id} does not start with a full backup")
        if number > 0:
            _check_links(manifests[-1], manifest)
        manifests.append(manifest)
    crashpoint("restore:extracted")
    database = base / "data.db"
    if not database.exists():
        raise DataError(f"backup {links[0].id} holds no database", hint="use another backup")
    conn = backup_sql.open_copy(database)
    try:
        for number, manifest in enumerate(manifests[1:], 1):
            _replay(conn, workdir / str(number), manifest)
        crashpoint("restore:replayed")
        _check_database(conn, target.id)
        backup_sql.checkpoint(conn)
    finally:
        conn.close()
    crashpoint("restore:checked")
    return Assembled(
        workdir=str(workdir),
        database=str(database),
        chain=[e.id for e in links],
        manifests=manifests,
    )


def _check_links(parent: archive.Manifest, child: archive.Manifest) -> None:
    if child.parent != parent.id or child.base != parent.watermarks:
        raise DataError(
            f"incremental backup {child.id} does not continue {parent.id} "
            "(its parent or starting watermarks differ)",
            hint="use another backup",
        )
    if child.schema_version != parent.schema_version:
        raise DataError(f"incremental backup {child.id} changes the schema version")


def _replay(conn: sqlite3.Connection, folder: Path, manifest: archive.Manifest) -> None:
    with backup_sql.write_transaction(conn):
        for table, member in (
            (backup_sql.SESSIONS, "sessions.jsonl"),
            (backup_sql.EVENTS, "events.jsonl"),
        ):
            cols = manifest.columns.get(table)
            if not cols or not (folder / member).exists():
                raise DataError(f"incremental backup {manifest.id} lacks its {table} rows")
            live = set(backup_sql.columns(conn, table))
            if not set(cols) <= live:
                raise DataError(f"incremental backup {manifest.id} has unknown {table} columns")
            try:
                backup_sql.replay_rows(conn, table, cols, _read_jsonl(folder / member))
            except (sqlite3.DatabaseError, ValueError) as exc:
                raise DataError(
                    f"incremental backup {manifest.id} cannot be replayed: {exc}",
                    hint="use another backup",
                ) from None


def _check_database(conn: sqlite3.Connection, backup_id: str) -> None:
    """``integrity_check`` and ``db status``'s checks; an older schema is migrated."""
    try:
        problems = backup_sql.integrity_problems(conn)
        state = migrations.status(conn)
    except sqlite3.DatabaseError as exc:
        raise DataError(
            f"the database in backup {backup_id} cannot be opened: {exc}", hint="use another backup"
        ) from None
    if problems:
        raise DataError(
            f"the database rebuilt from backup {backup_id} fails its integrity check: "
            + "; ".join(problems[:3]),
            hint="use another backup",
        )
    if state.unknown:
        raise DataError(
            f"backup {backup_id} holds schema version {state.current}, newer than this "
            f"ccmgr-watch knows (latest {state.latest})",
            hint="upgrade ccmgr-watch to restore it",
        )
    if state.mismatched:
        raise DataError(
            f"backup {backup_id}'s migration history does not match this ccmgr-watch",
            hint="use a backup made by this version",
        )
    if state.pending:
        migrations.migrate(conn)


@contextlib.contextmanager
def _workdir(beside: Path | None, backup_id: str) -> Iterator[Path]:
    """A private folder for extraction, removed afterwards."""
    if beside is None:
        with tempfile.TemporaryDirectory(prefix="ccmgr-watch-verify-") as tmp:
            yield Path(tmp)
        return
    folder = beside.with_name(f".{beside.name}.restore-{backup_id}.tmp")
    shutil.rmtree(folder, ignore_errors=True)  # a crashed restore's leftovers
    ensure_private_dir(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def verify_backup(
    entries: list[Entry],
    target: Entry,
    settings: Settings,
    progress: archive.Progress | None = None,
) -> dict[str, Any]:
    """Check every hash, decrypt, and open the database the chain rebuilds; a report."""
    with _workdir(None, target.id) as work:
        built = assemble(entries, target, settings, work, progress)
        with contextlib.closing(backup_sql.open_copy(Path(built.database))) as conn:
            rows = backup_sql.counts(conn)
    return {
        "id": target.id,
        "kind": target.kind,
        "ok": True,
        "chain": built.chain,
        "members": sum(len(m.members) for m in built.manifests),
        "sessions": rows[backup_sql.SESSIONS],
        "events": rows[backup_sql.EVENTS],
    }


def restore_backup(
    entries: list[Entry],
    target: Entry,
    settings: Settings,
    db_path: Path,
    *,
    only: str | None = None,
    dry_run: bool = False,
    progress: archive.Progress | None = None,
) -> dict[str, Any]:
    """Restore ``target`` into ``db_path`` (whole, or ``only`` sessions/events/config).

    Returns a report of what changed (or, with ``dry_run``, would change).
    """
    if only is not None and only not in ONLY:
        raise UsageError(f"--only takes {', '.join(ONLY)}, not {only!r}")
    report: dict[str, Any] = {
        "backup": target.id,
        "database": str(db_path),
        "dry_run": dry_run,
        "mode": f"merge {only}" if only else "replace",
    }
    if dry_run:
        with _workdir(None, target.id) as work:
            built = assemble(entries, target, settings, work, progress)
            report["chain"] = built.chain
            if only == "config":
                report["config"] = _config_plan(built, write=False)
            else:
                report["changes"] = _compare(db_path, Path(built.database), only)
        return report
    if only == "config":
        # The database is not touched: no lock, and a running watcher reloads the files.
        with _workdir(None, target.id) as work:
            built = assemble(entries, target, settings, work, progress)
            report["chain"] = built.chain
            report["config"] = _config_plan(built, write=True)
        return report
    with watcher_lock(db_path), _workdir(db_path, target.id) as work:
        built = assemble(entries, target, settings, work, progress)
        report["chain"] = built.chain
        if only is not None:
            report["changes"] = _compare(db_path, Path(built.database), only)
            _merge(db_path, Path(built.database), only)
        else:
            # Row by row comparison costs as much as the rest of a restore at a million
            # events: --dry-run does it; a restore reports the counts before and after.
            before = _counts(db_path)
            report["rollback"] = _swap(db_path, Path(built.database))
            after = _counts(db_path)
            report["changes"] = {
                t: {"before": before.get(t, 0), "after": n} for t, n in after.items()
            }
    log.info("restored backup %s into %s (%s)", target.id, db_path, report["mode"])
    return report


def _compare(db_path: Path, restored: Path, only: str | None) -> dict[str, dict[str, int]]:
    if not db_path.exists() or db_path.stat().st_size == 0:
        with contextlib.closing(backup_sql.open_copy(restored)) as conn:
            rows = backup_sql.counts(conn)
        return {t: {"added": n, "replaced": 0, "kept": 0, "removed": 0} for t, n in rows.items()}
    conn = backup_sql.open_copy(db_path, read_only=True)
    try:
        backup_sql.attach(conn, restored)
        if only is None:
            return backup_sql.compare_replace(conn)
        return backup_sql.compare_merge(conn, only)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"cannot compare with {db_path}: {exc}") from None
    finally:
        conn.close()


def _counts(db_path: Path) -> dict[str, int]:
    if not db_path.exists() or db_path.stat().st_size == 0:
        return {}
    try:
        with contextlib.closing(backup_sql.open_copy(db_path)) as conn:
            return backup_sql.counts(conn)
    except sqlite3.DatabaseError:
        return {}  # not a ccmgr-watch database (yet): it is replaced all the same


def _merge(db_path: Path, restored: Path, only: str) -> None:
    from store.db import migrate_sync

    migrate_sync(db_path)  # the live database must have the tables to merge into
    conn = backup_sql.open_copy(db_path)
    try:
        backup_sql.attach(conn, restored)
        with backup_sql.write_transaction(conn):
            backup_sql.merge(conn, only)
            crashpoint("restore:merged")
        backup_sql.detach(conn)
    finally:
        conn.close()


def _swap(db_path: Path, restored: Path) -> str | None:
    """Put ``restored`` in place of ``db_path`` with one rename; returns the rollback file."""
    folder = db_path.parent
    ensure_private_dir(folder)
    rollback: Path | None = None
    if db_path.exists():
        # Empty the live WAL into the file, so the file alone is the whole database.
        with contextlib.closing(backup_sql.open_copy(db_path)) as conn:
            backup_sql.checkpoint(conn)
        rollback = rollback_path(db_path)
        staged = rollback.with_name(rollback.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
        try:
            os.link(db_path, staged)
        except OSError:
            shutil.copy2(db_path, staged)
        os.replace(staged, rollback)
        archive.fsync_dir(folder)
        crashpoint("restore:rollback-kept")
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                db_path.with_name(db_path.name + suffix).unlink()
    os.chmod(restored, FILE_MODE)
    os.replace(restored, db_path)
    archive.fsync_dir(folder)
    crashpoint("restore:swapped")
    return str(rollback) if rollback else None


def _config_plan(built: Assembled, *, write: bool) -> list[dict[str, str]]:
    """The config files of the full backup and where they go back; written when ``write``."""
    from watcher.config.writer import atomic_write, backup_file

    full = built.manifests[0]
    folder = Path(built.workdir) / "0"
    done = []
    for member in full.members:
        if not member.name.startswith("config/") or not member.source:
            continue
        target = Path(member.source)
        data = (folder / member.name).read_bytes()
        same = target.exists() and target.read_bytes() == data
        action = "kept" if same else ("replaced" if target.exists() else "added")
        item = {"file": str(target), "action": action}
        if write and not same:
            if target.exists():
                item["previous"] = str(backup_file(target))
            atomic_write(target, data)
        done.append(item)
    return done
