"""The WAL's checkpoints off the writer's path (store.wal, watcher.capture.checkpoints): the
writer's commits do not checkpoint; a connection of its own does, soon after them, on a worker
thread; the idle writer's folds wait for the checkpoint of their pages (so the WAL starts over
and stays small) but events do not; a reader that holds the WAL keeps its snapshot, is said at
INFO once it held it long, and again when it let go; the real watcher checkpoints as it runs
and stops as before."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from store import name_fold, wal
from store.db import Database
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, events_of, wait_until
from watcher.capture import checkpoints as checkpoints_module
from watcher.capture import writer as writer_module
from watcher.capture.writer import SessionWriter, WriterItem, store_batch

from .test_writer import ev, feed

pytestmark = pytest.mark.anyio

LONG = "/srv/" + "x" * 1500  # a long directory: many pages per session, in few sessions


def in_file_alone(path: Path, tmp: Path) -> int:
    """The sessions the database *file* holds, without its WAL: what checkpoints copied."""
    copy = tmp / f"file-alone-{time.monotonic_ns()}.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        (found,) = conn.execute("SELECT count(*) FROM sessions").fetchone()
    return int(found)


def wal_size(path: Path) -> int:
    try:
        return os.path.getsize(path.with_name(path.name + "-wal"))
    except OSError:
        return 0


async def write_sessions(db: Database, start: int, count: int, batch: int = 1) -> None:
    """``count`` sessions, ``batch`` a transaction, on the writer's connection (no checkpoint
    task). A transaction of one writes ~35 pages (every page it touched)."""
    items = [
        ev("created", tmux_id=f"${n}", name=f"s-{n}", directory=f"{LONG}/{n}")
        for n in range(start, start + count)
    ]
    for at in range(0, count, batch):
        await store_batch(db, items[at : at + batch], [], None)


async def test_the_writers_commits_do_not_checkpoint(db: Database, tmp_path: Path) -> None:
    """Well past SQLite's default of 1000 pages, nothing of it is in the database file until
    Database.checkpoint copies it; then all of it is, and the WAL starts over."""
    await write_sessions(db, 0, 150)  # ~5000 pages: under WRITER_AUTOCHECKPOINT
    with sqlite3.connect(db.path) as conn:
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    assert wal_size(db.path) > 2000 * page  # the default would have checkpointed at 1000
    assert in_file_alone(db.path, tmp_path) == 0
    done = await db.checkpoint()
    assert done is not None and done.complete and done.frames == done.copied > 2000
    assert in_file_alone(db.path, tmp_path) == 150
    # The WAL starts over at the next commit.
    await write_sessions(db, 150, 1)
    after = await db.checkpoint()
    assert after is not None and after.complete and after.frames < 50


async def test_a_grown_wal_is_cut_back_at_the_next_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "WAL_SIZE_LIMIT", 256 * 1024)
    db = await Database.open(tmp_path / "data.db")
    try:
        await write_sessions(db, 0, 100)
        assert wal_size(db.path) > 1024 * 1024
        assert (await db.checkpoint()).complete  # type: ignore[union-attr]
        await write_sessions(db, 100, 1)
        assert wal_size(db.path) <= 256 * 1024
    finally:
        await db.close()
    assert not db.path.with_name("data.db-wal").exists()  # closed last: checkpointed, removed


async def test_the_writer_checkpoints_soon_after_its_commits(db: Database, tmp_path: Path) -> None:
    writer = SessionWriter(db)
    send, receive = anyio.create_memory_object_stream[WriterItem](100)
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run, receive)
        async with send:
            for n in range(20):
                await send.send(ev("created", tmux_id=f"${n}", name=f"s-{n}"))
            with anyio.fail_after(10):
                while in_file_alone(db.path, tmp_path) < 20:
                    await anyio.sleep(0.02)
    assert writer._checkpoints is not None and writer._checkpoints.checkpoints >= 1


async def test_folds_wait_for_their_checkpoint_and_the_wal_stays_small(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folding thousands of sessions in many transactions: each fold's pages are checkpointed
    before the next fold, so the WAL starts over each time; a checkpoint that ran beside
    folds that kept appending never caught the WAL's end (it grew to tens of MB)."""
    monkeypatch.setattr(writer_module, "CHECK_INTERVAL", 0.05)
    monkeypatch.setattr(writer_module, "MAINTAIN_INTERVAL", 0.0)
    monkeypatch.setattr(name_fold, "FOLD_BATCH", 25)
    await write_sessions(db, 0, 2000, batch=500)  # the delta, written before the watcher runs
    with sqlite3.connect(db.path) as conn:  # the setup's WAL out of the way, file and all
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    writer = SessionWriter(db)
    send, receive = anyio.create_memory_object_stream[WriterItem](100)
    largest = 0
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run, receive)
        async with send:
            with anyio.fail_after(60):
                while True:
                    largest = max(largest, wal_size(db.path))
                    with sqlite3.connect(db.path) as conn:
                        if (
                            conn.execute("SELECT count(*) FROM sessions_name_dirty").fetchone()[0]
                            == 0
                            and conn.execute(
                                "SELECT max_rowid >= 2000 FROM sessions_name_build"
                            ).fetchone()[0]
                        ):
                            break
                    await anyio.sleep(0.005)
    assert writer._checkpoints is not None
    assert writer._checkpoints.checkpoints >= 2000 // 25
    # Each fold transaction writes ~100-300 KiB here: the WAL holds one or two of them, not
    # the whole round (tens of MB).
    assert writer._checkpoints.most_frames < 1000, writer._checkpoints.most_frames
    assert largest < 4 * 1024 * 1024, largest


