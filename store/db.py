"""Opening the database: file permissions, pragmas, migrations, the writer and readers.

Only one connection writes (the writer); readers open their own connections. Every connection
uses WAL, ``foreign_keys=ON`` and a ``busy_timeout``, and runs in autocommit mode so that
transactions are explicit (:meth:`Database.transaction`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

import aiosqlite
import anyio.to_thread

from store import migrations
from store.errors import StoreError
from store.paths import ensure_private_dir, ensure_private_file

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")
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
        if os.access(name, os.W_OK) or not os.path.lexists(name):
            continue
        try:
            if os.statvfs(name).f_flag & os.ST_RDONLY:
                return f"{name} is on a read-only file system"
            st = os.stat(name)
        except OSError:
            continue
        if os.geteuid() == 0 or (st.st_uid == os.geteuid() and st.st_mode & 0o200):
            # Its mode lets us write: only an inode flag can forbid it.
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


def _apply_pragmas(conn: sqlite3.Connection, *, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
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


def connect_sync(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A stdlib connection with the project's pragmas, in autocommit mode."""
    if path.is_dir():
        raise StoreError(
            f"{path} is a folder, not a database file",
            hint=f"give the database file, e.g. --db {path / 'data.db'}",
        )
    if readonly:
        if not path.exists():
            raise StoreError(
                f"no database at {path}",
                hint="run `ccmgr-watch db migrate` or start the watcher to create it",
            )
        # Not mode=ro: a read-only open cannot create the WAL index (-shm) when no writer runs.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    else:
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
        _apply_pragmas(conn, readonly=readonly)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path} is not a usable SQLite database ({exc})",
            hint="point --db at another file, or move this one aside",
        ) from exc
    return conn


@contextmanager
def sync_connection(path: Path, *, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    """A stdlib connection that is closed on exit."""
    conn = connect_sync(path, readonly=readonly)
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


async def _connect_async(path: Path, *, readonly: bool) -> aiosqlite.Connection:
    if readonly and not path.exists():
        # Fail before aiosqlite starts its thread: a failed connect would leave that thread
        # behind, to complain after the event loop has closed.
        connect_sync(path, readonly=True)
    # aiosqlite builds the stdlib connection in its own thread from this factory.
    conn = aiosqlite.Connection(lambda: connect_sync(path, readonly=readonly), iter_chunk_size=256)
    try:
        return await conn
    except BaseException:
        await conn.close()
        raise


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
    """An open database: the writer connection plus a way to open readers."""

    def __init__(self, path: Path, writer: aiosqlite.Connection) -> None:
        self.path = path
        self.writer = writer
        self._in_transaction = False
        # Which file the writer has open: a file deleted or replaced under us is noticed by
        # comparing this with what the path names now (see :meth:`file_changed`).
        self.identity = file_identity(path)
        # True when the writer connection was left open on purpose (see :meth:`close`).
        self.abandoned = False

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        """Open (creating and migrating unless ``migrate`` is False) the database at ``path``."""
        if migrate:
            await anyio.to_thread.run_sync(migrate_sync, path)
        writer = await _connect_async(path, readonly=False)
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
        old = self.writer
        with contextlib.suppress(sqlite3.Error):  # its last checkpoint failed: it is gone anyway
            await old.close()
        await anyio.to_thread.run_sync(migrate_sync, self.path)
        self.writer = await _connect_async(self.path, readonly=False)
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
        await self.writer.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction on the writer: committed on success, rolled back on any error."""
        if self._in_transaction:
            raise RuntimeError("transactions on the writer do not nest")
        self._in_transaction = True
        try:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                yield self.writer
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.writer.execute("ROLLBACK")
                raise
            else:
                await self.writer.execute("COMMIT")
        finally:
            self._in_transaction = False

    async def transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` in one write transaction on the writer's thread, in one hand-off.

        The same guarantee as :meth:`transaction` (all of it committed, or none of it), for a
        hot path: BEGIN, the statements and COMMIT cost one trip to the writer's thread and one
        wake-up of the event loop instead of one each. ``work`` must be plain synchronous
        sqlite3 code (it runs off the event loop).
        """
        if self._in_transaction:
            raise RuntimeError("transactions on the writer do not nest")
        self._in_transaction = True
        try:
            # aiosqlite runs queued calls in order on its one thread; ``_execute`` queues a
            # function there. If this await is cancelled, the thread still finishes the whole
            # transaction (committed or rolled back), never half of it.
            result: T = await self.writer._execute(  # type: ignore[no-untyped-call]
                _run_transaction, self.writer._conn, work
            )
            return result
        finally:
            self._in_transaction = False

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """A separate read-only connection, closed on exit."""
        conn = await _connect_async(self.path, readonly=True)
        try:
            yield conn
        finally:
            await conn.close()


@asynccontextmanager
async def open_reader(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A read-only connection to an existing database, for commands that only read."""
    conn = await _connect_async(path, readonly=True)
    try:
        yield conn
    finally:
        await conn.close()
