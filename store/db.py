"""The SQLite store's writes: file permissions, pragmas, migrations, the capture writer.

Only the capture writer (:class:`Database`, whose one write is :meth:`Database.write_batch`)
writes while the watcher runs; the CLI's writing commands use the named functions here
(:func:`migrate_sync`, :func:`reindex`). Reads are :mod:`store.reads`. Every connection uses WAL,
``foreign_keys=ON`` and a ``busy_timeout``, and runs in autocommit mode so that transactions are
explicit.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import aiosqlite
import anyio.to_thread

from store import migrations
from store.errors import StoreError
from store.paths import ensure_private_dir, ensure_private_file
from store.reads import BUSY_TIMEOUT_MS, EventRecord, SessionRecord, open_reader
from store.repositories import (
    EnrichmentRow,
    LayoutRow,
    LifecycleRow,
    sessions_alive_on_socket,
    write_capture_sync,
)
from store.wal import Checkpoint, open_checkpointer, writer_pragmas
from store.wal import checkpoint as _checkpoint

if TYPE_CHECKING:
    from store.name_fold import FoldResult

T = TypeVar("T")
A = TypeVar("A")
# The database's own files: SQLite maps ``-shm`` into memory and writes to it even to read.
_SUFFIXES = ("", "-wal", "-shm")


def unwritable_files(path: Path) -> str | None:
    """Why SQLite must not write the database's files, or None when they are writable.

    A file marked immutable (``chattr +i``) or on a read-only mount cannot be written; SQLite
    would not fail cleanly there but crash the process (SIGBUS on a write through its
    memory-mapped ``-shm``). Only path-based calls (``access``, ``statvfs``): opening and
    closing a file descriptor of a database file would drop SQLite's POSIX locks on it.
    Missing files are fine.
    """
    for suffix in _SUFFIXES:
        name = path.with_name(path.name + suffix)
        # Existence first: another process may create the file (a -wal, a -shm) or delete it
        # at any moment, and access() of a file not there yet says "not writable".
        if not os.path.lexists(name) or os.access(name, os.W_OK):
            continue
        try:
            if os.statvfs(name).f_flag & os.ST_RDONLY:
                return f"{name} is on a read-only file system"
            st = os.stat(name)
        except OSError:
            continue
        if os.geteuid() == 0 or (st.st_uid == os.geteuid() and st.st_mode & 0o200):
            # Its mode lets us write: only an inode flag can forbid it, unless the file was
            # deleted and created again meanwhile (SQLite does that with -wal): ask once more.
            if os.access(name, os.W_OK) or not os.path.lexists(name):
                continue
            return f"{name} is marked immutable (chattr +i)"
        return f"{name} is not writable by this user (mode {st.st_mode & 0o777:o})"
    return None


def check_usable_files(path: Path) -> None:
    """Raise StoreError if the database's files cannot be written (see :func:`unwritable_files`)."""
    problem = unwritable_files(path)
    if problem is not None:
        raise StoreError(
            f"the database cannot be written: {problem}",
            hint="make the files writable again (chattr -i, or a writable mount), or use "
            "another --db",
        )


def file_identity(path: Path) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file at ``path``, or None if there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _apply_pragmas(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    _enable_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out other processes doing the same to a brand-new file.

    Changing the journal mode needs an exclusive lock and SQLite reports ``database is locked``
    at once rather than calling the busy handler, so retry here for up to ``BUSY_TIMEOUT_MS``.
    Always runs in a worker thread or a plain CLI process, never on the event loop.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
            continue
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode is {mode})")
        return


def prepare_file(path: Path) -> None:
    """Create the database's folder (0700) and an empty database file (0600) if missing."""
    ensure_private_dir(path.parent)
    ensure_private_file(path)


