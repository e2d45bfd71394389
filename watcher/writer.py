"""The one writer task: lifecycle events from a bounded memory stream into SQLite, in batches.

The writer takes the first item and whatever else is already waiting (up to ``batch_size``) and
commits them in one transaction at once: no fixed delay when tmux is quiet, bigger batches by
themselves when a burst or a slow disk builds a backlog (a configured ``flush_interval`` trades
latency for bigger batches: the writer then waits that long for more). Besides lifecycle events
the same stream carries enrichment results (project, worktree, branch found after the session's
row was committed) and known-alive queries (answered after everything sent before them is
committed, so reconciliation never races the queue).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream

from store.db import Database
from store.errors import StoreError
from store.models import Session, SessionEvent
from store.repositories import (
    EnrichmentRow,
    LifecycleRow,
    sessions_alive_on_socket,
    write_capture_sync,
)
from store.timefmt import now_ts
from watcher.config.schema import WatcherConfig
from watcher.events import Lifecycle, session_id

log = logging.getLogger("ccmgr_watch.writer")

# The defaults live on the config schema (watcher.config.schema.WatcherConfig) and nowhere else.
DEFAULT_BATCH_SIZE = WatcherConfig().batch_size
DEFAULT_FLUSH_INTERVAL = WatcherConfig().flush_interval.seconds
_ENDING = frozenset({"killed", "vanished"})
# Events after which project/worktree/branch may have changed (or are not known yet).
_ENRICH_ON = frozenset({"created", "discovered", "renamed"})
# Retries of a batch that hit a busy or failing database (a backup, `db migrate`, a full disk).
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
_DIRECTORY_CACHE = 10_000


class Enrichment(msgspec.Struct, frozen=True, kw_only=True):
    """Project, worktree and branch found for a stored session; ``source`` is git or name."""

    session_id: str
    project: str | None
    worktree: str | None
    branch: str | None
    source: str


class EnrichRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A committed session whose project, worktree and branch should be looked up."""

    session_id: str
    name: str
    directory: str | None


