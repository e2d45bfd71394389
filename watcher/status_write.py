"""The watcher's side of its lock and status files: taking the lock, writing the status.

Reading both is :mod:`watcher.status_file` (standard library only, for a fast ``status``); this
module is the service's and may import what it needs.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from store.errors import StoreError
from store.paths import FILE_MODE, ensure_private_dir, write_private_atomic
from watcher.errors import WatcherError
from watcher.status_file import lock_path, read_pid

__all__ = ["exclusive_lock", "write_status_file"]


def _acquire_lock(db_path: Path) -> int:
    """Take ``<db>.watcher.lock`` (flock) and write our pid in it; returns the open descriptor.

    Blocking (it may wait a few ms for `ccmgr-watch status`): run it in a worker thread.
    """
    path = lock_path(db_path)
    try:
        ensure_private_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        # The lock file is the first thing written next to the database: a folder that cannot
        # be written (permissions, a read-only mount) shows here. That is the user's setup, not
        # a bug: say which folder.
        raise StoreError(
            f"cannot write in the database's folder {path.parent}: {exc.strerror or exc}",
            hint="choose a database in a folder you can write (--db PATH or CCMGR_WATCH_DB), "
            "or make that folder writable",
        ) from exc
    try:
        for attempt in range(5):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # `ccmgr-watch status` takes a shared lock for an instant; try again briefly.
                if attempt == 4:
                    pid = read_pid(path)
                    raise WatcherError(
                        f"a watcher is already running on {db_path}"
                        + (f" (pid {pid})" if pid else ""),
                        hint="stop it first (or use another --db); `ccmgr-watch status` shows it",
                    ) from None
                time.sleep(0.02)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except BaseException:
        os.close(fd)
        raise
    return fd


@asynccontextmanager
async def exclusive_lock(db_path: Path) -> AsyncIterator[None]:
    """Hold ``<db>.watcher.lock`` for the block, or raise WatcherError if another watcher does."""
    fd = await anyio.to_thread.run_sync(_acquire_lock, db_path)
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


_STATUS_BLOCK = 4096


def write_status_file(path: Path, data: bytes) -> None:
    """Write the status file: atomically, or in place when the disk is full.

    The text is padded with spaces (valid JSON) to whole 4 KiB blocks, so that on a full disk
    the file's own blocks can take the new text in place: ``status`` must be able to say that
    the disk is full exactly then.
    """
    padded = data + b" " * (-len(data) % _STATUS_BLOCK)
    try:
        write_private_atomic(path, padded)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            if os.fstat(fd).st_size < len(padded):
                raise
            os.pwrite(fd, padded + b" " * (os.fstat(fd).st_size - len(padded)), 0)
        finally:
            os.close(fd)