def connect_sync(path: Path) -> sqlite3.Connection:
    """A stdlib connection that writes, with the project's pragmas, in autocommit mode
    (creating the file; reads use :func:`store.reads.open_reader`)."""
    if path.is_dir():
        raise StoreError(
            f"{path} is a folder, not a database file",
            hint=f"give the database file, e.g. --db {path / 'data.db'}",
        )
    # Say so plainly rather than let SQLite fail with "readonly database" half-way.
    check_usable_files(path)
    try:
        prepare_file(path)
    except OSError as exc:
        if path.exists():  # there, but not writable: creating it was never the problem
            raise StoreError(
                f"cannot write to the database at {path}: {exc.strerror or exc}",
                hint="this command writes to the database: check the permissions of the file "
                "and its folder (reading commands such as `ccmgr-watch query` still work)",
            ) from exc
        raise StoreError(
            f"cannot create the database at {path}: {exc.strerror or exc}",
            hint="choose a writable place with --db PATH or CCMGR_WATCH_DB",
        ) from exc
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        _apply_pragmas(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path} is not a usable SQLite database ({exc})",
            hint="point --db at another file, or move this one aside",
        ) from exc
    return conn


def schema_status(path: Path) -> migrations.MigrationStatus:
    """Which migrations the database at ``path`` has (read only; a missing file has none)."""
    if not path.exists():
        return migrations.status_of_missing()
    conn = open_reader(str(path))
    try:
        return migrations.status(conn)
    finally:
        conn.close()


@contextmanager
def sync_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """A stdlib connection that writes, closed on exit."""
    conn = connect_sync(path)
    try:
        yield conn
    finally:
        conn.close()


def migrate_sync(path: Path, target: int | None = None) -> list[tuple[str, migrations.Migration]]:
    """Migrate the database at ``path`` (creating it) to ``target``, default the latest."""
    with sync_connection(path) as conn:
        try:
            if target is None:
                state = migrations.status(conn)
                if not state.pending and state.ok and state.current == state.latest:
                    return []  # the common case: no write lock taken
            return migrations.migrate(conn, target)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"migrating {path} failed: {exc}") from exc


async def _connect_writer(path: Path) -> aiosqlite.Connection:
    # aiosqlite builds the stdlib connection in its own thread from this factory. The writer's
    # commits do not checkpoint (store.wal): Database.checkpoint does, from another connection.
    conn = aiosqlite.Connection(lambda: writer_pragmas(connect_sync(path)), iter_chunk_size=256)
    try:
        return await conn
    except BaseException:
        await conn.close()
        raise


def reindex(path: Path) -> int:
    """Rebuild the search index of the (migrated) database at ``path`` in one write
    transaction; returns how many sessions it holds.

    The index stores sessions' implicit rowids, which VACUUM may renumber: this re-reads them.
    """
    with sync_connection(path) as conn:
        try:
            return _run_transaction(conn, _rebuild_index)
        except sqlite3.Error as exc:
            raise StoreError(f"rebuilding the search index of {path} failed: {exc}") from exc