async def test_an_event_is_not_held_up_by_a_fold_waiting_for_its_checkpoint(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold loop looks at the stream while its checkpoint runs: an event ends the round
    (the fold resumes at the next idle moment) and is written beside the checkpoint."""
    monkeypatch.setattr(name_fold, "FOLD_BATCH", 10)
    slow = anyio.Event()
    real = db.checkpoint

    async def slow_checkpoint() -> wal.Checkpoint | None:
        await slow.wait()
        return await real()

    monkeypatch.setattr(db, "checkpoint", slow_checkpoint)
    writer = SessionWriter(db)
    await feed(writer, [ev("created", tmux_id=f"${n}", name=f"s-{n}") for n in range(100)])
    send, receive = anyio.create_memory_object_stream[WriterItem](10)
    async with anyio.create_task_group() as group:
        assert writer._checkpoints is not None
        group.start_soon(writer._checkpoints.run)
        await anyio.sleep(0.01)

        async def event_soon() -> None:
            await anyio.sleep(0.1)
            send.send_nowait(ev("created", tmux_id="$500", name="waiting"))

        group.start_soon(event_soon)
        with anyio.fail_after(5):
            await writer.maintain(receive)  # returns for the event, the checkpoint still held
        assert not slow.is_set()
        assert receive.statistics().current_buffer_used == 1
        assert writer._next_maintain <= anyio.current_time()
        slow.set()
        group.cancel_scope.cancel()
    send.close()
    receive.close()


async def test_a_reader_holding_the_wal_is_said_once_and_keeps_its_snapshot(
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checkpoints_module, "RETRY", 0.05)
    monkeypatch.setattr(checkpoints_module, "STUCK_AFTER", 0.3)
    writer = SessionWriter(db)
    await feed(writer, [ev("created", tmux_id="$0", name="first")])
    reader = sqlite3.connect(db.path, isolation_level=None)
    reader.execute("BEGIN")
    (seen,) = reader.execute("SELECT count(*) FROM sessions").fetchone()
    send, receive = anyio.create_memory_object_stream[WriterItem](100)
    with caplog.at_level(logging.DEBUG, logger="ccmgr_watch.writer"):
        async with anyio.create_task_group() as group:
            group.start_soon(writer.run, receive)
            async with send:
                for n in range(1, 30):
                    await send.send(ev("created", tmux_id=f"${n}", name=f"s-{n}"))
                with anyio.fail_after(10):
                    while "has not completed for" not in caplog.text:
                        await anyio.sleep(0.02)
                # The reader still reads its snapshot, without an error; events were written.
                assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (seen,)
                assert writer.statistics().events_written == 30
                assert in_file_alone(db.path, tmp_path) < 30
                reader.execute("COMMIT")
                with anyio.fail_after(10):
                    while "completes again" not in caplog.text:
                        await anyio.sleep(0.02)
                assert in_file_alone(db.path, tmp_path) == 30
    reader.close()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("has not completed" in m for m in infos) == 1  # said once, not each retry
    assert sum("completes again" in m for m in infos) == 1
    assert "WAL checkpoint: " in caplog.text  # each one at DEBUG


async def test_a_checkpoint_skips_a_replaced_or_unwritable_file(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint into an immutable file would crash the process (SIGBUS on its -shm); a
    file replaced under the watcher is the writer's to reopen."""
    await write_sessions(db, 0, 3)
    monkeypatch.setattr("store.db.unwritable_files", lambda path: f"{path} is immutable")
    assert await db.checkpoint() is None
    monkeypatch.undo()
    moved = tmp_path / "moved.db"
    os.rename(db.path, moved)
    assert await db.checkpoint() is None
    assert not db.path.exists()  # not created again by the checkpoint


# --- the real watcher, a real tmux server --------------------------------------------------------


@pytest.fixture
def tmux() -> object:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


@pytest.mark.tmux
def test_the_running_watcher_checkpoints_and_a_cli_query_reads_meanwhile(
    tmp_path: Path, tmux: Tmux
) -> None:
    """`ccmgr-watch run` on a private server: its sessions reach the database *file* while it
    runs (its own commits never checkpoint: the checkpoints did), `ccmgr-watch query` in another
    process reads meanwhile, and SIGTERM stops it (exit 0), the WAL checkpointed and removed."""
    db = tmp_path / "data.db"
    tmux.new("first")
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        for n in range(5):
            tmux.new(f"ckpt-{n}")
        wait_until(lambda: events_of(db, "ckpt-4"), what="the sessions to be recorded")
        wait_until(lambda: in_file_alone(db, tmp_path) >= 6, what="a checkpoint")
        found = subprocess.run(
            [CCMGR_WATCH, "query", "ckpt", "--db", str(db), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert found.returncode == 0, found.stderr
        assert found.stdout.count('"ckpt-') == 5
    finally:
        assert watcher.stop() == 0
    assert not db.with_name("data.db-wal").exists()


async def test_a_fold_does_not_wait_out_the_quiet_time_of_events_commits(db: Database) -> None:
    """An event's commit starts a quiet wait (QUIET: the next event should not commit beside a
    checkpoint); a fold asking for its checkpoint right after does not wait it out (it waited
    for events' MOST_DELAY, 2 s, and the WAL grew by 2 s of folds)."""
    checkpoints = checkpoints_module.WalCheckpoints(db)
    async with anyio.create_task_group() as group:
        group.start_soon(checkpoints.run)
        await anyio.sleep(0.01)
        checkpoints.committed()  # an event
        await anyio.sleep(0.01)
        started = anyio.current_time()
        with anyio.fail_after(5):
            await checkpoints.checkpoint_now().wait()  # a fold
        assert anyio.current_time() - started < checkpoints_module.QUIET / 2
        group.cancel_scope.cancel()
    assert checkpoints.checkpoints == 1
