"""Dual mode: the running watcher keeps ccmgr-ultra's JSON state file current.

With ``storage.mode: dual`` the file named by ``tmux.state_file`` holds, in ccmgr-ultra's
``tmux-sessions.json`` format, every session that is alive, so a ccmgr-ultra that reads JSON keeps
working while its user tries SQLite. The writer's commits only *mark* the file stale; a debounce
(:data:`QUIET`, at most :data:`LONGEST`) folds a burst of commits into one regeneration, which
reads the database and writes the file off the event loop (temporary file, fsync, rename, 0600:
readers see the old file or the new one, whole, even if the watcher is killed mid-write).

Before it first replaces a file in a run (or after the mode is switched on) it keeps a dated copy
beside it (``<file>.ccmgr-watch-backup.YYYYMMDD-HHMMSS``); copies older than
``storage.json_backup_days`` are pruned at start and every :data:`PRUNE_EVERY` seconds. The
mode and the file are read from the live config at every wake-up: switching takes effect without
a restart.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import anyio.to_thread

from store.errors import CcmgrError
from store.paths import ensure_private_dir, write_private_atomic
from store.timefmt import utcnow

if TYPE_CHECKING:
    from watcher.config.schema import Config

log = logging.getLogger("ccmgr_watch.dual")

QUIET: Final = 0.1  # a burst is over after this long without a commit
LONGEST: Final = 0.5  # ... or after this long in all: the file never lags a second behind
POLL: Final = 5.0  # how soon a config edit applies even without a commit
PRUNE_EVERY: Final = 3600.0
BACKUP_TAG: Final = ".ccmgr-watch-backup."
_STAMP = "%Y%m%d-%H%M%S"
_LEFTOVER_AGE: Final = 60.0  # temporary files of a killed writer older than this are removed


def backup_name(path: Path, moment: datetime) -> Path:
    """Where the dated copy of ``path`` made at ``moment`` goes."""
    return path.with_name(f"{path.name}{BACKUP_TAG}{moment.strftime(_STAMP)}")


def keep_dated_copy(path: Path, moment: datetime) -> Path | None:
    """Copy the regular file at ``path`` beside it (0600), or None when there is none."""
    from watcher.importer.sources import read_source

    if not path.is_file():
        return None
    target = backup_name(path, moment)
    if target.exists():
        return target
    write_private_atomic(target, read_source(path))
    return target


def prune_dated_copies(path: Path, days: int, now: datetime) -> list[Path]:
    """Delete the dated copies of ``path`` older than ``days`` (by the date in their name), and
    temporary files a killed writer left; returns the copies deleted."""
    folder = path.parent
    if not folder.is_dir():
        return []
    pattern = re.compile(re.escape(path.name + BACKUP_TAG) + r"(\d{8}-\d{6})$")
    cutoff = now - timedelta(days=days)
    removed: list[Path] = []
    for entry in os.scandir(folder):
        match = pattern.match(entry.name)
        if match:
            try:
                made = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=now.tzinfo)
            except ValueError:
                continue
            if made < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
        elif entry.name.startswith(f".{path.name}.") and entry.name.endswith(".tmp"):
            try:
                old = now.timestamp() - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if old > _LEFTOVER_AGE:
                Path(entry.path).unlink(missing_ok=True)
    return removed


class JsonStateMirror:
    """The task that keeps ``tmux.state_file`` current in dual mode (see the module)."""

    def __init__(
        self,
        db_path: Path | str,
        current_config: Callable[[], Config],
        *,
        clock: Callable[[], datetime] = utcnow,
        host: str | None = None,
    ) -> None:
        # A SQLite file, or a PostgreSQL URL (a str): then the file holds the live sessions of
        # ``host`` only (and those recorded without a host, as reconciliation counts them), not
        # every machine's that share the database.
        self.db_path = db_path
        self.host = host
        self._current = current_config
        self._clock = clock
        self._wake = anyio.Event()
        self._stale = True
        self._active: Path | None = None
        self._copied: set[Path] = set()
        self._last: bytes | None = None
        self._next_prune = 0.0
        self._warned: str | None = None  # the last failure logged (not repeated every retry)
        self.writes = 0

    def notify(self) -> None:
        """The database changed (the writer committed): regenerate the file soon."""
        self._stale = True
        self._wake.set()

    def config_changed(self) -> None:
        """The config was reloaded: look at the mode and the file again now."""
        self._wake.set()

    async def run(self) -> None:
        """Run forever (in the service's task group)."""
        while True:
            with anyio.move_on_after(POLL):
                await self._wake.wait()
            self._wake = anyio.Event()
            await self._step()

    async def flush(self) -> None:
        """Write the file now if it is stale (at shutdown, after the writer's last commit)."""
        if self._active is not None and self._stale:
            await self._write(self._active)

    async def _step(self) -> None:
        from watcher.importer.sources import state_file_path

        config = self._current()
        if config.storage.mode != "dual":
            if self._active is not None:
                log.info("dual mode stopped: %s is no longer kept current", self._active)
                self._active = None
            return
        path = state_file_path(config.tmux.state_file)
        if self._active != path:
            log.info("dual mode started: keeping %s current (tmux-sessions.json format)", path)
            self._active, self._last, self._stale = path, None, True
            self._copied.discard(path)  # switched on again: keep a fresh copy first
        if anyio.current_time() >= self._next_prune:
            self._next_prune = anyio.current_time() + PRUNE_EVERY
            await self._prune(path, config.storage.json_backup_days)
        if self._stale:
            await self._settle()
            await self._write(path)

    async def _settle(self) -> None:
        """Wait until commits stop for QUIET seconds (at most LONGEST): one write per burst."""
        started = anyio.current_time()
        while anyio.current_time() - started < LONGEST:
            self._wake = anyio.Event()
            with anyio.move_on_after(QUIET) as scope:
                await self._wake.wait()
            if scope.cancelled_caught:
                return

    async def _write(self, path: Path) -> None:
        self._stale = False  # a commit from now on marks it stale again
        try:
            await anyio.to_thread.run_sync(self._write_sync, path)
        except (OSError, CcmgrError) as exc:
            self._stale = True  # retried at the next wake-up (at most POLL seconds)
            message = f"dual mode: cannot write {path}: {exc}"
            if message != self._warned:
                log.warning("%s", message)
                self._warned = message
            return
        if self._warned is not None:
            log.info("dual mode: %s written again", path)
            self._warned = None

    def _write_sync(self, path: Path) -> None:
        from store.imports import sessions_for_state
        from watcher.importer.export import render_state

        if isinstance(self.db_path, str):
            from store.postgres.imports import sessions_for_state as live_on_postgres

            sessions = live_on_postgres(self.db_path, alive_only=True, host=self.host)
        else:
            sessions = sessions_for_state(self.db_path, alive_only=True)
        data = render_state(sessions)
        if data == self._last and path.exists():
            return
        if path not in self._copied:
            try:
                copy = keep_dated_copy(path, self._clock())
            except CcmgrError as exc:  # not a regular file: kept as it is, not replaced
                raise CcmgrError(f"{exc.message}; it is left alone") from None
            if copy is not None:
                log.info("dual mode: kept a copy of %s as %s", path, copy)
            self._copied.add(path)
        ensure_private_dir(path.parent)
        write_private_atomic(path, data)
        self._last = data
        self.writes += 1
        log.debug("dual mode: wrote %s (%d bytes)", path, len(data))

    async def _prune(self, path: Path, days: int) -> None:
        try:
            removed = await anyio.to_thread.run_sync(prune_dated_copies, path, days, self._clock())
        except OSError as exc:
            log.warning("dual mode: cannot prune the copies of %s: %s", path, exc)
            return
        for copy in removed:
            log.info("dual mode: pruned %s (older than %d days)", copy, days)
