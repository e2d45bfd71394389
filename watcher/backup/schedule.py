"""The watcher's backup task: a backup on ``backup.schedule``, then pruning.

``run_backup_schedule`` runs forever in the service's task group. The next backup is due one
interval after the newest backup in the folder (whoever made it), so a slot missed while the
machine slept or the watcher was stopped runs at start-up. The config is read again at every
wake-up (at least every ``poll`` seconds), so a live edit of ``backup.schedule`` (or of any other
backup setting) applies without a restart. Backups are made in a worker thread with stdlib
sqlite3, reading through SQLite's online backup API: the writer keeps writing meanwhile. A failed
backup is logged and published, and retried after ``RETRY`` (or the interval, if shorter); it
never stops the watcher.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import msgspec

from store.errors import CcmgrError
from store.timefmt import format_ts, utcnow

if TYPE_CHECKING:
    from watcher.config.schema import Config

log = logging.getLogger("ccmgr_watch.backup")

T = TypeVar("T")
POLL = 5.0  # how soon a live edit of the schedule applies
RELIST = timedelta(minutes=5)  # how soon a backup made by hand moves the next one
START_DELAY = 60.0
RETRY = timedelta(minutes=10)


class BackupScheduleStatus(msgspec.Struct, kw_only=True):
    """What ``status`` shows about scheduled backups."""

    schedule: str = "off"
    last_id: str | None = None
    last_at: str | None = None
    last_result: str | None = None  # "ok" | "failed"
    last_error: str | None = None
    next_at: str | None = None
    pruned: int = 0


def _newest(folder: Path) -> tuple[str, datetime] | None:
    from watcher.backup.catalog import list_backups

    entries = list_backups(folder)
    return (entries[-1].id, entries[-1].created()) if entries else None


class _Stopped(Exception):
    """The watcher is shutting down: the backup in progress gives up (its files are temporary)."""


async def _in_daemon_thread(fn: Callable[[threading.Event], T]) -> T:
    """``fn(stop)`` in a daemon thread; on cancellation ``stop`` is set and nobody waits.

    anyio's worker threads are joined at exit, so a backup of a large database would hold up
    the watcher's shutdown (which must take under two seconds); a daemon thread does not, and
    ``fn`` gives up at its next check of ``stop``.
    """
    import anyio.from_thread
    import anyio.lowlevel

    stop = threading.Event()
    done = anyio.Event()
    outcome: list[Any] = []
    token = anyio.lowlevel.current_token()

    def work() -> None:
        try:
            outcome.append((True, fn(stop)))
        except BaseException as exc:
            outcome.append((False, exc))
        # RuntimeError: the event loop is gone, nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=work, name="ccmgr-watch backup", daemon=True).start()
    try:
        await done.wait()
    except BaseException:
        stop.set()
        raise
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


def _backup_now(
    db_path: Path, config: Config, now: datetime, stop: threading.Event
) -> tuple[str, int]:
    """One scheduled backup and prune (blocking: runs in a daemon thread)."""
    from watcher.backup.catalog import settings_from
    from watcher.backup.create import create_backup
    from watcher.backup.prune import prune_backups
    from watcher.config.locations import resolve_scopes

    settings = settings_from(config)
    scopes = {k: v for k, v in resolve_scopes(None).items() if k == "global"}

    def check(_: int) -> None:
        if stop.is_set():
            raise _Stopped

    entry = create_backup(db_path, settings, config_files=scopes, now=now, progress=check)
    if stop.is_set():
        raise _Stopped
    pruned = 0
    if not settings.policy.keeps_nothing():
        plan = prune_backups(settings, now=now)
        pruned = sum(1 for d in plan if d["action"] == "remove")
    else:
        log.warning("backup.retention keeps nothing: scheduled pruning skipped")
    return entry.id, pruned


async def run_backup_schedule(
    db_path: Path,
    current_config: Callable[[], Config],
    publish: Callable[[BackupScheduleStatus], None],
    *,
    poll: float = POLL,
    clock: Callable[[], datetime] = utcnow,
    start_delay: float = START_DELAY,
) -> None:
    """Make backups of ``db_path`` on the schedule of ``current_config().backup`` forever.

    ``publish`` gets a copy of the status after every change (for the status file and
    ``status``); ``clock`` is the current time (tests pass their own). A backup due at start-up
    waits ``start_delay`` seconds, so the watcher first catches up with tmux (and a watcher
    that only runs for a moment makes none).
    """
    from watcher.config.rules import backup_interval
    from watcher.config.scopes import backup_folder

    status = BackupScheduleStatus()
    shown: BackupScheduleStatus | None = None
    retry_at: datetime | None = None
    not_before = clock() + timedelta(seconds=start_delay)
    # What the folder held when last looked at, and for which config: a wake-up that finds
    # the same config and nothing due costs a function call, not a folder scan.
    newest: tuple[str, datetime] | None = None
    listed_for: Config | None = None
    listed_at: datetime | None = None

    def due_at(every: timedelta, now: datetime) -> datetime:
        due = max(now if newest is None else newest[1] + every, not_before)
        if retry_at is not None and status.last_result == "failed":
            due = max(due, retry_at)
        return due

    while True:
        config = current_config()
        interval = backup_interval(config.backup.schedule)
        status.schedule = config.backup.schedule
        if interval is None or interval.nanoseconds <= 0:
            status.next_at = None
            shown = _publish(publish, status, shown)
            await anyio.sleep(poll)
            continue
        every = timedelta(microseconds=interval.nanoseconds // 1000)
        now = clock()
        if (
            config is not listed_for
            or listed_at is None
            or now - listed_at >= RELIST
            or due_at(every, now) <= now
        ):
            newest = await anyio.to_thread.run_sync(_newest, backup_folder(config))
            listed_for, listed_at = config, now
            if newest is not None and status.last_result != "failed":
                # The newest backup in the folder, whoever made it (a manual create counts).
                status.last_id, status.last_at = newest[0], format_ts(newest[1])
                status.last_result = "ok"
        now = clock()
        due = due_at(every, now)
        if due > now:
            status.next_at = format_ts(due)
            shown = _publish(publish, status, shown)
            await anyio.sleep(min((due - now).total_seconds(), poll))
            continue
        status.next_at = None
        shown = _publish(publish, status, shown)
        log.info("scheduled backup of %s starting", db_path)
        try:
            backup_id, pruned = await _in_daemon_thread(
                partial(_backup_now, db_path, config, clock())
            )
        except (CcmgrError, OSError, ValueError) as exc:
            _failed(status, str(exc), clock())
            log.warning("scheduled backup failed: %s", exc)
            retry_at = clock() + min(RETRY, every)
            continue
        except Exception as exc:  # a bug must not stop the recording
            _failed(status, f"{type(exc).__name__}: {exc}", clock())
            log.exception("scheduled backup failed")
            retry_at = clock() + min(RETRY, every)
            continue
        status.last_result, status.last_error, status.pruned = "ok", None, pruned
        retry_at = None
        log.info("scheduled backup %s done; %d pruned", backup_id, pruned)


def _publish(
    publish: Callable[[BackupScheduleStatus], None],
    status: BackupScheduleStatus,
    shown: BackupScheduleStatus | None,
) -> BackupScheduleStatus:
    """Publish a copy of ``status`` if it differs from what was published last."""
    if status == shown:
        return status if shown is None else shown
    copy = msgspec.structs.replace(status)
    publish(copy)
    return copy


def _failed(status: BackupScheduleStatus, message: str, now: datetime) -> None:
    status.last_at = format_ts(now)
    status.last_result, status.last_error = "failed", message