class AliveQuery:
    """Which sessions the store believes alive on one socket, answered in stream order."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.result: list[Session] = []
        self.error: BaseException | None = None
        self.done = anyio.Event()

    async def wait(self) -> list[Session]:
        """Wait for the writer's answer; re-raises the writer's error if it could not answer."""
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


WriterItem = Lifecycle | Enrichment | AliveQuery


class WriterStatistics(msgspec.Struct, kw_only=True):
    """What the writer has done so far (``statistics()``)."""

    events_written: int = 0
    events_failed: int = 0
    enrichments_written: int = 0
    batches: int = 0
    largest_batch: int = 0
    last_event: dict[str, Any] | None = None
    last_commit_at: str | None = None
    last_error: str | None = None


def lifecycle_row(event: Lifecycle) -> LifecycleRow:
    """The session upsert one lifecycle event amounts to."""
    ended = event.status == "ended" or event.event_type in _ENDING
    return LifecycleRow(
        id=session_id(event.server, event.tmux_id),
        name=event.name,
        timestamp=event.timestamp,
        status="ended" if ended else event.status,
        server=event.server,
        tmux_id=event.tmux_id,
        directory=event.directory,
        created_at=event.created_at,
        ended_at=event.timestamp if ended else None,
    )


def event_row(event: Lifecycle) -> SessionEvent:
    """The ``session_events`` row of one lifecycle event."""
    return SessionEvent(
        session_id=session_id(event.server, event.tmux_id),
        event_type=event.event_type,
        timestamp=event.timestamp,
        data=dict(event.data),
    )


class SessionWriter:
    """The one task that writes lifecycle events and enrichment into the database."""

    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        enrich: Callable[[EnrichRequest], None] | None = None,
        enrich_now: Callable[[EnrichRequest], tuple[bool, Enrichment | None]] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._enrich = enrich
        # Answers known without running git (see watcher.enrich.enrich_now) are stored in the
        # batch's own transaction; the rest go to ``enrich`` after the commit.
        self._enrich_now = enrich_now
        self._on_commit = on_commit
        self._stats = WriterStatistics()
        # Directories of live sessions, so a rename (which does not carry one) can be enriched.
        self._directories: dict[str, str] = {}

    def statistics(self) -> WriterStatistics:
        """A copy of the counters."""
        return msgspec.structs.replace(self._stats)

    def set_batch_size(self, batch_size: int) -> None:
        """Change the largest batch (takes effect with the next batch)."""
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.batch_size = batch_size

    def set_flush_interval(self, seconds: float) -> None:
        """Change how long a batch may wait for more events (0: commit at once)."""
        if seconds < 0:
            raise ValueError("flush interval cannot be negative")
        self.flush_interval = seconds

    async def run(self, receive: MemoryObjectReceiveStream[WriterItem]) -> None:
        """Write batches until every sender has closed and the stream is drained."""
        async with receive:
            while True:
                try:
                    first = await receive.receive()
                except anyio.EndOfStream:
                    return
                # Let producers that are ready run first (one turn of the event loop, not a
                # timer): a session's events come in quick succession, and one commit for
                # several of them costs far less than one commit each.
                await anyio.lowlevel.checkpoint()
                batch = [first]
                # A query ends the batch: it must see everything before it committed.
                while len(batch) < self.batch_size and not isinstance(batch[-1], AliveQuery):
                    try:
                        batch.append(receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                if self.flush_interval > 0:
                    await self._gather(receive, batch)
                await self.write(batch)

    async def _gather(
        self, receive: MemoryObjectReceiveStream[WriterItem], batch: list[WriterItem]
    ) -> None:
        """Wait up to ``flush_interval`` for more items (a configured trade of latency for size)."""
        with anyio.move_on_after(self.flush_interval):
            while len(batch) < self.batch_size and not isinstance(batch[-1], AliveQuery):
                try:
                    batch.append(await receive.receive())
                except anyio.EndOfStream:
                    return

    async def write(self, batch: Sequence[WriterItem]) -> None:
        """Commit one batch (isolating bad items if the whole batch fails), then follow it up."""
        try:
            await self._commit_with_retries(batch)
        except _BadBatch:
            # Something in the batch cannot be stored: store the rest one by one.
            for item in batch:
                try:
                    await self._commit_with_retries([item])
                except _BadBatch as exc:
                    self._failed(item, exc.__cause__ or exc)
        await self._answer_queries(batch)

    async def write_batch(self, batch: Sequence[WriterItem]) -> None:
        """Commit ``batch`` in one transaction; on any error nothing of it is stored."""
        events = [item for item in batch if isinstance(item, Lifecycle)]
        enrichments = [item for item in batch if isinstance(item, Enrichment)]
        if not events and not enrichments:
            return
        requests = self._enrich_requests(events)
        later: list[EnrichRequest] = []
        if self._enrich_now is None:
            later = requests
        else:
            for request in requests:
                known, found = self._enrich_now(request)
                if not known:
                    later.append(request)
                elif found is not None:
                    # After the batch's own enrichments: those answer older requests.
                    enrichments.append(found)
        lifecycle = [lifecycle_row(e) for e in events]
        rows = [event_row(e) for e in events]
        enriched = [
            EnrichmentRow(
                id=e.session_id,
                project=e.project,
                worktree=e.worktree,
                branch=e.branch,
                source=e.source,
            )
            for e in enrichments
        ]
        # One hand-off to the database thread for the whole batch (BEGIN, statements, COMMIT):
        # per batch that is one wake-up of each thread instead of four or five.
        await self.db.transact(
            partial(write_capture_sync, lifecycle=lifecycle, events=rows, enrichments=enriched)
        )
        self._committed(events, enrichments, later)

    def _enrich_requests(self, events: Sequence[Lifecycle]) -> list[EnrichRequest]:
        """The lookups the batch's events call for, with each session's latest directory."""
        if self._enrich is None and self._enrich_now is None:
            return []
        requests = []
        directories: dict[str, str | None] = {}  # changes within the batch, not yet committed
        for event in events:
            sid = session_id(event.server, event.tmux_id)
            if event.event_type in _ENDING or event.status == "ended":
                directories[sid] = None
                continue
            if event.directory:
                directories[sid] = event.directory
            if event.event_type in _ENRICH_ON:
                directory = event.directory or (
                    directories[sid] if sid in directories else self._directories.get(sid)
                )
                requests.append(EnrichRequest(session_id=sid, name=event.name, directory=directory))
        return requests

    async def _commit_with_retries(self, batch: Sequence[WriterItem]) -> None:
        for delay in (*_RETRY_DELAYS, None):
            try:
                await self.write_batch(batch)
                return
            except sqlite3.OperationalError as exc:
                # Busy (another process holds the write lock past busy_timeout), I/O, disk full:
                # the batch is fine, the database is not; back-pressure builds while we retry.
                self._stats.last_error = f"database: {exc}"
                if delay is None:
                    raise StoreError(
                        f"cannot write to {self.db.path}: {exc}",
                        hint="check free disk space and whether another program locks the "
                        "database, then restart the watcher",
                    ) from exc
                log.warning("write failed (%s); retrying in %.2fs", exc, delay)
                await anyio.sleep(delay)
            except (sqlite3.Error, msgspec.EncodeError, ValueError, TypeError) as exc:
                raise _BadBatch(str(exc)) from exc

    def _committed(
        self,
        events: list[Lifecycle],
        enrichments: list[Enrichment],
        requests: list[EnrichRequest],
    ) -> None:
        stats = self._stats
        stats.batches += 1
        stats.largest_batch = max(stats.largest_batch, len(events) + len(enrichments))
        stats.events_written += len(events)
        stats.enrichments_written += len(enrichments)
        stats.last_commit_at = now_ts()
        if events:
            last = events[-1]
            stats.last_event = {
                "event_type": last.event_type,
                "session": session_id(last.server, last.tmux_id),
                "name": last.name,
                "timestamp": last.timestamp,
            }
        for event in events:
            self._remember_directory(event)
        if self._enrich is not None:
            for request in requests:
                self._enrich(request)
        if self._on_commit is not None:
            self._on_commit()

    def _remember_directory(self, event: Lifecycle) -> None:
        sid = session_id(event.server, event.tmux_id)
        if event.event_type in _ENDING or event.status == "ended":
            self._directories.pop(sid, None)
            return
        if event.directory:
            if sid not in self._directories and len(self._directories) >= _DIRECTORY_CACHE:
                self._directories.pop(next(iter(self._directories)))
            self._directories[sid] = event.directory

    def _failed(self, item: WriterItem, exc: BaseException) -> None:
        if isinstance(item, AliveQuery):
            return
        self._stats.events_failed += 1
        self._stats.last_error = (
            f"dropped a {type(item).__name__.lower()} that cannot be stored: {exc}"
        )
        log.error("%s", self._stats.last_error)

    async def _answer_queries(self, batch: Sequence[WriterItem]) -> None:
        for item in batch:
            if not isinstance(item, AliveQuery):
                continue
            try:
                item.result = await sessions_alive_on_socket(self.db.writer, item.socket_path)
            except sqlite3.Error as exc:
                item.error = StoreError(f"cannot read sessions from {self.db.path}: {exc}")
            item.done.set()


class _BadBatch(Exception):
    """A batch failed for a reason that retrying the same batch will not fix."""
