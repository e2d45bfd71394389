"""The backup file: a tar archive whose first member is ``manifest.json``, and its safe reader.

``ccmgr-watch-<id>-<kind>.tar[.gz|.zst][.age]``: a plain tar (``tar tf`` lists it, ``tar xOf ...
manifest.json`` prints the manifest), compressed as a whole, optionally encrypted as a whole with
age. The manifest names every other member with its size and SHA-256; the reader trusts nothing
else: a member that is not a regular file, whose name is not one the format defines, whose size
or hash differs from the manifest, or that would make the archive expand beyond what the manifest
declares is refused with :class:`DataError` before anything outside the extraction folder is
touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Final

import msgspec

from store.errors import DataError
from store.paths import FILE_MODE, ensure_private_dir
from watcher.backup import crypto

FORMAT: Final = "ccmgr-watch-backup"
FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
MANIFEST_LIMIT: Final = 1 << 20
GZIP_LEVEL: Final = 6  # what `tar czf` (gzip -6) uses
ZSTD_LEVEL: Final = 3
_CHUNK: Final = 1 << 20
# Tar headers and padding the reader allows beyond the members' declared sizes.
_SLACK: Final = 64 * 1024
# Names the format defines; anything else in an archive is refused.
MEMBER_NAME: Final = re.compile(
    r"^(data\.db|sessions\.jsonl|events\.jsonl|config/(global|project|user)\.yaml)$"
)
SUFFIX: Final = {"none": ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}
FILE_NAME: Final = re.compile(
    r"^ccmgr-watch-(?P<id>\d{8}-\d{6}(?:-\d+)?)-(?P<kind>full|incremental)"
    r"\.tar(?P<comp>\.gz|\.zst)?(?P<age>\.age)?$"
)

Progress = Callable[[int], None]


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """One file inside the archive."""

    name: str
    size: int
    sha256: str
    source: str | None = None  # for config files: where the file was


class Watermark(msgspec.Struct, frozen=True, kw_only=True):
    """The highest event id and the latest session change a backup includes."""

    event_id: int = 0
    session_change: str | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """What ``manifest.json`` says."""

    format: str
    format_version: int
    id: str
    kind: str  # full | incremental
    parent: str | None
    created_at: str
    program_version: str
    schema_version: int
    watermarks: Watermark
    base: Watermark | None = None  # an incremental: the parent's watermarks it starts from
    counts: dict[str, int] = {}  # rows in this backup
    totals: dict[str, int] = {}  # rows in the database when it was taken
    columns: dict[str, list[str]] = {}  # an incremental: the column order of its rows
    compression: str = "none"
    note: str = ""
    database: str = ""
    members: list[Member] = []


def file_name(backup_id: str, kind: str, compression: str, encrypted: bool) -> str:
    """``ccmgr-watch-<id>-<kind>.tar.gz[.age]``."""
    return f"ccmgr-watch-{backup_id}-{kind}{SUFFIX[compression]}{'.age' if encrypted else ''}"


def hash_file(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def private_open(path: Path) -> BinaryIO:
    """Create ``path`` (0600, must not exist) for writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    return os.fdopen(fd, "wb")


# --- writing ------------------------------------------------------------------------------------


class _Sink:
    """A write-only file for tarfile: compresses into ``out`` and counts what went in."""

    def __init__(self, out: BinaryIO, compression: str, progress: Progress | None) -> None:
        self._out = out
        self._progress = progress
        self._written = 0
        self._compress: Callable[[bytes], bytes]
        self._flush: Callable[[], bytes]
        if compression == "gzip":
            comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
            self._compress, self._flush = comp.compress, comp.flush
        elif compression == "zstd":
            import zstandard

            zcomp = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
            self._compress, self._flush = zcomp.compress, zcomp.flush
        else:
            self._compress, self._flush = bytes, lambda: b""

    def write(self, data: bytes) -> int:
        self._out.write(self._compress(data))
        self._written += len(data)
        if self._progress is not None:
            self._progress(len(data))
        return len(data)

    def tell(self) -> int:
        return self._written

    def close(self) -> None:
        self._out.write(self._flush())


def write_archive(
    target: Path,
    manifest: Manifest,
    sources: dict[str, Path],
    *,
    compression: str,
    keys: crypto.Keys | None,
    progress: Progress | None = None,
) -> None:
    """Write the archive to ``target`` (a new 0600 file), fsynced; the caller renames it.

    ``sources`` maps each member named in the manifest to the file holding its bytes.
    """
    raw: BinaryIO = io.BytesIO() if keys is not None else private_open(target)
    try:
        sink = _Sink(raw, compression, progress)
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            tar.copybufsize = _CHUNK
            body = msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
            mtime = _mtime(manifest)
            tar.addfile(_info(MANIFEST, len(body), mtime), io.BytesIO(body))
            for member in manifest.members:
                with sources[member.name].open("rb") as handle:
                    tar.addfile(_info(member.name, member.size, mtime), handle)
        sink.close()
        if keys is not None:
            assert isinstance(raw, io.BytesIO)
            sealed = crypto.encrypt(raw.getvalue(), keys)
            raw = private_open(target)
            raw.write(sealed)
        raw.flush()
        os.fsync(raw.fileno())
    finally:
        raw.close()


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = FILE_MODE
    info.mtime = mtime
    return info


