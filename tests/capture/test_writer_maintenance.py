"""The idle writer's maintenance: the name-order snapshot (`--sort name`, migration 009) rebuilt
when enough sessions were written since its build, only where that is quick."""

from __future__ import annotations

import logging
import sqlite3

import anyio
import pytest

from store import name_order
from store.db import Database
from watcher.capture import writer as writer_module
from watcher.capture.writer import SessionWriter, WriterItem

from .test_writer import ev, feed

pytestmark = pytest.mark.anyio


def facts(db: Database) -> tuple[int, int] | None:
    with sqlite3.connect(db.path) as conn:
        return name_order.snapshot_facts(conn)


def created(count: int) -> list[WriterItem]:
    return [ev("created", tmux_id=f"${n}", name=f"s-{n}") for n in range(count)]


async def test_a_delta_past_the_threshold_is_rebuilt(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    writer = SessionWriter(db)
    await feed(writer, created(name_order.REFRESH_MIN_DELTA - 1))
    await writer.maintain()
    assert facts(db) == (name_order.REFRESH_MIN_DELTA - 1, 0)  # not due yet
    await feed(writer, created(name_order.REFRESH_MIN_DELTA + 5)[-5:])
    with caplog.at_level(logging.INFO, logger="ccmgr_watch.writer"):
        await writer.maintain()
    assert facts(db) == (0, 0)
    assert "rebuilt the name-order snapshot of 1004 sessions (1004 written" in caplog.text


async def test_a_database_too_big_to_rebuild_quickly_is_left_to_db_reindex(
    db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(name_order, "REFRESH_MAX_SESSIONS", 500)
    writer = SessionWriter(db)
    await feed(writer, created(name_order.REFRESH_MIN_DELTA))
    with caplog.at_level(logging.INFO, logger="ccmgr_watch.writer"):
        await writer.maintain()
        await writer.maintain()
    assert facts(db) == (name_order.REFRESH_MIN_DELTA, 0)  # left as it was
    assert caplog.text.count("`ccmgr-watch db reindex` does") == 1  # said once


async def test_the_idle_writer_runs_it(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "CHECK_INTERVAL", 0.05)
    monkeypatch.setattr(writer_module, "MAINTAIN_INTERVAL", 0.0)
    writer = SessionWriter(db)
    send, receive = anyio.create_memory_object_stream[WriterItem](2000)
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run, receive)
        async with send:
            for item in created(name_order.REFRESH_MIN_DELTA + 1):
                await send.send(item)
            with anyio.fail_after(30):
                while built(db) != name_order.REFRESH_MIN_DELTA + 1:
                    await anyio.sleep(0.05)
    assert facts(db) == (0, 0)


def built(db: Database) -> int:
    """How many sessions the snapshot's last build held."""
    with sqlite3.connect(db.path) as conn:
        (held,) = conn.execute("SELECT sessions FROM sessions_name_build").fetchone()
    return int(held)
