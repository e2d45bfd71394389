"""Creating a backup: full (online backup API copy) or incremental (rows above the watermarks).

Everything is staged under a temporary name in the backup folder, the archive is written to a
temporary file and fsynced, and only then renamed to its final name: a crash at any step leaves
the folder as it was plus temporary files (``.tmp-*``), which ``list`` ignores and the next
create removes.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from store import backup_sql
from store.errors import ConfigError, StoreError, UsageError
from store.paths import ensure_private_dir
from store.reads import open_reader
from store.timefmt import format_ts, utcnow
from watcher import __version__
from watcher.backup import archive
from watcher.backup.catalog import (
    FULL_EVERY,
    TEMP_PREFIX,
    Entry,
    Settings,
    chain,
    crashpoint,
    entry_from,
    folder_lock,
    list_backups,
    new_id,
    remove_leftovers,
    write_index,
)

log = logging.getLogger("ccmgr_watch.backup")

KINDS = ("auto", "full", "incremental")


def choose_parent(
    entries: list[Entry], schema_version: int, *, longest: int | None = FULL_EVERY
) -> Entry | None:
    """The backup an incremental builds on, or None when a full one is due.

    The newest backup, if its chain is complete and readable, its schema is the database's,
    and the chain since its full backup is shorter than ``longest`` (None: any length).
    """
    if not entries:
        return None
    newest = entries[-1]
    try:
        links = chain(entries, newest)
    except Exception:
        return None
    if not all(e.readable for e in links) or newest.schema_version != schema_version:
        return None
    return newest if longest is None or len(links) < longest else None


def create_backup(
    db_path: Path,
    settings: Settings,
    *,
    kind: str = "auto",
    note: str = "",
    now: datetime | None = None,
    config_files: Mapping[Any, Path] | None = None,
    progress: archive.Progress | None = None,
) -> Entry:
    """Write one backup of ``db_path`` into the settings' folder and return its entry.

    ``kind``: ``full``, ``incremental`` (refused without a backup to build on) or ``auto``.
    ``config_files`` maps scope names to config files to include in a full backup.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown backup kind {kind!r}", hint="full, incremental or auto")
    if not db_path.exists():
        raise StoreError(
            f"no database at {db_path}",
            hint="run `ccmgr-watch db migrate` or start the watcher to create it",
        )
    encrypted = settings.encryption != "none"
    if encrypted and not settings.keys.recipients and not settings.keys.passphrase:
        raise ConfigError(
            f"backup.encryption is {settings.encryption} but no passphrase is set "
            f"({settings.keys.where or 'none'} is empty)",
            hint="set backup.passphrase_file, $CCMGR_WATCH_BACKUP_PASSPHRASE or "
            "backup.recipients_file (age public keys)",
        )
    folder = settings.folder
    ensure_private_dir(folder)
    with folder_lock(folder):
        remove_leftovers(folder)
        entries = list_backups(folder, settings.keys)
        moment = now or utcnow()
        backup_id = new_id(moment, entries)
        staging = folder / f"{TEMP_PREFIX}{backup_id}"
        ensure_private_dir(staging)
        source = open_reader(str(db_path))
        try:
            version = backup_sql.schema_version(source)
            # An explicit --incremental extends a chain of any length.
            longest = FULL_EVERY if kind == "auto" else None
            parent = None if kind == "full" else choose_parent(entries, version, longest=longest)
            if kind == "incremental" and parent is None:
                raise UsageError(
                    "no backup to build an incremental backup on (none yet, its chain is "
                    "incomplete, or the schema changed since)",
                    hint="run `ccmgr-watch backup create --full` first",
                )
            if parent is None:
                manifest = _stage_full(source, staging, config_files or {})
            else:
                manifest = _stage_incremental(source, staging, parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            source.close()
        crashpoint("create:staged")
        manifest = msgspec.structs.replace(
            manifest,
            id=backup_id,
            created_at=format_ts(moment),
            compression=settings.compression,
            note=note,
            database=str(db_path),
        )
        name = archive.file_name(backup_id, manifest.kind, settings.compression, encrypted)
        partial = folder / f"{TEMP_PREFIX}{name}"
        sources = {m.name: staging / m.name for m in manifest.members}
        try:
            archive.write_archive(
                partial,
                manifest,
                sources,
                compression=settings.compression,
                keys=settings.keys if encrypted else None,
                progress=progress,
            )
        except BaseException:
            # A full disk, a bad key: leave no temporary files behind (a crash leaves them to
            # the next create).
            partial.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        crashpoint("create:written")
        final = folder / name
        partial.rename(final)
        archive.fsync_dir(folder)
        crashpoint("create:renamed")
        entry = entry_from(manifest, final, final.stat().st_size)
        write_index(folder, [*entries, entry])
        shutil.rmtree(staging, ignore_errors=True)
        crashpoint("create:indexed")
    log.info("backup %s (%s) written: %s, %d bytes", entry.id, entry.kind, final, entry.size)
    return entry


def _base_manifest(kind: str, parent: Entry | None, version: int) -> archive.Manifest:
    return archive.Manifest(
        format=archive.FORMAT,
        format_version=archive.FORMAT_VERSION,
        id="",
        kind=kind,
        parent=parent.id if parent else None,
        created_at="",
        program_version=__version__,
        schema_version=version,
        watermarks=archive.Watermark(),
    )


def _member(staging: Path, name: str, source: str | None = None) -> archive.Member:
    size, digest = archive.hash_file(staging / name)
    return archive.Member(name=name, size=size, sha256=digest, source=source)


def _stage_full(
    source: sqlite3.Connection, staging: Path, config_files: Mapping[Any, Path]
) -> archive.Manifest:
    copy = staging / "data.db"
    archive.private_open(copy).close()
    backup_sql.copy_database(source, copy)
    # Watermarks and counts of the copy itself: exactly what the backup holds.
    with contextlib.closing(backup_sql.open_copy(copy, read_only=True)) as conn:
        marks = backup_sql.read_watermarks(conn)
        version = backup_sql.schema_version(conn)
    members = [_member(staging, "data.db")]
    for scope, path in sorted(config_files.items()):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # a scope without a file
        name = f"config/{scope}.yaml"
        ensure_private_dir((staging / name).parent)
        with archive.private_open(staging / name) as out:
            out.write(data)
        members.append(_member(staging, name, str(path)))
    counts = {"sessions": marks.sessions, "events": marks.events}
    return msgspec.structs.replace(
        _base_manifest("full", None, version),
        watermarks=archive.Watermark(event_id=marks.event_id, session_change=marks.session_change),
        counts=counts,
        totals=counts,
        members=members,
    )


def _stage_incremental(
    source: sqlite3.Connection, staging: Path, parent: Entry
) -> archive.Manifest:
    base = parent.watermarks
    encoder = msgspec.json.Encoder()
    backup_sql.begin_read(source)
    try:
        marks = backup_sql.read_watermarks(source, count_events=False)
        version = backup_sql.schema_version(source)
        cols = {t: backup_sql.columns(source, t) for t in backup_sql.TABLES}
        counts = {}
        for table, member, rows in (
            (
                backup_sql.SESSIONS,
                "sessions.jsonl",
                backup_sql.sessions_changed_since(
                    source, base.session_change, cols[backup_sql.SESSIONS]
                ),
            ),
            (
                backup_sql.EVENTS,
                "events.jsonl",
                backup_sql.events_after(source, base.event_id, cols[backup_sql.EVENTS]),
            ),
        ):
            n = 0
            with archive.private_open(staging / member) as out:
                for row in rows:
                    out.write(encoder.encode(row))
                    out.write(b"\n")
                    n += 1
            counts["sessions" if table == backup_sql.SESSIONS else "events"] = n
    finally:
        backup_sql.end_read(source)
    return msgspec.structs.replace(
        _base_manifest("incremental", parent, version),
        watermarks=archive.Watermark(
            event_id=max(marks.event_id, base.event_id),
            session_change=max(
                (m for m in (marks.session_change, base.session_change) if m), default=None
            ),
        ),
        base=base,
        counts=counts,
        # Events as the chain restores them: the parent's plus the new ones (replay only adds).
        totals={
            "sessions": marks.sessions,
            "events": parent.totals.get("events", 0) + counts["events"],
        },
        columns=cols,
        members=[_member(staging, "sessions.jsonl"), _member(staging, "events.jsonl")],
    )