def _mtime(manifest: Manifest) -> int:
    """The members' modification time: when the backup was taken."""
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(manifest.created_at.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


# --- reading ------------------------------------------------------------------------------------


class _Source:
    """A read-only file for tarfile: decompresses ``data`` and refuses to expand past a budget.

    Output is bounded per step (zlib's ``max_length``; small input slices for zstd, whose blocks
    expand at most ~32000 times), so a bomb is stopped before it fills memory.
    """

    def __init__(self, data: bytes, name: str) -> None:
        self._name = name
        self._data = memoryview(data)
        self._pos = 0
        self._buf = bytearray()
        self._out = 0
        self.budget = MANIFEST_LIMIT + _SLACK
        head = bytes(self._data[:4])
        self._zlib: Any = None
        self._zstd: Any = None
        if head[:2] == b"\x1f\x8b":
            self.compression = "gzip"
            self._zlib = zlib.decompressobj(31)
        elif head == b"\x28\xb5\x2f\xfd":
            import zstandard

            self.compression = "zstd"
            self._zstd = zstandard.ZstdDecompressor().decompressobj()
        else:
            self.compression = "none"

    def _step(self, want: int) -> bytes:
        if self._zlib is not None:
            if self._zlib.unconsumed_tail:
                return bytes(self._zlib.decompress(self._zlib.unconsumed_tail, want))
            if self._zlib.eof:
                self._pos = len(self._data)
                return b""
            chunk = self._data[self._pos : self._pos + 65536]
            self._pos += len(chunk)
            return bytes(self._zlib.decompress(chunk, want))
        if self._zstd is not None:
            if self._zstd.eof:
                self._pos = len(self._data)
                return b""
            chunk = self._data[self._pos : self._pos + 2048]
            self._pos += len(chunk)
            return bytes(self._zstd.decompress(chunk))
        chunk = self._data[self._pos : self._pos + want]
        self._pos += len(chunk)
        return bytes(chunk)

    def _pending(self) -> bool:
        if self._zlib is not None and self._zlib.unconsumed_tail:
            return True
        return self._pos < len(self._data)

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else _CHUNK
        while len(self._buf) < want and self._pending():
            try:
                more = self._step(max(want - len(self._buf), 65536))
            except Exception as exc:  # zlib.error, zstandard.ZstdError
                raise DataError(
                    f"{self._name} is damaged: {self.compression} data is corrupt ({exc})",
                    hint="use another backup",
                ) from None
            self._out += len(more)
            if self._out > self.budget:
                raise DataError(
                    f"{self._name} expands to more than its manifest declares "
                    f"(over {self.budget} bytes): refused as a decompression bomb",
                    hint="this file was not made by ccmgr-watch, or was tampered with",
                )
            self._buf += more
        out = bytes(self._buf[:want])
        del self._buf[:want]
        return out

    def finished(self) -> bool:
        """True when the compressed stream ended properly (not truncated)."""
        if self._zlib is not None:
            return bool(self._zlib.eof)
        if self._zstd is not None:
            return bool(self._zstd.eof)
        return True


def load(path: Path, keys: crypto.Keys | None) -> bytes:
    """The archive's bytes, decrypted when it is an age file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the file"
        ) from None
    if crypto.is_age(data[:64]):
        return crypto.decrypt(data, keys or crypto.Keys(), path.name)
    return data


def _damaged(path_name: str, why: str) -> DataError:
    return DataError(f"{path_name} is not a valid backup: {why}", hint="use another backup")


def _check_member(info: tarfile.TarInfo, name: str) -> None:
    member = info.name
    if member.startswith("/") or ".." in member.split("/") or "\\" in member:
        raise _damaged(name, f"unsafe member path {member!r}")
    if info.issym() or info.islnk():
        raise _damaged(name, f"member {member!r} is a link")
    if info.ischr() or info.isblk() or info.isfifo():
        raise _damaged(name, f"member {member!r} is a device or fifo")
    if not info.isreg():
        raise _damaged(name, f"member {member!r} is not a regular file")


def decode_manifest(body: bytes, name: str) -> Manifest:
    """Parse and check ``manifest.json``; a newer format is refused."""
    try:
        head = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise _damaged(name, "manifest.json is not JSON") from None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise _damaged(name, "manifest.json is not a ccmgr-watch manifest")
    version = head.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise DataError(
            f"{name} was made by a newer ccmgr-watch (backup format {version}, "
            f"this one reads up to {FORMAT_VERSION})",
            hint="upgrade ccmgr-watch to restore it",
        )
    try:
        manifest = msgspec.json.decode(body, type=Manifest)
    except msgspec.ValidationError as exc:
        raise _damaged(name, f"manifest.json: {exc}") from None
    seen: set[str] = set()
    for member in manifest.members:
        if not MEMBER_NAME.match(member.name) or member.name in seen:
            raise _damaged(name, f"manifest names an unexpected member {member.name!r}")
        if member.size < 0 or not re.fullmatch(r"[0-9a-f]{64}", member.sha256):
            raise _damaged(name, f"manifest entry of {member.name!r} is malformed")
        seen.add(member.name)
    if manifest.kind not in ("full", "incremental"):
        raise _damaged(name, f"unknown kind {manifest.kind!r}")
    return manifest


def read_manifest(path: Path, keys: crypto.Keys | None) -> Manifest:
    """Only the manifest (decrypting if needed; no member is extracted)."""
    return _read(path, keys, None, None)


def extract(
    path: Path, dest: Path, keys: crypto.Keys | None, progress: Progress | None = None
) -> Manifest:
    """Verify the whole archive and extract its members into ``dest`` (a private folder).

    Every member's size and SHA-256 are checked against the manifest while it is written; any
    problem raises DataError (what was written into ``dest`` is then the caller's to remove).
    """
    return _read(path, keys, dest, progress)


def _read(
    path: Path, keys: crypto.Keys | None, dest: Path | None, progress: Progress | None
) -> Manifest:
    name = path.name
    source = _Source(load(path, keys), name)
    try:
        tar = tarfile.open(fileobj=source, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
    except tarfile.TarError as exc:
        raise _damaged(name, f"not a tar archive ({exc})") from None
    try:
        return _read_members(tar, source, name, dest, progress)
    except (tarfile.TarError, EOFError) as exc:
        raise _damaged(name, f"truncated or corrupt archive ({exc})") from None
    finally:
        with contextlib.suppress(Exception):
            tar.close()


def _read_members(
    tar: tarfile.TarFile,
    source: _Source,
    name: str,
    dest: Path | None,
    progress: Progress | None,
) -> Manifest:
    first = tar.next()
    if first is None or first.name != MANIFEST:
        raise _damaged(name, "its first member is not manifest.json")
    _check_member(first, name)
    if first.size > MANIFEST_LIMIT:
        raise _damaged(name, "manifest.json is too large")
    handle = tar.extractfile(first)
    assert handle is not None
    manifest = decode_manifest(handle.read(), name)
    if dest is None:
        return manifest
    declared = {m.name: m for m in manifest.members}
    total = sum(m.size for m in manifest.members)
    _check_space(dest, total, name)
    source.budget += total + _SLACK + 1024 * len(declared)
    seen: set[str] = set()
    # next(), not iteration: iterating a stream-mode tar starts again from the manifest.
    while (info := tar.next()) is not None:
        _check_member(info, name)
        member = declared.get(info.name)
        if member is None or info.name in seen:
            raise _damaged(name, f"member {info.name!r} is not in its manifest")
        if info.size != member.size:
            raise _damaged(
                name, f"member {info.name!r} is {info.size} bytes, the manifest says {member.size}"
            )
        seen.add(info.name)
        _copy_member(tar, info, member, dest, name, progress)
    missing = sorted(set(declared) - seen)
    if missing:
        raise _damaged(name, f"truncated: missing {', '.join(missing)}")
    # Read to the end so that a cut-off compressed stream is noticed.
    while source.read(_CHUNK):
        pass
    if not source.finished():
        raise _damaged(name, "truncated: the compressed stream ends early")
    return manifest


def _copy_member(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    member: Member,
    dest: Path,
    name: str,
    progress: Progress | None,
) -> None:
    handle = tar.extractfile(info)
    assert handle is not None
    target = dest / member.name
    ensure_private_dir(target.parent)
    digest = hashlib.sha256()
    size = 0
    with private_open(target) as out:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
            if progress is not None:
                progress(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    if size != member.size:
        raise _damaged(name, f"truncated: member {member.name!r} ends early")
    if digest.hexdigest() != member.sha256:
        raise _damaged(name, f"member {member.name!r} does not match its SHA-256 in the manifest")


def _check_space(dest: Path, needed: int, name: str) -> None:
    try:
        free = shutil.disk_usage(dest).free
    except OSError:
        return
    if needed > free:
        raise DataError(
            f"{name} declares {needed} bytes of content, more than the {free} bytes free in {dest}",
            hint="free some space, or suspect a hostile archive",
        )
