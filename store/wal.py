"""WAL checkpoints off the capture writer's path: the writer's commits do not run them.

SQLite checkpoints a WAL database on the committing connection, once the WAL holds
``wal_autocheckpoint`` pages (1000 by default). The watcher's events paid for the name-order
folds' pages that way: an event committed right after a fold waited 25-29 ms at the median at
1 M sessions, most of it the checkpoint of the fold's pages (docs/search.md, "eighth round":
the writer's checkpoints). So the writer's connection checkpoints by itself only as a safety net
(:data:`WRITER_AUTOCHECKPOINT` pages), and a second connection of its own, on another thread,
runs PASSIVE checkpoints (:func:`checkpoint`) when the watcher asks (watcher.capture.checkpoints):
a PASSIVE checkpoint never waits for, nor blocks, a reader or the writer. It copies what no
reader still needs; a reader holding an old snapshot (a long backup) only keeps it from
completing until that reader ends.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from store.values import Value

WRITER_AUTOCHECKPOINT = 10_000
"""The WAL pages (~40 MB at 4 KiB) past which the writer's own commit checkpoints after all:
only when the checkpoints from the other connection did not run (a bug, a thread starved) or a
reader holds the WAL (then this one cannot complete either); bounds the WAL the way SQLite's
default 1000 did, ten times higher."""
WAL_SIZE_LIMIT = 16 << 20
"""``journal_size_limit`` of the writer's connection: when the WAL starts over after a complete
checkpoint, its file is cut back to this size at the writer's next commit (a WAL grown while a
reader held it does not keep its disk space)."""


class Checkpoint(Value):
    """What one checkpoint found: the frames in the WAL when it started, how many of them are
    in the database file now (all of them: complete), whether another checkpoint was running
    (SQLite's busy), and the seconds it took."""

    __match_args__ = ("frames", "copied", "busy", "seconds")
    __slots__ = __match_args__

    frames: int
    copied: int
    busy: bool
    seconds: float

    def __init__(self, frames: int, copied: int, busy: bool, seconds: float) -> None:
        super().__init__(frames, copied, busy, seconds)

    @property
    def complete(self) -> bool:
        """Every frame in the WAL is in the database file: the WAL starts over at the next
        write (unless a reader is still on it)."""
        return not self.busy and self.copied >= self.frames


def writer_pragmas(conn: sqlite3.Connection) -> sqlite3.Connection:
    """The capture writer's WAL settings: it checkpoints by itself only past
    WRITER_AUTOCHECKPOINT pages, and cuts a WAL that grew back to WAL_SIZE_LIMIT."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


def open_checkpointer(path: Path) -> sqlite3.Connection:
    """The connection that checkpoints, to an existing database (never creates one: a file
    deleted under the watcher is the writer's to open again). It never writes rows."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=rw",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        # As the writer's: a checkpoint syncs the WAL before it copies and the file after.
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def checkpoint(conn: sqlite3.Connection) -> Checkpoint:
    """One PASSIVE checkpoint: copy every frame no reader still needs into the database file,
    waiting for nobody."""
    started = time.perf_counter()
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if frames < 0:  # not a WAL database (never the watcher's): nothing to copy
        frames = copied = 0
    return Checkpoint(int(frames), int(copied), bool(busy), time.perf_counter() - started)
