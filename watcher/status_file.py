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
from pathlib import Path
from typing import Any


def lock_path(db_path: Path) -> Path:
    """``<db>.watcher.lock``: held (flock) by the running watcher of that database."""
    return db_path.with_name(db_path.name + ".watcher.lock")


def status_path(db_path: Path) -> Path:
    """``<db>.watcher.json``: what the running (or last) watcher of that database reports."""
    return db_path.with_name(db_path.name + ".watcher.json")


def lock_holder(db_path: Path) -> int | None:
    """The pid of the watcher holding this database's lock (0 if unknown), or None if none does."""
    path = lock_path(db_path)
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


def read_pid(path: Path) -> int | None:
    """The pid written in a lock file, or None."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_status(db_path: Path) -> dict[str, Any] | None:
    """The status file's contents, or None if it is missing or unreadable."""
    try:
        with open(status_path(db_path), "rb") as f:
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
