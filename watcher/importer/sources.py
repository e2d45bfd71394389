"""Where ccmgr-ultra keeps its session state, and reading one such file safely.

Only a regular file is read, opened non-blocking (a FIFO must never hang the import) and bounded
by :data:`MAX_BYTES`; what it is comes from its content (:func:`watcher.importer.formats.sniff`),
not its name.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Final

from store.errors import DataError
from store.paths import app_dir, config_home
from store.timefmt import format_ts
from watcher.importer import formats

MAX_BYTES: Final = 512 * 1024 * 1024
"""Bigger files are refused (10 k sessions of tmux-sessions.json are about 5 MB)."""
DEFAULT_STATE_FILE: Final = "~/.config/ccmgr-ultra/tmux-sessions.json"
"""ccmgr-ultra's default ``tmux.state_file`` (its ``SetDefaults``)."""

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def state_file_path(configured: str) -> Path:
    """``tmux.state_file`` as a path: its default honours ``$XDG_CONFIG_HOME``; ``~`` expands."""
    if not configured or configured == DEFAULT_STATE_FILE:
        return app_dir() / "tmux-sessions.json"
    if configured.startswith("~/.config/"):
        return config_home() / configured[len("~/.config/") :]
    return Path(configured).expanduser().absolute()


def default_sources(state_file: str) -> list[Path]:
    """The files ccmgr-ultra may have written, that exist: ``tmux.state_file`` and the places its
    JSON migrator looks (``state.json`` in its config folder, ``~/.ccmgr-ultra/``, the cwd)."""
    candidates = [
        state_file_path(state_file),
        app_dir() / "state.json",
        Path("~/.ccmgr-ultra/state.json").expanduser(),
        Path("state.json").absolute(),
    ]
    found: list[Path] = []
    for path in candidates:
        if os.path.lexists(path) and path not in found:
            found.append(path)
    return found


def _bad(label: str, message: str, hint: str | None = None) -> DataError:
    return DataError(
        f"{label}: {message}",
        hint=hint or "give a ccmgr-ultra state file (tmux-sessions.json, state.json or data.db)",
    )


def read_source(path: Path) -> bytes:
    """The bytes of the regular file at ``path``; anything else is a DataError naming it."""
    label = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _bad(label, "no such file", "check the path") from None
    except OSError as exc:
        raise _bad(label, f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _KINDS if test(info.st_mode)), "not a regular file")
        raise _bad(label, f"is {kind}, not a regular file")
    if info.st_size > MAX_BYTES:
        raise _bad(label, f"is {info.st_size:,} bytes; at most {MAX_BYTES:,} are read")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        hint = "check its permissions" if exc.errno in (errno.EACCES, errno.EPERM) else None
        raise _bad(label, f"cannot read: {exc.strerror}", hint) from None
    try:
        opened = os.fstat(fd)  # replaced between the stat and the open?
        if not stat.S_ISREG(opened.st_mode):
            raise _bad(label, "is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(MAX_BYTES + 1 - size, 16 * 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _bad(label, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise _bad(label, f"is over {MAX_BYTES:,} bytes")
    return b"".join(chunks)


def parse_source(path: Path) -> formats.ParsedFile:
    """Read and check one source file (any of the three formats)."""
    path = path.absolute()
    label = str(path)
    data = read_source(path)
    try:
        fallback = format_ts_of_mtime(path)
    except OSError:
        fallback = "1970-01-01T00:00:00.000000Z"
    if formats.sniff(data) == formats.DB_FORMAT:
        from store.imports import read_foreign_database

        del data
        sessions, events = read_foreign_database(path, label)
        parsed = formats.sessions_from_rows(sessions, label, fallback)
        good = {s.id for s in parsed.sessions}
        formats.events_from_rows(events, parsed, good.__contains__)
        return parsed
    return formats.parse_json_state(data, label, fallback_time=fallback)


def format_ts_of_mtime(path: Path) -> str:
    """The file's modification time as stored text."""
    from datetime import UTC, datetime

    return format_ts(datetime.fromtimestamp(os.stat(path).st_mtime, UTC))
