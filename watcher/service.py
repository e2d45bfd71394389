"""The watcher service: one task group that owns every task of ``ccmgr-watch run``.

In it: one supervised ``watch_server`` task per tmux server, the one writer, the enricher, the
status file, the signal handler and (with ``--all``) the watcher of the user's tmux socket folder.
A second service on the same database is refused (an exclusive ``flock`` on
``<db>.watcher.lock``). SIGTERM/SIGINT stop intake, flush what is queued under a shielded bounded
scope, close the database and return. Settings can be changed while it runs
(:meth:`Service.reconfigure`).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread
import msgspec
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from store.db import Database
from store.errors import CcmgrError
from store.paths import ensure_private_dir
from store.timefmt import now_ts
from watcher.capture.enrich import EnrichRequest, GitCache, enrich_now, run_enricher
from watcher.capture.events import CaptureItem, KnownSession
from watcher.capture.tmux_address import socket_dir
from watcher.capture.writer import AliveQuery, SessionWriter, WriterItem
from watcher.config.locations import Scope
from watcher.config.schema import Config
from watcher.errors import WatcherError
from watcher.service_config import ServiceConfig
from watcher.socket_folder import watch_socket_folder
from watcher.status_file import status_path
from watcher.status_write import exclusive_lock, write_status_file

if TYPE_CHECKING:
    from store.postgres.db import PgDatabase
    from watcher.backup.schedule import BackupScheduleStatus
    from watcher.capture.socket_waits import SocketWaits
    from watcher.config.scopes import Effective
    from watcher.importer.dual import JsonStateMirror

__all__ = ["Service"]

log = logging.getLogger("ccmgr_watch.service")

QUEUE_SIZE = 4096  # lifecycle events waiting for the writer before tmux readers feel back-pressure
ENRICH_QUEUE_SIZE = 1024
FLUSH_TIMEOUT = 1.5  # SIGTERM to exit must stay under two seconds
STATUS_INTERVAL = 0.5  # the status file is rewritten at most twice a second
_RESTART_DELAYS = (0.5, 1, 2, 5, 10, 30)
_LOGGERS = ("ccmgr_watch", "watcher")


class ServerWatch(Protocol):
    """The shape of ``server_task.watch_server`` (runs forever for one tmux server)."""

    def __call__(
        self,
        address: str,
        *,
        send: MemoryObjectSendStream[CaptureItem],
        known_alive: Callable[[str], Awaitable[list[KnownSession]]],
        on_state: Callable[[Any], None] | None = None,
        host: str | None = None,
        waits: SocketWaits | None = None,
    ) -> Awaitable[None]: ...


# --- the service ----------------------------------------------------------------------------------


class ServerRecord(msgspec.Struct, kw_only=True):
    """What the status file says about one watched server."""

    socket: str
    state: Any = "starting"
    since: str = msgspec.field(default_factory=now_ts)
    restarts: int = 0
    last_error: str | None = None


class _ServerTask:
    def __init__(self, socket: str) -> None:
        self.scope = anyio.CancelScope()
        self.record = ServerRecord(socket=socket)
        self.state: Any = None
        # Its socket file is gone (--all): stop once the task has reconciled the server's end.
        self.retiring = False


def _load_watch_server() -> ServerWatch:
    from watcher.capture.server_task import watch_server

    return watch_server


class Service:
    """``ccmgr-watch run``: watches tmux servers and records what happens into one database."""

    def __init__(
        self,
        db_path: Path | str,
        config: ServiceConfig | None = None,
        *,
        watch_server: ServerWatch | None = None,
        handle_signals: bool = True,
        config_files: Mapping[Scope, Path] | None = None,
        settings: Callable[[Config], ServiceConfig] | None = None,
        config_error: str | None = None,
        backup_config: Config | None = None,
    ) -> None:
        # A PostgreSQL URL (str) or a database file. For a URL, db_path is a local anchor for
        # this machine's lock and status file (store.pgurl.local_anchor).
        self._url: str | None = None
        if isinstance(db_path, str):
            from store.pgurl import local_anchor, redact

            self._url, db_path = db_path, Path(local_anchor(db_path))
        self.db_path = db_path
        self._shown = redact(self._url) if self._url else str(db_path)
        # Scheduled backups and dual mode follow the effective config (live edits included);
        # None: neither. A PostgreSQL database is backed up by its own tools (pg_dump...), never
        # by the watcher (docs/postgresql.md); dual mode works on both stores.
        self._backup_config = backup_config
        self._backup_status: BackupScheduleStatus | None = None
        # Dual mode (storage.mode: dual) follows the same effective config: None without one.
        self._json_state: JsonStateMirror | None = None
        self.config = config or ServiceConfig()
        # Live reload: the config files to watch and how a loaded config becomes settings.
        self._config_files = dict(config_files) if config_files else None
        self._settings = settings
        self._config_error = config_error
        self._watch_server = watch_server
        self._watch: ServerWatch | None = None
        self._handle_signals = handle_signals
        self._started_at = now_ts()
        self._servers: dict[str, _ServerTask] = {}
        self._discovered: set[str] = set()
        self._dir_scope: anyio.CancelScope | None = None
        # watchfiles waits in a thread that only notices this event (not cancellation) promptly.
        self._dir_stop = anyio.Event()
        self._intake: TaskGroup | None = None
        self._waits: SocketWaits | None = None
        self._send: MemoryObjectSendStream[WriterItem] | None = None
        self._enrich_send: MemoryObjectSendStream[EnrichRequest] | None = None
        self._writer: SessionWriter | None = None
        self._dirty = anyio.Event()
        self._last_error: str | None = None
        self._last_error_at: str | None = None
        self._enrich_dropped = 0
        # True when the database connection had to be left open at the end (its files became
        # unwritable: closing would crash the process); the caller must then exit with os._exit.
        self.database_abandoned = False
        self._running = False
        self._stopping = False
        # The host recorded with every session and event: fixed at start (a server key made with
        # it identifies sessions; changing it needs a restart).
        self._host = self.config.host

    # -- control ------------------------------------------------------------------------------

    def reconfigure(self, config: ServiceConfig) -> None:
        """Apply new settings now: start and stop server tasks, resize batches, set log level.

        Call it from the service's event loop (for example from a config watcher task).
        """
        if config.batch_size < 1:
            raise WatcherError("batch size must be at least 1", hint="use --batch-size 1 or more")
        if config.host != self._host:
            log.warning(
                "watcher.host changed to %r: the watcher records %r until it is restarted",
                config.host,
                self._host,
            )
        self.config = config
        set_log_level(config.log_level)
        if self._writer is not None:
            self._writer.set_batch_size(config.batch_size)
            self._writer.set_flush_interval(config.flush_interval)
        if self._intake is not None and not self._stopping:
            self._apply_servers()
        self._mark_dirty()

    def stop(self) -> None:
        """Stop intake and shut down (flushing what is queued); returns at once."""
        self._stopping = True
        self._dir_stop.set()
        if self._intake is not None:
            self._intake.cancel_scope.cancel()

    def statistics(self) -> dict[str, Any]:
        """Everything the status file reports, as plain JSON-ready values."""
        writer = self._writer.statistics() if self._writer else None
        servers = [
            msgspec.to_builtins(task.record)
            for _, task in sorted(self._servers.items(), key=lambda kv: kv[0])
        ]
        if not self._running:
            for server in servers:
                server["state"] = "stopped"  # nothing is connected once the watcher stops
        # The most recent error, kept as history (with its time) after the problem is over;
        # the current state of the database is in "database".
        errors = [(self._last_error_at or "", self._last_error)]
        if writer is not None:
            errors.append((writer.last_error_at or "", writer.last_error))
        last_at, last_error = max((e for e in errors if e[1]), default=("", None))
        return {
            "pid": os.getpid(),
            "database": self._shown,
            "host": self._host,
            "running": self._running,
            "started_at": self._started_at,
            "updated_at": now_ts(),
            "watch_all": self.config.watch_all,
            "socket_dir": str(socket_dir()) if self.config.watch_all else None,
            "batch_size": self.config.batch_size,
            "servers": servers,
            "database_state": {
                "ok": writer is None or writer.failing is None,
                "failing": writer.failing if writer else None,
                "failing_since": writer.failing_since if writer else None,
                "events_waiting": writer.events_waiting if writer else 0,
                "events_dropped": writer.events_dropped if writer else 0,
                "reopened": writer.reopened if writer else 0,
            },
            "events_written": writer.events_written if writer else 0,
            "events_failed": writer.events_failed if writer else 0,
            "enrichments_written": writer.enrichments_written if writer else 0,
            "enrichments_dropped": self._enrich_dropped,
            "batches": writer.batches if writer else 0,
            "largest_batch": writer.largest_batch if writer else 0,
            "last_event": writer.last_event if writer else None,
            "last_commit_at": writer.last_commit_at if writer else None,
            "last_error": last_error,
            "last_error_at": last_at or None,
            "flush_interval": self.config.flush_interval,
            "log_level": self.config.log_level,
            "backup": msgspec.to_builtins(self._backup_status) if self._backup_status else None,
            "config_files": (
                {scope: str(path) for scope, path in self._config_files.items()}
                if self._config_files
                else None
            ),
            "config_error": self._config_error,
        }

    # -- running ------------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until stopped (SIGTERM, SIGINT, :meth:`stop`) or until a task fails."""
        set_log_level(self.config.log_level)
        watch = self._watch_server or _load_watch_server()
        if self._url is not None:
            ensure_private_dir(self.db_path.parent)
        async with exclusive_lock(self.db_path):
            db: Database | PgDatabase
            if self._url is not None:
                from store.postgres.db import PgDatabase

                db = await PgDatabase.open(self._url)
            else:
                db = await Database.open(self.db_path)
            try:
                await self._run_open(db, watch, task_status)
            finally:
                with anyio.CancelScope(shield=True):
                    await db.close()
                    self.database_abandoned = db.abandoned
                    self._running = False
                    await self._write_status()

    async def _run_open(
        self, db: Database | PgDatabase, watch: ServerWatch, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        send, receive = anyio.create_memory_object_stream[WriterItem](QUEUE_SIZE)
        enrich_send, enrich_receive = anyio.create_memory_object_stream[EnrichRequest](
            ENRICH_QUEUE_SIZE
        )
        self._send, self._enrich_send = send, enrich_send
        # One cache of git's answers for the enricher and the writer: with a fresh answer the
        # writer stores a session's project, worktree and branch in the same transaction as its
        # row, without a trip through the enricher or another transaction.
        git_cache = GitCache()
        self._writer = SessionWriter(
            db,
            batch_size=self.config.batch_size,
            flush_interval=self.config.flush_interval,
            enrich=self._submit_enrichment,
            enrich_now=partial(enrich_now, cache=git_cache),
            on_commit=self._committed,
            on_change=self._mark_dirty,
            on_resync=self._resync_servers,
            host=self._host,
        )
        self._watch = watch
        from watcher.capture.socket_waits import SocketWaits

        # One folder watch for every server task waiting for its server (--all with many
        # ended servers' socket files would otherwise hold an inotify instance per file).
        waits = self._waits = SocketWaits()
        writer_done = anyio.Event()

        async def run_writer(writer: SessionWriter) -> None:
            try:
                await writer.run(receive)
            finally:
                writer_done.set()

        try:
            async with anyio.create_task_group() as outer:
                outer.start_soon(run_writer, self._writer)
                async with anyio.create_task_group() as intake:
                    self._intake = intake
                    self._running = True
                    if self._handle_signals:
                        await intake.start(self._signals)
                    intake.start_soon(self._status_loop)
                    intake.start_soon(waits.run)
                    intake.start_soon(
                        partial(run_enricher, cache=git_cache), enrich_receive, send.clone()
                    )
                    if self._config_files is not None and self._settings is not None:
                        intake.start_soon(self._watch_config, self._config_files)
                    if self._backup_config is not None:
                        if self._url is None:
                            intake.start_soon(self._run_backups)
                        intake.start_soon(self._run_json_state)
                    self._apply_servers()
                    if self._stopping:
                        intake.cancel_scope.cancel()
                    task_status.started()
                # Intake is over: every server task has closed its sender. Let the writer drain
                # the queue, but never for longer than the shutdown budget.
                self._intake = None
                send.close()
                enrich_send.close()
                with anyio.move_on_after(FLUSH_TIMEOUT, shield=True):
                    await writer_done.wait()
                    if self._json_state is not None:
                        await self._json_state.flush()  # the last batch, in dual mode
                outer.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _unwrap(group) from None

    def _apply_servers(self, *, retire: frozenset[str] = frozenset()) -> None:
        """Start and stop server tasks to match the settings.

        Sockets in ``retire`` (their file vanished) are not cancelled while their task is still
        connected: it first sees the server end and records its sessions as gone.
        """
        assert self._intake is not None
        wanted = self.config.explicit_sockets()
        if self.config.watch_all:
            wanted |= self._discovered
            if self._dir_scope is None:
                self._dir_scope = anyio.CancelScope()
                self._dir_stop = anyio.Event()
                self._intake.start_soon(self._watch_socket_dir, self._dir_scope, self._dir_stop)
        elif self._dir_scope is not None:
            self._dir_stop.set()
            self._dir_scope.cancel()
            self._dir_scope = None
            self._discovered.clear()
        for socket in sorted(set(self._servers) - wanted):
            task = self._servers[socket]
            if socket in retire and _is_live(task.state):
                task.retiring = True
                continue
            log.info("no longer watching %s", socket)
            self._servers.pop(socket).scope.cancel()
        for socket in sorted(wanted & set(self._servers)):
            self._servers[socket].retiring = False
        for socket in sorted(wanted - set(self._servers)):
            log.info("watching %s", socket)
            task = _ServerTask(socket)
            self._servers[socket] = task
            self._intake.start_soon(self._supervise, task)
        self._mark_dirty()

    def _resync_servers(self) -> None:
        """Restart every server task, so each reconciles a fresh snapshot against the store.

        Called by the writer when the store may miss what tmux has: the database file was
        replaced, or events were dropped while writes failed. A new task starts with an empty
        tracker, so every live session missing from the store is recorded (``discovered``) and
        every session the store wrongly believes alive ends (``vanished``).
        """
        if self._intake is None or self._stopping:
            return
        log.warning("reconciling every tmux server with the database")
        for socket in sorted(self._servers):
            self._servers.pop(socket).scope.cancel()
        self._apply_servers()

    async def _supervise(self, task: _ServerTask) -> None:
        """Run ``watch_server`` for one socket; restart it (with back-off) if it fails."""
        assert self._send is not None
        record = task.record
        with task.scope:
            attempt = 0
            while True:
                started = anyio.current_time()
                try:
                    assert self._watch is not None
                    async with self._send.clone() as send:
                        await self._watch(
                            record.socket,
                            send=send,
                            known_alive=self._known_alive,
                            on_state=lambda state: self._on_state(task, state),
                            host=self._host,
                            waits=self._waits,
                        )
                    message = "the server task ended"
                except CcmgrError as exc:
                    message = str(exc)
                if anyio.current_time() - started > 60:
                    attempt = 0
                delay = _RESTART_DELAYS[min(attempt, len(_RESTART_DELAYS) - 1)]
                attempt += 1
                record.restarts += 1
                record.last_error = message
                record.state = "restarting"
                self._last_error = f"{record.socket}: {message}"
                self._last_error_at = now_ts()
                log.warning("%s: %s; restarting in %ss", record.socket, message, delay)
                self._mark_dirty()
                await anyio.sleep(delay)

    def _on_state(self, task: _ServerTask, state: Any) -> None:
        task.state = state
        record = task.record
        record.state = msgspec.to_builtins(state) if isinstance(state, msgspec.Struct) else state
        if not isinstance(record.state, (str, int, float, dict, list, type(None))):
            record.state = str(record.state)
        record.since = now_ts()
        if task.retiring and not _is_live(state) and self._servers.get(record.socket) is task:
            log.info("no longer watching %s (its socket is gone)", record.socket)
            del self._servers[record.socket]
            task.scope.cancel()
        self._mark_dirty()

    async def _known_alive(self, socket_path: str) -> list[KnownSession]:
        """Sessions the store believes alive on this socket, after everything queued is written."""
        if self._send is None:
            raise WatcherError("the writer is not running")
        query = AliveQuery(socket_path)
        try:
            await self._send.send(query)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise WatcherError("the writer has stopped") from None
        sessions = await query.wait()
        return [
            KnownSession(
                server=s.tmux_server or "", tmux_id=s.tmux_id or "", name=s.name, status=s.status
            )
            for s in sessions
        ]

    def _submit_enrichment(self, request: EnrichRequest) -> None:
        # Never wait here (the writer calls this): a full queue drops the lookup, not an event.
        if self._enrich_send is None:
            return
        try:
            self._enrich_send.send_nowait(request)
        except anyio.WouldBlock:
            self._enrich_dropped += 1
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async def _watch_socket_dir(self, scope: anyio.CancelScope, stop: anyio.Event) -> None:
        """``--all``: watch every socket in the user's tmux folder, including later ones."""
        with scope:
            await watch_socket_folder(socket_dir(), self._add_discovered, self._sockets_gone, stop)

    def _sockets_gone(self, gone: set[str]) -> None:
        if gone & self._discovered:
            self._discovered -= gone
            self._apply_servers(retire=frozenset(gone))

    def _add_discovered(self, sockets: Iterable[str]) -> None:
        new = set(sockets) - self._discovered
        if new and self.config.watch_all and not self._stopping:
            self._discovered |= new
            self._apply_servers()

    async def _signals(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for signum in signals:
                log.info("received %s: flushing and stopping", signal.Signals(signum).name)
                self.stop()
                return

    # -- live configuration -------------------------------------------------------------------

    async def _watch_config(self, files: dict[Scope, Path]) -> None:
        from watcher.config.live import watch_config

        await watch_config(files, self._config_changed, self._config_failed, initial=False)

    def _config_changed(self, effective: Effective) -> None:
        """A valid config was saved: apply it (what cannot apply is reported like an error)."""
        assert self._settings is not None
        try:
            settings = self._settings(effective.config)
            self.reconfigure(settings)
        except CcmgrError as exc:
            self._config_failed(exc.message)
            return
        if self._backup_config is not None:
            self._backup_config = effective.config
        if self._json_state is not None:
            self._json_state.config_changed()
        if not effective.errors:  # else the errors follow (on_error): still in error
            if self._config_error is not None:
                log.info("configuration is valid again")
            self._config_error = None
        log.info("configuration reloaded")
        self._mark_dirty()

    # -- scheduled backups --------------------------------------------------------------------

    async def _run_backups(self) -> None:
        from watcher.backup.schedule import run_backup_schedule

        await run_backup_schedule(self.db_path, self._current_config, self._backup_published)

    def _current_config(self) -> Config:
        assert self._backup_config is not None
        return self._backup_config

    # -- dual mode ----------------------------------------------------------------------------

    async def _run_json_state(self) -> None:
        from watcher.importer.dual import JsonStateMirror

        # On PostgreSQL: rebuilt from this host's live sessions (the store holds every host's).
        self._json_state = JsonStateMirror(
            self._url or self.db_path, self._current_config, host=self._host
        )
        await self._json_state.run()

    def _committed(self) -> None:
        """The writer committed a batch: status and (dual mode) the JSON state file are stale."""
        self._mark_dirty()
        if self._json_state is not None:
            self._json_state.notify()

    def _backup_published(self, status: BackupScheduleStatus) -> None:
        self._backup_status = status
        self._mark_dirty()

    def _config_failed(self, message: str) -> None:
        """A saved config does not load or validate: keep the settings in force, say why."""
        self._config_error = message
        log.error("configuration not applied (keeping the last good settings): %s", message)
        self._mark_dirty()

    # -- the status file ----------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        self._dirty.set()

    async def _status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty = anyio.Event()
            await self._write_status()
            await anyio.sleep(STATUS_INTERVAL)

    async def _write_status(self) -> None:
        data = msgspec.json.encode(self.statistics())
        try:
            await anyio.to_thread.run_sync(write_status_file, status_path(self.db_path), data)
        except OSError as exc:
            # A full disk, a read-only or deleted folder: the status file must never stop the
            # watcher (the database side says what is wrong in the log).
            if exc.errno not in (
                errno.ENOSPC,
                errno.EROFS,
                errno.EACCES,
                errno.EPERM,
                errno.ENOENT,
                errno.EDQUOT,
            ):
                raise
            self._last_error = f"cannot write the status file: {exc}"
            self._last_error_at = now_ts()


def _is_live(state: Any) -> bool:
    """Whether a server task's published state says it is connected to a server."""
    return bool(getattr(state, "connected", False) or getattr(state, "server", None))


def set_log_level(level: str) -> None:
    """Set the level of the project's loggers (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise WatcherError(f"unknown log level {level!r}", hint="use DEBUG, INFO, WARNING or ERROR")
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(numeric)


def _unwrap(group: BaseExceptionGroup) -> BaseException:
    """The one meaningful error of a failed task group (a CcmgrError if there is one)."""
    flat: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            flat.append(exc)

    walk(group)
    for exc in flat:
        if isinstance(exc, CcmgrError):
            return exc
    return flat[0] if flat else group