def _rebuild_index(conn: sqlite3.Connection) -> int:
    from store import name_order  # only `db reindex` needs it

    conn.execute("INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild')")
    if name_order.has_snapshot(conn):
        name_order.rebuild(conn)
    (count,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
    return int(count)


FOLD_BUSY_MS = 20
"""How long a fold waits for another process's write lock before it gives up (retried later):
the watcher's own events must not wait behind a fold that waits."""


def _fold_name_order(conn: sqlite3.Connection, limit: int) -> FoldResult | None:
    """One fold transaction (store.name_fold.fold: part of the delta, a few pages of the index
    merged); None when there is no snapshot, or nothing to fold or merge: then only reads ran
    (store.name_fold.has_work), so an idle watcher does not write. A busy lock raises at once
    (after FOLD_BUSY_MS): sqlite3.OperationalError "database is locked"."""
    from store import name_fold, name_order  # only the watcher's maintenance needs them

    facts = name_order.snapshot_facts(conn)
    if facts is None or not name_fold.has_work(conn):
        return None
    conn.execute(f"PRAGMA busy_timeout = {FOLD_BUSY_MS}")
    try:
        return _run_transaction(conn, partial(name_fold.fold, limit=limit))
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _rebuild_name_order(conn: sqlite3.Connection, _: None) -> tuple[int, float]:
    """The snapshot rebuilt in one transaction: (sessions, seconds)."""
    from store import name_order

    started = time.perf_counter()
    held = _run_transaction(conn, name_order.rebuild)
    return held, time.perf_counter() - started


def _run_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """BEGIN IMMEDIATE, ``work``, COMMIT; any failure (of ``work`` or of COMMIT) rolls back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        # Some errors (SQLITE_FULL, I/O) end the transaction by themselves: ROLLBACK would then
        # fail and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Database:
    """The capture writer's database: one connection, written only by :meth:`write_batch`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection) -> None:
        self.path = path
        # Private: the only writes are :meth:`write_batch`'s ("only the writer writes" by
        # construction: the capture writer holds this object, which has no other write).
        self._conn = writer
        self._busy = False
        # Which file the writer has open: a file deleted or replaced under us is noticed by
        # comparing this with what the path names now (see :meth:`file_changed`).
        self.identity = file_identity(path)
        # True when the writer connection was left open on purpose (see :meth:`close`).
        self.abandoned = False
        # The connection that checkpoints the WAL (store.wal), opened by the first checkpoint,
        # used on a worker thread by one call at a time (the lock).
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint_lock: anyio.Lock | None = None

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        """Open (creating and migrating unless ``migrate`` is False) the database at ``path``."""
        if migrate:
            await anyio.to_thread.run_sync(migrate_sync, path)
        writer = await _connect_writer(path)
        return cls(path, writer)

    def file_changed(self) -> str | None:
        """``"deleted"`` or ``"replaced"`` if the path no longer names the open file, else None."""
        now = file_identity(self.path)
        if now is None:
            return "deleted"
        if self.identity is not None and now != self.identity:
            return "replaced"
        return None

    async def reopen(self) -> None:
        """Close the writer and open whatever file the path names now (creating and migrating it).

        For a database file deleted or replaced while open. On failure (StoreError) the old
        connection is closed and the next call tries again.
        """
        old = self._conn
        await self._close_checkpointer()  # it has the old file open
        with contextlib.suppress(sqlite3.Error):  # its last checkpoint failed: it is gone anyway
            await old.close()
        await anyio.to_thread.run_sync(migrate_sync, self.path)
        self._conn = await _connect_writer(self.path)
        self.identity = file_identity(self.path)

    async def close(self) -> None:
        """Close the writer connection (idempotent).

        If the files became unwritable (immutable, read-only mount), closing would make SQLite
        checkpoint into a memory-mapped ``-shm`` and the kernel would kill the process with
        SIGBUS: the connection is then left open (``abandoned``) for the process to exit without
        closing it (``os._exit``).
        """
        if self.file_changed() is None and unwritable_files(self.path) is not None:
            self.abandoned = True
            return
        # The checkpointer first: the writer, closing last, checkpoints what is left and
        # removes the WAL, as before.
        await self._close_checkpointer()
        await self._conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def write_batch(
        self,
        lifecycle: Sequence[LifecycleRow],
        events: Sequence[EventRecord],
        enrichments: Sequence[EnrichmentRow],
        layouts: Sequence[LayoutRow] = (),
    ) -> None:
        """Commit one capture batch in one transaction: all of it, or none of it on any error.

        Lifecycle rows fold into their sessions first, then the events are inserted, then the
        enrichments applied, then the sessions' windows recorded (see
        :func:`store.repositories.write_capture_sync`).
        """
        batch = partial(
            write_capture_sync,
            lifecycle=lifecycle,
            events=events,
            enrichments=enrichments,
            layouts=layouts,
        )
        await self._on_writer_thread(self._write_checked, batch)

    def _write_checked(
        self, conn: sqlite3.Connection, batch: Callable[[sqlite3.Connection], None]
    ) -> None:
        """On the writer's thread: refuse files that became unwritable, then ``batch`` in one
        transaction. The check is path syscalls: here they never hold up the event loop."""
        # Before SQLite writes: files that became immutable would crash the process (SIGBUS).
        problem = unwritable_files(self.path)
        if problem is not None and self.file_changed() is None:
            raise StoreError(
                f"the database cannot be written: {problem}",
                hint="make the files writable again (chattr -i, or a writable mount), then "
                "restart the watcher",
            )
        _run_transaction(conn, batch)

    async def alive_on_socket(
        self, socket_path: str, host: str | None = None
    ) -> list[SessionRecord]:
        """Sessions believed alive on any server lifetime of this socket on ``host`` (None: any
        host), after every batch committed before this call: the writer's connection runs calls
        in order."""
        return await self._on_writer_thread(sessions_alive_on_socket, (socket_path, host))

    async def fold_name_order(self, limit: int | None = None) -> FoldResult | None:
        """Fold part of the name-order snapshot's delta in (store.name_fold.fold: one short
        transaction, at most ``limit`` sessions), on the writer's thread, between batches; None
        when there is nothing to fold. sqlite3.OperationalError when another process holds the
        write lock (it does not wait for it: FOLD_BUSY_MS)."""
        from store.name_fold import FOLD_BATCH

        return await self._on_writer_thread(
            self._maintain_checked, partial(_fold_name_order, limit=limit or FOLD_BATCH)
        )

    async def rebuild_name_order(self) -> tuple[int, float]:
        """Rebuild the name-order snapshot in one transaction (when a fold found no room left:
        store.name_order.REFRESH_MAX_SESSIONS); (sessions, seconds)."""
        return await self._on_writer_thread(
            self._maintain_checked, partial(_rebuild_name_order, _=None)
        )

    async def checkpoint(self) -> Checkpoint | None:
        """A PASSIVE checkpoint of the WAL (store.wal.checkpoint) from a connection of its own,
        on a worker thread: never on the writer's connection or thread, never waiting for (or
        blocking) the writer or a reader. None when the file was deleted or replaced (the
        writer opens the new one) or cannot be written (a checkpoint there would crash the
        process: SIGBUS). sqlite3.Error when SQLite fails."""
        if self._checkpoint_lock is None:
            self._checkpoint_lock = anyio.Lock()
        async with self._checkpoint_lock:
            return await anyio.to_thread.run_sync(self._checkpoint_sync)

    def _checkpoint_sync(self) -> Checkpoint | None:
        # Path syscalls and the checkpoint, on the worker thread.
        if self.file_changed() is not None or unwritable_files(self.path) is not None:
            return None
        if self._checkpointer is None:
            self._checkpointer = open_checkpointer(self.path)
        return _checkpoint(self._checkpointer)

    async def _close_checkpointer(self) -> None:
        """Close the checkpointing connection (after a checkpoint that runs: it is not cut
        short); the next checkpoint opens it again."""
        if self._checkpoint_lock is None:
            self._checkpoint_lock = anyio.Lock()
        async with self._checkpoint_lock:
            conn, self._checkpointer = self._checkpointer, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    await anyio.to_thread.run_sync(conn.close)

    def _maintain_checked(
        self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        """On the writer's thread: refuse files that became unwritable (as :meth:`_write_checked`
        does), then ``work``."""
        problem = unwritable_files(self.path)
        if problem is not None and self.file_changed() is None:
            raise StoreError(f"the database cannot be written: {problem}")
        return work(conn)

    async def _on_writer_thread(self, work: Callable[[sqlite3.Connection, A], T], argument: A) -> T:
        """``work(conn, argument)`` on the writer's thread, in one hand-off.

        aiosqlite's public API would make BEGIN, each statement and COMMIT one trip to the
        writer's thread and one wake-up of the event loop each. Its private ``_execute`` queues
        one function there instead. Measured on the capture path (a batch of one lifecycle row
        and one event, median of 7 runs of 2000 batches, 2 CPUs with other load present): CPU
        per batch 343 us through ``_execute`` against 619 us as separate awaited calls (wall
        611 against 1024 us). That is why aiosqlite is pinned below 0.23 (pyproject.toml).
        If this await is cancelled, the thread still finishes the whole call (a transaction is
        committed or rolled back), never half of it.
        """
        if self._busy:
            raise RuntimeError("calls on the writer do not nest")
        self._busy = True
        try:
            result: T = await self._conn._execute(  # type: ignore[no-untyped-call]
                work, self._conn._conn, argument
            )
            return result
        finally:
            self._busy = False
