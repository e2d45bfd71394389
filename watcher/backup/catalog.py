"""The backup folder: settings from the config, listing, ids and prefixes, chains, the lock.

A backup is one archive file in the folder. ``index.json`` beside them caches each archive's
manifest (ids, kinds, parents, dates, watermarks, counts: nothing secret) so that listing and
incremental backups work without decrypting, even for archives encrypted to a public key whose
private key is not on this machine. The index is only a cache: an archive missing from it is read
(if it can be decrypted) and added.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import msgspec

from store.errors import ConfigError, DataError, UsageError
from store.paths import FILE_MODE, ensure_private_dir, write_private_atomic
from watcher.backup import archive, crypto
from watcher.backup.rotation import BackupRef, Policy

if TYPE_CHECKING:
    from watcher.config.schema import Config

INDEX: Final = "index.json"
LOCK: Final = ".lock"
TEMP_PREFIX: Final = ".tmp-"
CRASH_ENV: Final = "CCMGR_WATCH_TEST_CRASH_AT"
FULL_EVERY: Final = 7  # an automatic backup is full when the chain since the last full is this long


def crashpoint(step: str) -> None:
    """For the crash tests only: SIGKILL this process at ``step`` when the environment asks."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(slots=True)
class Settings:
    """The ``backup`` section, resolved: folder, compression, keys, retention."""

    folder: Path
    compression: str
    encryption: str
    keys: crypto.Keys
    policy: Policy
    schedule: str


def settings_from(config: Config, identities: list[str] | None = None) -> Settings:
    """Resolve ``config.backup`` (reads the passphrase and key files it names)."""
    from watcher.config.scopes import backup_folder

    b = config.backup
    keys = crypto.Keys(identities=list(identities or []))
    if b.encryption == "age" and b.recipients_file:
        path = Path(b.recipients_file).expanduser()
        keys.recipients = crypto.load_recipients(path)
        keys.where = str(path)
    # The passphrase also opens older backups, whatever encryption is set now; a problem with
    # it matters only when new backups need it.
    needs_passphrase = b.encryption != "none" and not keys.recipients
    try:
        keys.passphrase, where = crypto.load_passphrase(b.passphrase_file, b.passphrase_env)
        keys.where = keys.where or where
    except ConfigError:
        if needs_passphrase:
            raise
    if not keys.identities and os.environ.get(crypto.IDENTITY_ENV):
        keys.identities = crypto.load_identities(Path(os.environ[crypto.IDENTITY_ENV]))
    r = b.retention
    policy = Policy(
        last=r.keep_last,
        hourly=r.keep_hourly,
        daily=r.keep_daily,
        weekly=r.keep_weekly,
        monthly=r.keep_monthly,
    )
    return Settings(
        folder=backup_folder(config),
        compression=b.compression,
        encryption=b.encryption,
        keys=keys,
        policy=policy,
        schedule=b.schedule,
    )


class Entry(msgspec.Struct, kw_only=True):
    """One backup as ``list`` shows it: the archive file and what its manifest says."""

    id: str
    kind: str
    file: str
    size: int
    parent: str | None = None
    created_at: str = ""
    compression: str = "none"
    encrypted: bool = False
    readable: bool = True  # False: encrypted, not in the index, and no key to read it
    note: str = ""
    schema_version: int = 0
    program_version: str = ""
    watermarks: archive.Watermark = msgspec.field(default_factory=archive.Watermark)
    counts: dict[str, int] = {}
    totals: dict[str, int] = {}

    def ref(self) -> BackupRef:
        """What the rotation planner needs."""
        return BackupRef(self.id, self.kind, self.parent, self.created())

    def created(self) -> datetime:
        """``created_at`` as a local datetime (rotation buckets are the user's days)."""
        from store.timefmt import parse_ts

        if self.created_at:
            return parse_ts(self.created_at).astimezone()
        return id_time(self.id).astimezone()


def id_time(backup_id: str) -> datetime:
    """The UTC time a backup id encodes."""
    from datetime import UTC

    return datetime.strptime(backup_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)


def entry_from(manifest: archive.Manifest, path: Path, size: int) -> Entry:
    """An entry from an archive's manifest."""
    return Entry(
        id=manifest.id,
        kind=manifest.kind,
        file=path.name,
        size=size,
        parent=manifest.parent,
        created_at=manifest.created_at,
        compression=manifest.compression,
        encrypted=path.name.endswith(".age"),
        note=manifest.note,
        schema_version=manifest.schema_version,
        program_version=manifest.program_version,
        watermarks=manifest.watermarks,
        counts=manifest.counts,
        totals=manifest.totals,
    )


class _Index(msgspec.Struct):
    backups: dict[str, Entry] = {}


def _read_index(folder: Path) -> dict[str, Entry]:
    try:
        return msgspec.json.decode((folder / INDEX).read_bytes(), type=_Index).backups
    except (OSError, msgspec.DecodeError):
        return {}


