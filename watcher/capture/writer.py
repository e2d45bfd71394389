"""The one writer task: lifecycle events from a bounded memory stream into SQLite, in batches.

The writer takes the first item and whatever else is already waiting (up to ``batch_size``) and
commits them in one transaction at once: no fixed delay when tmux is quiet, bigger batches by
themselves when a burst or a slow disk builds a backlog (a configured ``flush_interval`` trades
latency for bigger batches: the writer then waits that long for more). Besides lifecycle events
the same stream carries enrichment results (project, worktree, branch found after the session's
row was committed) and known-alive queries (answered after everything sent before them is
committed, so reconciliation never races the queue).

Faults of the database do not stop the watcher. When writes fail (a full disk, a lock held past
``busy_timeout``, a schema dropped by a forced ``db migrate``) the writer keeps what it could not
write, keeps taking events from the stream (so tmux readers never stall) up to ``HOLD_LIMIT``,
backs off, and writes everything once the database takes writes again; events beyond the limit
are dropped and counted, and ``on_resync`` asks for a fresh reconciliation from tmux. A database
file deleted or replaced under the watcher (checked every ``CHECK_INTERVAL`` and after every
error) is reopened at its path, created and migrated if needed, followed by the same
reconciliation. Files that became unwritable (``chattr +i``, a read-only mount) stop the writer
with a StoreError before SQLite touches them: a write there would crash the process (SIGBUS).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream

from store.db import Database
from store.errors import StoreError, StoreUnavailable
from store.reads import EventRecord, SessionRecord
from store.repositories import (  # the store API: see "the store" below
    EnrichmentRow,
    LayoutRow,
    LifecycleRow,
)
from store.timefmt import now_ts
from watcher.capture.checkpoints import WalCheckpoints
from watcher.capture.enrich import EnrichRequest
from watcher.capture.events import Lifecycle, SessionLayout, session_id
from watcher.config.schema import WatcherConfig

if TYPE_CHECKING:
    from store.postgres.db import PgDatabase

log = logging.getLogger("ccmgr_watch.writer")

# The defaults live on the config schema (watcher.config.schema.WatcherConfig) and nowhere else.
DEFAULT_BATCH_SIZE = WatcherConfig().batch_size
DEFAULT_FLUSH_INTERVAL = WatcherConfig().flush_interval.seconds
_ENDING = frozenset({"killed", "vanished"})
# Events after which project/worktree/branch may have changed (or are not known yet).
_ENRICH_ON = frozenset({"created", "discovered", "renamed"})
# Waits between attempts while writes fail (a backup, `db migrate`, a full disk): quick at
# first (a busy database frees up in milliseconds), then every few seconds, without end.
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 5.0)
CHECK_INTERVAL = 2.0  # how often the open file is compared with the path (and after any error)
HOLD_LIMIT = 20_000  # items kept while writes fail; beyond it events are dropped and reconciled
# How often the idle writer folds the name-order snapshot's delta in (`--sort name`, migration
# 012, store.name_fold: one cheap read when there is none), and how long it stops folding after a
# fold found no room left in a database too big to rebuild by itself.
MAINTAIN_INTERVAL = 60.0
FOLD_PAUSE = 3600.0
_DIRECTORY_CACHE = 10_000
_FOLD_POLL = 0.001  # how often a fold waiting for its checkpoint looks for an event


class AliveQuery:
    """Which sessions the store believes alive on one socket, answered in stream order."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.result: list[SessionRecord] = []
        self.error: BaseException | None = None
        self.done = anyio.Event()

    async def wait(self) -> list[SessionRecord]:
        """Wait for the writer's answer; re-raises the writer's error if it could not answer."""
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


WriterItem = Lifecycle | SessionLayout | EnrichmentRow | AliveQuery


