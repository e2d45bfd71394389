"""The idle writer's maintenance: the name-order snapshot's delta (`--sort name`, migration 012)
folded in a few dozen sessions per short transaction on the writer's own connection, events
first, a busy lock given up at once, a used-up gap rebuilt only where that is quick."""

from __future__ import annotations

import logging
import sqlite3
import time

import anyio
import pytest

from store import name_fold, name_order
from store.db import Database
from watcher.capture import writer as writer_module
from watcher.capture.writer import SessionWriter, WriterItem

from .test_writer import ev, feed

pytestmark = pytest.mark.anyio


def facts(db: Database) -> tuple[int, int] | None:
    with sqlite3.connect(db.path) as conn:
        return name_order.snapshot_facts(conn)


def created(count: int, start: int = 0, name: str = "s-{}") -> list[WriterItem]:
    return [ev("created", tmux_id=f"${n}", name=name.format(n)) for n in range(start, count)]


def rank_order(db: Database) -> list[str]:
    with sqlite3.connect(db.path) as conn:
        return [
            name
            for (name,) in conn.execute(
                "SELECT s.name FROM sessions_name_rank AS r JOIN sessions AS s "
                "ON s.rowid = r.sid ORDER BY r.rank"
            )
        ]


async def test_the_delta_is_folded_in_short_transactions(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(name_fold, "FOLD_BATCH", 40)
    monkeypatch.setattr(name_fold, "FOLD_BUDGET", 60.0)  # transactions cut by FOLD_BATCH only
    writer = SessionWriter(db)
    await feed(writer, created(100))
    assert facts(db) == (100, 0)  # the migration built it empty: all of them since
    with caplog.at_level(logging.DEBUG, logger="ccmgr_watch.writer"):
        await writer.maintain()
    assert facts(db) == (0, 0)
    assert "folded 100 sessions into the name-order snapshot in" in caplog.text
    # Each transaction at DEBUG: three of at most 40, then the index's merging (one more).
    assert "name-order fold: 40 sessions" in caplog.text
    assert caplog.text.count("name-order fold: ") in (3, 4)
    assert rank_order(db) == sorted(f"s-{n}" for n in range(100))
    # A rename takes its snapshot row out; the next round folds it in under its new name.
    await feed(writer, [ev("renamed", tmux_id="$5", name="a-first")])
    assert facts(db) == (0, 1)
    caplog.clear()
    await writer.maintain()
    assert facts(db) == (0, 0) and rank_order(db)[0] == "a-first"
    # Nothing to fold: no transaction, nothing said at INFO.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ccmgr_watch.writer"):
        await writer.maintain()
    assert "folded" not in caplog.text


async def test_events_go_first(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """An item waiting in the stream stops the round after the transaction that runs: the
    fold resumes at the next idle moment."""
    monkeypatch.setattr(name_fold, "FOLD_BATCH", 10)
    monkeypatch.setattr(name_fold, "FOLD_BUDGET", 60.0)
    writer = SessionWriter(db)
    await feed(writer, created(100))
    send, receive = anyio.create_memory_object_stream[WriterItem](10)
    send.send_nowait(ev("created", tmux_id="$500", name="waiting"))
    await writer.maintain(receive)
    assert facts(db) == (90, 0)  # one transaction of 10, then the event's turn
    assert writer._next_maintain <= anyio.current_time()  # resumed at the next idle moment
    receive.receive_nowait()
    await writer.maintain(receive)
    assert facts(db) == (0, 0)
    send.close()
    receive.close()


async def test_a_busy_lock_is_given_up_at_once_and_retried(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the write lock (a `db reindex`, a sqlite3 shell): the fold does
    not wait for it (the watcher's events would wait behind it), and folds the next round."""
    writer = SessionWriter(db)
    await feed(writer, created(50))
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        with caplog.at_level(logging.DEBUG, logger="ccmgr_watch.writer"):
            await writer.maintain()
        waited = time.perf_counter() - started
        assert waited < 1.0, waited  # the writer's own busy timeout is 5 s
        assert "the database is busy" in caplog.text and "WARNING" not in caplog.text
        assert facts(db) == (50, 0)
        assert writer._next_maintain <= anyio.current_time() + writer_module.CHECK_INTERVAL
    finally:
        other.execute("ROLLBACK")
        other.close()
    await writer.maintain()
    assert facts(db) == (0, 0)
    # The writer's connection is back to its own busy timeout.
    await feed(writer, created(52, start=50))
    assert facts(db) == (2, 0)


async def test_a_used_up_gap_is_rebuilt_where_that_is_quick(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SessionWriter(db)
    await feed(writer, [*created(2, name="a-{}"), *created(4, start=2, name="z-{}")])
    await writer.maintain()
    # No window can make room any more: the next session between a-1 and z-2 finds none.
    monkeypatch.setattr(name_fold, "MIN_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "TARGET_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "PACK_STEP", 1 << 62)
    items = created(40, start=10, name="m-{:03d}")
    with caplog.at_level(logging.INFO, logger="ccmgr_watch.writer"):
        for item in items:
            await feed(writer, [item])
            await writer.maintain()
    assert "rebuilt the name-order snapshot of" in caplog.text
    assert "a fold found no room left" in caplog.text
    assert facts(db) == (0, 0)
    assert rank_order(db) == sorted(rank_order(db))


async def test_a_used_up_gap_in_a_big_database_is_left_to_db_reindex(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(name_order, "REFRESH_MAX_SESSIONS", 3)
    monkeypatch.setattr(name_fold, "MIN_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "TARGET_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "PACK_STEP", 1 << 62)
    writer = SessionWriter(db)
    await feed(writer, [*created(2, name="a-{}"), *created(4, start=2, name="z-{}")])
    await writer.maintain()
    with caplog.at_level(logging.INFO, logger="ccmgr_watch.writer"):
        for item in created(80, start=10, name="m-{:03d}"):
            await feed(writer, [item])
            await writer.maintain()
    assert caplog.text.count("`ccmgr-watch db reindex` does") == 1  # said once
    assert "rebuilt" not in caplog.text
    assert writer._fold_paused_until > anyio.current_time()  # no fold until the pause ends
    assert facts(db) is not None and facts(db) != (0, 0)  # left as it was: exact, slower


async def test_the_idle_writer_folds_while_events_keep_coming(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real loop: events arrive while folds run; the fold never holds an event up for
    longer than one short transaction, and the delta is folded in once the writer is idle."""
    monkeypatch.setattr(writer_module, "CHECK_INTERVAL", 0.05)
    monkeypatch.setattr(writer_module, "MAINTAIN_INTERVAL", 0.0)
    monkeypatch.setattr(name_fold, "FOLD_BATCH", 20)
    writer = SessionWriter(db)
    send, receive = anyio.create_memory_object_stream[WriterItem](2000)
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run, receive)
        async with send:
            for item in created(600):
                await send.send(item)
            with anyio.fail_after(30):
                # More events once the folds began: each is written between two of them.
                while facts(db) == (600, 0):
                    await anyio.sleep(0.01)
                for n in range(5):
                    await send.send(ev("renamed", tmux_id=f"${n}", name=f"x-{n}"))
                    await anyio.sleep(0.01)
                while facts(db) != (0, 0) or writer.statistics().events_written < 605:
                    await anyio.sleep(0.05)
    names = rank_order(db)
    assert (
        len(names) == 600 and names == sorted(names) and names[-5:] == [f"x-{n}" for n in range(5)]
    )


async def test_an_idle_writer_with_nothing_to_fold_does_not_write(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing inserted, dirty or due a merge: the round only reads (store.name_fold.has_work).
    Another connection holding the write lock shows it: the round neither waits for it nor
    finds it busy, and the next round is a whole interval away."""
    writer = SessionWriter(db)
    await feed(writer, created(30))
    await writer.maintain()
    assert facts(db) == (0, 0)
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.DEBUG, logger="ccmgr_watch.writer"):
            for _ in range(3):
                await writer.maintain()
        assert "busy" not in caplog.text and "name-order fold:" not in caplog.text
        assert writer._next_maintain > anyio.current_time() + writer_module.CHECK_INTERVAL
        # With something to fold, the same round does try to write (and finds the lock held).
        other.execute("ROLLBACK")
        await feed(writer, created(31, start=30))
        other.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.DEBUG, logger="ccmgr_watch.writer"):
            await writer.maintain()
        assert "the database is busy" in caplog.text
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
