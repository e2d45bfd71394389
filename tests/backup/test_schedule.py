"""The watcher's backup task, run directly with a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from watcher.backup.catalog import list_backups, settings_from
from watcher.backup.create import create_backup
from watcher.backup.schedule import BackupScheduleStatus, run_backup_schedule
from watcher.config.schema import BackupConfig, Config

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Harness:
    def __init__(self, db: Path, folder: Path, schedule: str) -> None:
        self.db = db
        self.folder = folder
        self.now = START
        self.config = self.make(schedule)
        self.statuses: list[BackupScheduleStatus] = []

    def make(self, schedule: str) -> Config:
        return Config(backup=BackupConfig(schedule=schedule, folder=str(self.folder)))

    def ids(self) -> list[str]:
        return [e.id for e in list_backups(self.folder)]

    async def until(self, predicate: Callable[[], Any], what: str) -> None:
        with anyio.fail_after(20):
            while not predicate():
                await anyio.sleep(0.01)

    def last(self) -> BackupScheduleStatus:
        return self.statuses[-1]

    def task(self) -> Any:
        return partial(
            run_backup_schedule,
            self.db,
            lambda: self.config,
            self.statuses.append,
            poll=0.01,
            clock=lambda: self.now,
            start_delay=0,
        )


@pytest.mark.anyio
async def test_backups_on_schedule_with_live_edits(db: Path, tmp_path: Path) -> None:
    h = Harness(db, tmp_path / "backups", "1h")
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.task())
        # No backup yet: one at once, then the next is due an hour later.
        await h.until(lambda: h.statuses and h.last().next_at, "the first backup")
        assert len(h.ids()) == 1
        assert h.last().last_result == "ok" and h.last().last_id == h.ids()[0]
        assert h.last().next_at == "2026-11-27T13:00:00.000000Z"
        assert h.last().schedule == "1h"

        h.now += timedelta(minutes=59)
        await anyio.sleep(0.2)
        assert len(h.ids()) == 1
        h.now += timedelta(minutes=2)
        await h.until(lambda: len(h.ids()) == 2, "the second backup")
        assert list_backups(h.folder)[-1].kind == "incremental"
        await h.until(lambda: h.last().next_at == "2026-11-27T14:01:00.000000Z", "next")

        # A live edit: off stops it, and a shorter interval applies at once.
        h.config = h.make("off")
        await h.until(lambda: h.last().next_at is None and h.last().schedule == "off", "off")
        h.now += timedelta(hours=5)
        await anyio.sleep(0.2)
        assert len(h.ids()) == 2
        h.config = h.make("10m")
        await h.until(lambda: len(h.ids()) == 3, "the backup after switching on")
        tg.cancel_scope.cancel()
    # Each published status is a copy, and a repeat is not published again.
    assert all(a != b for a, b in zip(h.statuses, h.statuses[1:], strict=False))


@pytest.mark.anyio
async def test_a_missed_slot_runs_at_start_up(db: Path, tmp_path: Path) -> None:
    h = Harness(db, tmp_path / "backups", "daily")
    old = create_backup(db, settings_from(h.config), now=START - timedelta(days=3))
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.task())
        await h.until(lambda: len(h.ids()) == 2, "the missed backup")
        await h.until(lambda: h.last().next_at == "2026-11-28T12:00:00.000000Z", "next")
        tg.cancel_scope.cancel()
    assert h.ids()[0] == old.id
    # Before its own first backup, the status already showed the one found in the folder.
    assert h.statuses[0].last_id == old.id


@pytest.mark.anyio
async def test_a_failed_backup_is_reported_and_retried_later(tmp_path: Path) -> None:
    h = Harness(tmp_path / "missing.db", tmp_path / "backups", "1h")
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.task())
        await h.until(lambda: h.statuses and h.last().last_result == "failed", "the failure")
        assert "no database" in (h.last().last_error or "")
        await h.until(lambda: h.last().next_at == "2026-11-27T12:10:00.000000Z", "the retry")
        failures = len([s for s in h.statuses if s.last_result == "failed"])
        await anyio.sleep(0.2)
        assert len([s for s in h.statuses if s.last_result == "failed"]) == failures
        tg.cancel_scope.cancel()
    assert msgspec.json.decode(msgspec.json.encode(h.last()), type=BackupScheduleStatus)


def test_describe_for_status() -> None:
    from watcher.status_file import backup_lines as describe

    assert describe(None) == []
    assert describe({"schedule": "off"}) == ["backups: off"]
    ok = BackupScheduleStatus(
        schedule="daily",
        last_id="20261127-120000",
        last_at="2026-11-27T12:00:00.000000Z",
        last_result="ok",
        next_at="2026-11-28T12:00:00.000000Z",
    )
    assert describe(msgspec.to_builtins(ok)) == [
        "last backup: 20261127-120000 at 2026-11-27T12:00:00.000000Z",
        "next backup: 2026-11-28T12:00:00.000000Z (schedule daily)",
    ]
    failed = msgspec.structs.replace(ok, last_result="failed", last_error="disk full")
    assert describe(msgspec.to_builtins(failed))[0] == (
        "last backup: failed at 2026-11-27T12:00:00.000000Z: disk full"
    )


@pytest.mark.anyio
async def test_shutdown_does_not_wait_for_a_backup_in_progress(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from watcher.backup import schedule

    started, stopped = threading.Event(), threading.Event()

    def slow_backup(db_path, config, now, stop: threading.Event) -> tuple[str, int]:
        started.set()
        stop.wait(30)  # a backup of a huge database, checking its stop flag
        stopped.set()
        raise RuntimeError("stopped")

    monkeypatch.setattr(schedule, "_backup_now", slow_backup)
    h = Harness(db, tmp_path / "backups", "1h")
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.task())
            while not started.is_set():
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert await anyio.to_thread.run_sync(stopped.wait, 5)


@pytest.mark.anyio
async def test_a_backup_due_at_start_up_waits_a_minute(db: Path, tmp_path: Path) -> None:
    h = Harness(db, tmp_path / "backups", "1h")
    task = partial(
        run_backup_schedule,
        db,
        lambda: h.config,
        h.statuses.append,
        poll=0.01,
        clock=lambda: h.now,
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(task)
        await h.until(lambda: h.statuses, "the first status")
        assert h.last().next_at == "2026-11-27T12:01:00.000000Z" and h.ids() == []
        h.now += timedelta(seconds=61)
        await h.until(lambda: len(h.ids()) == 1, "the backup a minute later")
        tg.cancel_scope.cancel()