class WriterStatistics(msgspec.Struct, kw_only=True):
    """What the writer has done so far (``statistics()``)."""

    events_written: int = 0
    events_failed: int = 0
    enrichments_written: int = 0
    layouts_written: int = 0  # sessions' windows recorded (for revive)
    batches: int = 0
    largest_batch: int = 0
    last_event: dict[str, Any] | None = None
    last_commit_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    # The current problem (None when writes succeed): since when, and what.
    failing_since: str | None = None
    failing: str | None = None
    events_waiting: int = 0  # held while writes fail
    events_dropped: int = 0  # did not fit while writes failed (reconciled from tmux after)
    reopened: int = 0  # times the database file was found deleted or replaced and reopened


class SessionWriter:
    """The one task that writes lifecycle events and enrichment into the database."""

    def __init__(
        self,
        db: Database | PgDatabase,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        enrich: Callable[[EnrichRequest], None] | None = None,
        enrich_now: Callable[[EnrichRequest], tuple[bool, EnrichmentRow | None]] | None = None,
        on_commit: Callable[[], None] | None = None,
        on_change: Callable[[], None] | None = None,
        on_resync: Callable[[], None] | None = None,
        host: str | None = None,
    ) -> None:
        self.db = db
        # Written into every session and event; reconciliation reads only this host's sessions.
        self.host = host
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._enrich = enrich
        # Answers known without running git (see enrich.enrich_now) are stored in the
        # batch's own transaction; the rest go to ``enrich`` after the commit.
        self._enrich_now = enrich_now
        self._on_commit = on_commit
        # ``on_change``: the database's state changed (failing, recovered, reopened), for status.
        self._on_change = on_change
        # ``on_resync``: the store may now miss sessions tmux has (events were dropped, or the
        # file was replaced): reconcile every server from a fresh snapshot.
        self._on_resync = on_resync
        self._stats = WriterStatistics()
        # Directories of live sessions, so a rename (which does not carry one) can be enriched.
        self._directories: dict[str, str] = {}
        # Items taken from the stream and not yet written, oldest first.
        self._held: deque[WriterItem] = deque()
        self._attempt = 0  # failed attempts in a row
        self._resync_pending = False
        self._next_check = 0.0
        self._next_maintain = 0.0
        self._said_too_big = False
        self._fold_paused_until = 0.0
        # The WAL's checkpoints, off the writer's connection (SQLite only: store.wal).
        self._checkpoints: WalCheckpoints | None = None
        if isinstance(db, Database):
            self._checkpoints = WalCheckpoints(db)

    def statistics(self) -> WriterStatistics:
        """A copy of the counters."""
        waiting = sum(1 for item in self._held if isinstance(item, Lifecycle))
        return msgspec.structs.replace(self._stats, events_waiting=waiting)

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
        """Write batches until every sender has closed and everything taken is written (with
        the WAL's checkpoints in a task beside it: watcher.capture.checkpoints)."""
        if self._checkpoints is None:
            await self._run(receive)
            return
        async with anyio.create_task_group() as group:
            group.start_soon(self._checkpoints.run)
            try:
                await self._run(receive)
            finally:
                group.cancel_scope.cancel()

    async def _run(self, receive: MemoryObjectReceiveStream[WriterItem]) -> None:
        self._next_check = anyio.current_time() + CHECK_INTERVAL
        self._next_maintain = anyio.current_time() + MAINTAIN_INTERVAL
        try:
            async with receive:
                open_ = True
                while open_ or self._held:
                    if not self._held:
                        try:
                            first = await self._receive_checking(receive)
                        except anyio.EndOfStream:
                            return
                        if first is None:
                            continue  # idle: the file was checked
                        self._held.append(first)
                        # Let producers that are ready run first (one turn of the event loop,
                        # not a timer): a session's events come in quick succession, and one
                        # commit for several of them costs far less than one commit each.
                        await anyio.lowlevel.checkpoint()
                    if open_:
                        open_ = self._take_ready(receive)
                        if open_ and self.flush_interval > 0 and self._stats.failing is None:
                            open_ = await self._gather(receive)
                    if await self._write_front():
                        continue
                    open_ = await self._back_off(receive, open_)
        finally:
            lost = sum(1 for item in self._held if isinstance(item, Lifecycle))
            if lost:
                log.error(
                    "stopping with %d events not written to %s (%s)",
                    lost,
                    self.db.path,
                    self._stats.failing or "the writer was stopped",
                )

    async def _receive_checking(
        self, receive: MemoryObjectReceiveStream[WriterItem]
    ) -> WriterItem | None:
        """The next item, or None (after checking the file) when none came before the check."""
        with anyio.move_on_after(max(0.0, self._next_check - anyio.current_time())):
            return await receive.receive()
        try:
            changed = await self._check_file()
        except _Unavailable as exc:
            await self._failing(str(exc))
            return None
        if changed or self._stats.failing is not None:
            self._recovered()  # nothing is held: the reopened file is all there is to check
        elif anyio.current_time() >= self._next_maintain:
            await self.maintain(receive)  # idle: no event came for CHECK_INTERVAL
        return None

    async def maintain(self, receive: MemoryObjectReceiveStream[WriterItem] | None = None) -> None:
        """One round of the idle writer's maintenance (every MAINTAIN_INTERVAL): fold the
        name-order snapshot's delta in (`--sort name`, store.name_fold) and merge its index a
        few pages at a time, one short transaction after another, stopping as soon as an item
        waits in ``receive`` (events go first; the rest at the next idle moment). Where a fold
        finds no room left, the snapshot is rebuilt (up to REFRESH_MAX_SESSIONS; above, it
        says once that `db reindex` would). A failure or a busy lock is logged and left for a
        later round: it never stops the writer."""
        now = anyio.current_time()
        self._next_maintain = now + MAINTAIN_INTERVAL
        fold = getattr(self.db, "fold_name_order", None)  # SQLite only
        if fold is None or now < self._fold_paused_until:
            return
        folded = moved = transactions = 0
        seconds = longest = 0.0
        exhausted: int | None = None  # the snapshot's sessions, when a fold found no room
        while True:
            try:
                done = await fold()
            except (sqlite3.Error, StoreError) as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    log.debug("name-order fold: the database is busy (%s); retried later", exc)
                    self._next_maintain = anyio.current_time() + CHECK_INTERVAL
                else:
                    log.warning("folding the name-order snapshot failed: %s (retried later)", exc)
                break
            if done is None:
                break
            transactions += 1
            folded += done.folded
            moved += done.relabelled
            seconds += done.seconds
            longest = max(longest, done.seconds)
            log.debug(
                "name-order fold: %d sessions, %d relabelled, %.1f ms",
                done.folded,
                done.relabelled,
                done.seconds * 1000,
            )
            if done.exhausted:
                exhausted = done.sessions
                break
            if not done.more:
                break
            if not await self._checkpoint_between_folds(receive):
                # Events came: they go first; the rest at the next idle moment.
                self._next_maintain = anyio.current_time()
                break
        if transactions:
            self._checkpoint_soon()  # the last fold's pages
        if folded:
            log.info(
                "folded %d sessions into the name-order snapshot in %d transactions (%.0f ms, "
                "longest %.1f ms, %d rows relabelled)",
                folded,
                transactions,
                seconds * 1000,
                longest * 1000,
                moved,
            )
        if exhausted is not None:
            await self._rebuild_name_order(exhausted)

    async def _rebuild_name_order(self, sessions: int) -> None:
        """A fold found no room around a gap: rebuild where that is quick, else pause folding
        (FOLD_PAUSE) and say once that `db reindex` rebuilds it."""
        from store import name_order

        rebuild = getattr(self.db, "rebuild_name_order", None)  # SQLite only
        if rebuild is not None and sessions <= name_order.REFRESH_MAX_SESSIONS:
            try:
                held, took = await rebuild()
            except (sqlite3.Error, StoreError) as exc:
                log.warning("rebuilding the name-order snapshot failed: %s (retried later)", exc)
                return
            self._checkpoint_soon()
            log.info(
                "rebuilt the name-order snapshot of %d sessions in %.2f s (a fold found no "
                "room left between two names)",
                held,
                took,
            )
            return
        self._fold_paused_until = anyio.current_time() + FOLD_PAUSE
        if not self._said_too_big:
            self._said_too_big = True
            log.info(
                "a fold of the name-order snapshot found no room left between two names; at "
                "about %s sessions the watcher does not rebuild it by itself (it would hold "
                "events up for tens of seconds): `ccmgr-watch db reindex` does (docs/search.md)",
                sessions,
            )

    async def _checkpoint_between_folds(
        self, receive: MemoryObjectReceiveStream[WriterItem] | None
    ) -> bool:
        """After a fold transaction: its pages go to the database file (the other connection,
        on its thread) before the next fold; False as soon as an item waits in ``receive``
        (the event is written while the checkpoint runs: its commit does not wait for it)."""
        if receive is not None and receive.statistics().current_buffer_used:
            return False
        if self._checkpoints is None or not self._checkpoints.running:
            await anyio.lowlevel.checkpoint()
            return True
        ran = self._checkpoints.checkpoint_now()
        while not ran.is_set():
            # Polled, not received: the item stays in the stream for the writer's loop.
            with anyio.move_on_after(_FOLD_POLL):
                await ran.wait()
            if receive is not None and receive.statistics().current_buffer_used:
                return False
        return True

    def _checkpoint_soon(self) -> None:
        """The writer committed: its pages go to the database file from the other connection
        (watcher.capture.checkpoints), not from the next commit of an event."""
        if self._checkpoints is not None:
            self._checkpoints.committed()

    def _batch_ready(self) -> bool:
        """Whether the front of the queue already makes a whole batch (or ends in a query)."""
        held = self._held
        if self._stats.failing is not None:
            return False  # take everything: tmux readers must never wait on a failing database
        # Only the newest item can be a query: taking stops right after one.
        return len(held) >= self.batch_size or (bool(held) and isinstance(held[-1], AliveQuery))

    def _take_ready(self, receive: MemoryObjectReceiveStream[WriterItem]) -> bool:
        """Move what is waiting in the stream into the queue; False once the stream has ended."""
        while not self._batch_ready():
            try:
                item = receive.receive_nowait()
            except anyio.WouldBlock:
                return True
            except anyio.EndOfStream:
                return False
            self._hold(item)
        return True

    def _hold(self, item: WriterItem) -> None:
        if len(self._held) < HOLD_LIMIT or isinstance(item, AliveQuery):
            self._held.append(item)  # a query is always kept: a server task waits for it
            return
        if isinstance(item, Lifecycle):
            self._stats.events_dropped += 1
            if not self._resync_pending:
                log.error(
                    "more than %d events waiting for the database: dropping events; every "
                    "tmux server will be reconciled once writes succeed again",
                    HOLD_LIMIT,
                )
            self._resync_pending = True

    async def _gather(self, receive: MemoryObjectReceiveStream[WriterItem]) -> bool:
        """Wait up to ``flush_interval`` for more items (a configured trade of latency for size)."""
        with anyio.move_on_after(self.flush_interval):
            while not self._batch_ready():
                try:
                    self._hold(await receive.receive())
                except anyio.EndOfStream:
                    return False
        return True

    async def _back_off(self, receive: MemoryObjectReceiveStream[WriterItem], open_: bool) -> bool:
        """Wait before the next attempt, taking in what arrives meanwhile; returns ``open_``."""
        delay = _RETRY_DELAYS[min(self._attempt - 1, len(_RETRY_DELAYS) - 1)]
        with anyio.move_on_after(delay):
            while open_:
                try:
                    self._hold(await receive.receive())
                except anyio.EndOfStream:
                    open_ = False
            await anyio.sleep_forever()
        return open_

    def _front_batch(self) -> list[WriterItem]:
        """The oldest items, up to ``batch_size``; a query ends the batch (it must see them)."""
        batch: list[WriterItem] = []
        for item in self._held:
            batch.append(item)
            if len(batch) >= self.batch_size or isinstance(item, AliveQuery):
                break
        return batch

    async def _write_front(self) -> bool:
        """Commit the front batch (isolating bad items); False if the database failed."""
        batch = self._front_batch()
        try:
            if anyio.current_time() >= self._next_check:
                await self._check_file()
            try:
                await self._commit(batch)
            except _BadBatch:
                if len(batch) == 1:
                    raise
                # Something in the batch cannot be stored: store the rest one by one.
                for item in batch:
                    try:
                        await self._commit([item])
                    except _BadBatch as exc:
                        self._failed(item, exc.__cause__ or exc)
                    self._held.popleft()
                    await self._answer_queries([item])
                self._recovered()
                return True
        except _BadBatch as exc:
            self._failed(batch[0], exc.__cause__ or exc)
        except _Unavailable as exc:
            await self._failing(str(exc))
            return False
        for _ in batch:
            self._held.popleft()
        self._recovered()
        await self._answer_queries(batch)
        return True

    async def _commit(self, batch: Sequence[WriterItem]) -> None:
        # Database.write_batch refuses files that became unwritable (StoreError) before SQLite
        # writes to them: that would crash the process (SIGBUS).
        try:
            await self.write_batch(batch)
        except sqlite3.OperationalError as exc:
            # Busy (another process holds the write lock past busy_timeout), I/O, disk full, a
            # schema dropped under us: the batch is fine, the database is not.
            raise _Unavailable(_describe(exc, Path(self.db.path))) from exc
        except StoreUnavailable as exc:
            # A database server lost (PostgreSQL down or restarting): the next write reconnects.
            raise _Unavailable(str(exc)) from exc
        except (sqlite3.Error, msgspec.EncodeError, ValueError, TypeError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and await self._check_file():
                raise _Unavailable(f"database file changed: {exc}") from exc
            raise _BadBatch(str(exc)) from exc

    async def _check_file(self) -> bool:
        """Reopen the database if its file was deleted or replaced; True if it was."""
        self._next_check = anyio.current_time() + CHECK_INTERVAL
        change = self.db.file_changed()
        if change is None:
            return False
        log.warning(
            "the database file %s was %s while the watcher was writing to it; opening the file "
            "at that path now (creating it if needed) and reconciling every tmux server into it",
            self.db.path,
            change,
        )
        self._stats.reopened += 1
        self._note_error(f"the database file was {change} while in use; reopened it")
        try:
            await self.db.reopen()
        except (StoreError, sqlite3.Error, OSError) as exc:
            raise _Unavailable(f"cannot reopen the database: {exc}") from exc
        self._resync_pending = True
        # The reconciliation must start after what is held now (it asks in stream order), so
        # it is requested once the next batch is written.
        self._changed()
        return True

    async def _failing(self, reason: str) -> None:
        """A write failed for a reason that time may fix: keep everything, say so."""
        stats = self._stats
        self._attempt += 1
        first = stats.failing is None
        if first:
            stats.failing_since = now_ts()
        stats.failing = reason
        self._note_error(reason)
        if first:
            log.warning(
                "database writes failing: %s; holding events and retrying (%d waiting)",
                reason,
                self.statistics().events_waiting,
            )
        else:
            log.debug("database writes still failing (attempt %d): %s", self._attempt, reason)
        # The file may have been deleted or replaced: check it after every error.
        await self._check_file_quietly()
        self._changed()

    async def _check_file_quietly(self) -> None:
        try:
            await self._check_file()
        except _Unavailable as exc:
            self._stats.failing = str(exc)

    def _recovered(self) -> None:
        stats = self._stats
        if stats.failing is not None:
            log.warning(
                "database writes succeed again (failing since %s: %s); %d events were held, "
                "%d dropped",
                stats.failing_since,
                stats.failing,
                self.statistics().events_waiting,
                stats.events_dropped,
            )
            stats.failing = None
            stats.failing_since = None
            self._changed()
        self._attempt = 0
        if self._resync_pending:
            self._resync_pending = False
            if self._on_resync is not None:
                self._on_resync()

    def _note_error(self, message: str) -> None:
        self._stats.last_error = f"database: {message}"
        self._stats.last_error_at = now_ts()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    async def write_batch(self, batch: Sequence[WriterItem]) -> None:
        """Commit ``batch`` in one transaction; on any error nothing of it is stored."""
        events = [item for item in batch if isinstance(item, Lifecycle)]
        enrichments = [item for item in batch if isinstance(item, EnrichmentRow)]
        layouts = [item for item in batch if isinstance(item, SessionLayout)]
        if not events and not enrichments and not layouts:
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
        await store_batch(self.db, events, enrichments, self.host, layouts)
        self._stats.layouts_written += len(layouts)
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

    def _committed(
        self,
        events: list[Lifecycle],
        enrichments: list[EnrichmentRow],
        requests: list[EnrichRequest],
    ) -> None:
        stats = self._stats
        stats.batches += 1
        stats.largest_batch = max(stats.largest_batch, len(events) + len(enrichments))
        stats.events_written += len(events)
        stats.enrichments_written += len(enrichments)
        stats.last_commit_at = now_ts()
        self._checkpoint_soon()
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
        self._stats.last_error_at = now_ts()
        log.error("%s", self._stats.last_error)

    async def _answer_queries(self, batch: Sequence[WriterItem]) -> None:
        for item in batch:
            if not isinstance(item, AliveQuery):
                continue
            try:
                item.result = await store_alive_on(self.db, item.socket_path, self.host)
            except (sqlite3.Error, StoreUnavailable) as exc:
                item.error = StoreError(f"cannot read sessions from {self.db.path}: {exc}")
            item.done.set()


class _BadBatch(Exception):
    """A batch failed for a reason that retrying the same batch will not fix."""


class _Unavailable(Exception):
    """The database refused a write for a reason that time may fix (full disk, busy, gone)."""


def _describe(exc: sqlite3.OperationalError, path: Path) -> str:
    """A short, plain reason for a failed write (SQLite reports a full disk in several ways)."""
    text = str(exc)
    try:
        st = os.statvfs(path.parent)
        full = st.f_bavail * st.f_frsize < 64 * 1024
    except OSError:
        full = False
    if full or "full" in text:
        return f"disk full ({text})"
    return text


# --- the store: every call the writer makes to it, in one place ----------------------------------


async def store_batch(
    db: Database | PgDatabase,
    events: list[Lifecycle],
    enrichments: list[EnrichmentRow],
    host: str | None,
    layouts: Sequence[SessionLayout] = (),
) -> None:
    """Write one batch's session upserts, event rows, enrichments and window records in one
    transaction."""
    lifecycle = [lifecycle_row(e, host) for e in events]
    rows = [event_row(e, host) for e in events]
    await db.write_batch(lifecycle, rows, enrichments, [layout_row(x) for x in layouts])


def layout_row(layout: SessionLayout) -> LayoutRow:
    """The metadata update one session's window record amounts to."""
    return LayoutRow(
        id=session_id(layout.server, layout.tmux_id),
        recorded_at=layout.timestamp,
        windows=layout.windows,
    )


async def store_alive_on(
    db: Database | PgDatabase, socket_path: str, host: str | None
) -> list[SessionRecord]:
    """The sessions the store believes alive on ``socket_path`` of ``host`` (on the writer's
    connection)."""
    return await db.alive_on_socket(socket_path, host)


def lifecycle_row(event: Lifecycle, host: str | None = None) -> LifecycleRow:
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
        host=host,
    )


def event_row(event: Lifecycle, host: str | None = None) -> EventRecord:
    """The ``session_events`` row of one lifecycle event."""
    return EventRecord(
        session_id=session_id(event.server, event.tmux_id),
        event_type=event.event_type,
        timestamp=event.timestamp,
        data=dict(event.data),
        host=host,
    )
