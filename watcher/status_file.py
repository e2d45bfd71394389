"""The watcher's lock and status files, read without importing the service.

``ccmgr-watch status`` and ``db migrate`` only need to know whether a watcher holds
``<db>.watcher.lock`` and what ``<db>.watcher.json`` says: standard library only, so that those
commands start as fast as a plain Python script reading the file (the service, anyio, msgspec
and aiosqlite are not imported).
"""

from __future__ import annotations

import fcntl
import json
import os

# pathlib (with urllib.parse and ipaddress) and typing are not imported at run time: `status`
# finds its files with plain text (see path_text), and they cost it ~15% of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    PathLike = str | os.PathLike[str]

LOCK_SUFFIX = ".watcher.lock"
STATUS_SUFFIX = ".watcher.json"


def path_text(text: str) -> str:
    """``str(pathlib.Path(text))`` without importing pathlib: empty and ``.`` parts dropped,
    repeated slashes made one (but for exactly two leading ones, which POSIX leaves alone), no
    trailing slash, ``.`` for nothing."""
    if text.startswith("/"):
        root = "//" if text.startswith("//") and not text.startswith("///") else "/"
    else:
        root = ""
    parts = [part for part in text.split("/") if part and part != "."]
    return root + "/".join(parts) or "."


def lock_path(db_path: Path) -> Path:
    """``<db>.watcher.lock``: held (flock) by the running watcher of that database."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


def status_path(db_path: Path) -> Path:
    """``<db>.watcher.json``: what the running (or last) watcher of that database reports."""
    return db_path.with_name(db_path.name + STATUS_SUFFIX)


def lock_holder(db_path: PathLike) -> int | None:
    """The pid of the watcher holding this database's lock (0 if unknown), or None if none does.

    ``db_path`` is a Path or :func:`path_text`'s text (a file name, not a folder)."""
    path = os.fspath(db_path) + LOCK_SUFFIX
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_pid(path) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_pid(path: PathLike) -> int | None:
    """The pid written in a lock file, or None."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_status(db_path: PathLike) -> dict[str, Any] | None:
    """The status file's contents, or None if it is missing or unreadable (``db_path`` as for
    :func:`lock_holder`)."""
    try:
        with open(os.fspath(db_path) + STATUS_SUFFIX, "rb") as f:
            value = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def backup_lines(status: dict[str, Any] | None) -> list[str]:
    """The lines ``ccmgr-watch status`` prints for the status file's ``backup`` entry."""
    if not status:
        return []
    if status.get("schedule") == "off" and not status.get("last_id"):
        return ["backups: off"]
    last = status.get("last_id") or "none yet"
    result = status.get("last_result")
    if result == "failed":
        last = f"failed at {status.get('last_at')}: {status.get('last_error')}"
    elif status.get("last_at"):
        last += f" at {status.get('last_at')}"
    upcoming = status.get("next_at") or ("off" if status.get("schedule") == "off" else "now")
    return [f"last backup: {last}", f"next backup: {upcoming} (schedule {status.get('schedule')})"]