def write_index(folder: Path, entries: list[Entry]) -> None:
    """Replace ``index.json`` atomically (0600)."""
    body = msgspec.json.encode(_Index({e.file: e for e in entries if e.readable}))
    write_private_atomic(folder / INDEX, body)


def list_backups(folder: Path, keys: crypto.Keys | None = None) -> list[Entry]:
    """Every backup in ``folder``, oldest first (one the index lacks is read, if it can be)."""
    if not folder.is_dir():
        return []
    index = _read_index(folder)
    entries: list[Entry] = []
    learned = False
    for path in folder.iterdir():
        match = archive.FILE_NAME.match(path.name)
        if match is None:
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        known = index.get(path.name)
        if known is not None and known.size == size:
            entries.append(known)
            continue
        try:
            entries.append(entry_from(archive.read_manifest(path, keys), path, size))
            learned = True
        except DataError:
            entries.append(
                Entry(
                    id=match["id"],
                    kind=match["kind"],
                    file=path.name,
                    size=size,
                    created_at="",
                    encrypted=bool(match["age"]),
                    readable=False,
                )
            )
    entries.sort(key=lambda e: e.id)
    if learned or len(index) != sum(1 for e in entries if e.readable):
        _update_index(folder, entries)
    return entries


def _update_index(folder: Path, entries: list[Entry]) -> None:
    """Write what a listing learned, unless a create, delete or prune holds the folder (it
    writes the index itself); a listing must never replace a newer index with an older one."""
    try:
        fd = os.open(
            folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
        )
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        current = {e.file for e in entries}
        # Entries another process indexed since we read the index, for files we saw.
        merged = {e.file: e for e in entries}
        for name, known in _read_index(folder).items():
            if name in current and not merged[name].readable:
                merged[name] = known
        write_index(folder, list(merged.values()))
    except OSError:
        pass  # busy (BlockingIOError) or read-only: the index is only a cache
    finally:
        os.close(fd)


def resolve(entries: list[Entry], wanted: str) -> Entry:
    """The backup whose id is ``wanted`` or starts with it (``latest``: the newest).

    An unknown or ambiguous prefix is a usage mistake (exit 2) that lists the candidates.
    """
    if not entries:
        raise UsageError("there are no backups", hint="run `ccmgr-watch backup create`")
    if wanted == "latest":
        return entries[-1]
    exact = [e for e in entries if e.id == wanted]
    if exact:
        return exact[0]
    found = [e for e in entries if e.id.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"no backup with id {wanted!r}", hint="`ccmgr-watch backup list`")
    shown = ", ".join(e.id for e in found[:10]) + (" ..." if len(found) > 10 else "")
    raise UsageError(
        f"backup id prefix {wanted!r} is ambiguous: {shown}", hint="type more of the id"
    )


def chain(entries: list[Entry], target: Entry) -> list[Entry]:
    """The backups to replay for ``target``: its full backup first, ``target`` last."""
    by_id = {e.id: e for e in entries}
    result = [target]
    while result[-1].kind == "incremental":
        parent = result[-1].parent
        if parent is None or parent not in by_id:
            raise DataError(
                f"backup {result[-1].id} is incremental and its parent {parent} is missing",
                hint="restore an older complete chain, or the full backup it was based on",
            )
        if len(result) > len(entries):
            raise DataError(f"backup {target.id} has a parent loop", hint="use another backup")
        result.append(by_id[parent])
    return list(reversed(result))


def dependents(entries: list[Entry], target: Entry) -> list[Entry]:
    """Backups whose chain goes through ``target``."""
    by_id = {e.id: e for e in entries}
    found = []
    for entry in entries:
        seen: set[str] = set()
        probe = entry
        while probe.parent in by_id and probe.id not in seen:
            seen.add(probe.id)
            probe = by_id[probe.parent]
            if probe.id == target.id:
                found.append(entry)
                break
    return found


def new_id(now: datetime, entries: list[Entry]) -> str:
    """A time-based id (``YYYYMMDD-HHMMSS`` UTC), moved on by a second if taken."""
    from datetime import UTC

    taken = {e.id for e in entries}
    moment = now.astimezone(UTC).replace(microsecond=0)
    newest = max(taken, default="")
    while True:
        candidate = moment.strftime("%Y%m%d-%H%M%S")
        # Ids sort in creation order: never hand out one older than the newest.
        if candidate not in taken and candidate > newest:
            return candidate
        moment += timedelta(seconds=1)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's lock (flock on ``.lock``): one create, delete or prune at a time."""
    ensure_private_dir(folder)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files of interrupted backups (call with the folder lock held)."""
    import shutil

    removed = 0
    for path in folder.glob(f"{TEMP_PREFIX}*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        removed += 1
    return removed
