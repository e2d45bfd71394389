"""When the WAL is checkpointed: soon after the writer commits, never on the writer's path.

The writer's connection no longer checkpoints by itself (store.wal): an event committed after a
fold paid for the checkpoint of the fold's pages. This task runs the checkpoints instead, from
the database's other connection on a worker thread (store.db.Database.checkpoint): once the
writer has been quiet for ``QUIET`` after a commit (an event's burst is over; a checkpoint beside
the next event's commit adds to its wait), at least every ``MOST_DELAY`` during a run of
events' commits, and at once between two of the idle writer's folds (:meth:`checkpoint_now`),
so the WAL stays small (one fold's pages; the writer's own safety net,
store.wal.WRITER_AUTOCHECKPOINT, is far above). A checkpoint that cannot complete (a reader
still reads the frames: a long backup, a slow query) is tried again every ``RETRY``; one that
has not completed for ``STUCK_AFTER`` is said once at INFO, and again when it completes.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Protocol

import anyio

from store.errors import StoreError
from store.wal import Checkpoint

log = logging.getLogger("ccmgr_watch.writer")

QUIET = 0.5
"""Seconds without a commit after which the WAL is checkpointed (the writer is idle). At 0.05 s
events 35-80 ms apart often committed beside a checkpoint: p95 8-11 ms against 6-8 without."""
MOST_DELAY = 2.0
"""... and the most seconds an event's commit waits for its checkpoint while commits keep
coming (a few hundred pages at most: events write few)."""
RETRY = 2.0
"""Seconds between tries of a checkpoint that could not complete (a reader on the WAL)."""
STUCK_AFTER = 300.0
"""Seconds a checkpoint may stay incomplete before it is said at INFO."""


class _Checkpoints(Protocol):
    async def checkpoint(self) -> Checkpoint | None: ...


class WalCheckpoints:
    """Checkpoints the database's WAL after the writer's commits (:meth:`committed`), in
    :meth:`run`, a task beside the writer's loop."""

    def __init__(self, db: _Checkpoints) -> None:
        self._db = db
        self._wake = anyio.Event()
        self._last_commit = 0.0
        self._first_commit: float | None = None  # the oldest commit not yet checkpointed
        self._incomplete_since: float | None = None
        self._said_stuck = False
        self._urgent = False  # checkpoint_now: no quiet wait
        self._hurry = anyio.Event()  # set by checkpoint_now (then replaced)
        self._ran = anyio.Event()  # set after the next checkpoint (then replaced)
        self.checkpoints = 0  # how many ran (tests, statistics)
        self.most_frames = 0  # the longest WAL a checkpoint found (tests, statistics)
        self.running = False  # whether run() runs (checkpoint_now's event is set only then)

    def committed(self) -> None:
        """The writer committed: a checkpoint is due (after QUIET, at most MOST_DELAY)."""
        now = anyio.current_time()
        self._last_commit = now
        if self._first_commit is None:
            self._first_commit = now
        self._wake.set()

    def checkpoint_now(self) -> anyio.Event:
        """A checkpoint of everything committed so far, started at once (the idle writer
        between two folds); the event is set when it has run. The writer waits for it before
        its next fold (while it serves events): a checkpoint that runs while the writer keeps
        appending never catches up with the WAL's end, and the WAL could not start over."""
        self._urgent = True
        self._hurry.set()  # a quiet wait for events' commits under way ends now
        if self._first_commit is None:
            self._first_commit = anyio.current_time()
        self._wake.set()
        return self._ran

    async def run(self) -> None:
        """Checkpoint after commits until cancelled; failures are logged, never raised (a
        checkpoint left out now is one more frame for the next)."""
        self.running = True
        try:
            await self._run()
        finally:
            self.running = False

    async def _run(self) -> None:
        while True:
            if self._incomplete_since is None:
                await self._wake.wait()
            else:
                with anyio.move_on_after(RETRY):
                    await self._wake.wait()
            if not self._urgent:
                await self._wait_quiet()
            self._wake = anyio.Event()
            self._first_commit = None
            self._urgent = False
            self._hurry = anyio.Event()
            ran, self._ran = self._ran, anyio.Event()
            try:
                await self._checkpoint()
            finally:
                ran.set()

    async def _wait_quiet(self) -> None:
        """Until the writer has not committed for QUIET, or the oldest commit not checkpointed
        has waited MOST_DELAY."""
        while self._first_commit is not None and not self._urgent:
            now = anyio.current_time()
            due = min(self._last_commit + QUIET, self._first_commit + MOST_DELAY)
            if now >= due:
                return
            with anyio.move_on_after(due - now):
                await self._hurry.wait()

    async def _checkpoint(self) -> None:
        try:
            done = await self._db.checkpoint()
        except (sqlite3.Error, StoreError, OSError) as exc:
            log.debug("WAL checkpoint failed: %s (tried again after the next commit)", exc)
            return
        if done is None:
            return  # the file is gone or unwritable: the writer deals with that
        self.checkpoints += 1
        self.most_frames = max(self.most_frames, done.frames)
        log.debug(
            "WAL checkpoint: %d of %d frames in the database file%s, %.1f ms",
            done.copied,
            done.frames,
            "" if done.complete else " (a reader still reads the rest)",
            done.seconds * 1000,
        )
        now = anyio.current_time()
        if done.complete:
            if self._said_stuck:
                log.info(
                    "the WAL checkpoint completes again after %.0f s (the reader that held "
                    "it has finished)",
                    now - (self._incomplete_since or now),
                )
            self._incomplete_since = None
            self._said_stuck = False
            return
        if self._incomplete_since is None:
            self._incomplete_since = now
        elif not self._said_stuck and now - self._incomplete_since >= STUCK_AFTER:
            self._said_stuck = True
            log.info(
                "the WAL checkpoint has not completed for %.0f s: a reader (a backup, a long "
                "query) still reads %d frames; the WAL grows until it finishes",
                now - self._incomplete_since,
                done.frames - done.copied,
            )
