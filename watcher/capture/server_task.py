"""One supervised task per tmux socket: wait for a server, attach, reconcile, follow, reconnect.

``watch_server`` never returns on its own. It waits for a server without polling hard (a
watchfiles watch on the socket folder plus a slow fallback probe), attaches a control client to
a deterministically chosen session, reconciles a fresh snapshot against what the store and its
own memory believe, then turns notifications into :class:`~.events.Lifecycle` events sent
into the writer's bounded stream (``await send.send``: back-pressure is the point). When the
control client exits (its session killed, ``kill-server``, a user's ``attach -d``) it goes round
again: another session or a wait for the next server, and another reconciliation.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectSendStream

from store.timefmt import now_ts
from watcher.capture.events import CaptureItem, KnownSession, Lifecycle, server_key
from watcher.capture.follow import (
    Emit,
    Follower,
    ListClients,
    ListSessionIds,
    LookupWindow,
    ShowSession,
    Steps,
)
from watcher.capture.protocol import (
    SessionChanged,
    SessionsChanged,
)
from watcher.capture.tmux_address import native_by_default
from watcher.capture.tmux_client import ControlClient, open_control_client
from watcher.capture.tmux_probe import probe_server, wait_for_sessions_changed
from watcher.capture.tmux_replies import choose_session
from watcher.capture.tracker import SessionTracker, Snapshot
from watcher.errors import ProtocolMismatch, TmuxError

if TYPE_CHECKING:
    from watcher.capture.socket_waits import SocketWaits

__all__ = ["ServerState", "socket_mark", "wait_for_socket_change", "watch_server"]

log = logging.getLogger("ccmgr_watch.server")

KnownAlive = Callable[[str], Awaitable[list[KnownSession]]]


class ServerState(msgspec.Struct, frozen=True, kw_only=True):
    """What one server task is doing, for ``status``: published on every change.

    ``server`` is the server key of the current (or last) server lifetime, ``session`` the
    tmux id of the session the watcher's control client is attached to. ``last_error`` is the
    most recent abnormal end (a failed attach, a protocol error, a crashed server); ordinary
    ends (the watcher's session killed, ``kill-server``, a user's ``attach -d``) do not set it.
    """

    socket_path: str
    server: str | None = None
    connected: bool = False
    session: str | None = None
    last_error: str | None = None


SocketMark = tuple[int, int, int] | None
"""What a socket path is at one moment: None when absent, else its inode, device and change time."""


def socket_mark(socket_path: str) -> SocketMark:
    """The socket path's :data:`SocketMark`: a new server always makes a new one (tmux unlinks a
    stale socket and binds a new file), while a stale socket left behind keeps its mark, so
    comparing marks never spins on a dead server's file the way an existence check would."""
    try:
        st = os.stat(socket_path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_ctime_ns)


async def wait_for_socket_change(
    socket_path: str, timeout: float, *, since: SocketMark | Literal[False] = False
) -> bool:
    """Wait until something changes in the socket's folder, or ``timeout`` seconds pass.

    Returns True on a change. Watches the nearest existing ancestor folder when the socket
    folder does not exist yet (tmux creates it with the first server), non-recursively.

    ``since`` is the socket's :func:`socket_mark` taken before the caller last looked for a
    server: a server that started between that look and the moment the watch is armed changes
    no file *after* arming, so once armed the mark is compared and a difference returns True at
    once (without it, such a server would be noticed only after ``timeout``).
    """
    from watchfiles import awatch  # imported here: only the service needs it

    folder = Path(socket_path).parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    stop = anyio.Event()
    changed = False

    async def watch() -> None:
        nonlocal changed
        try:
            async for _changes in awatch(
                folder,
                stop_event=stop,
                watch_filter=None,
                debounce=50,
                step=50,  # the watch thread wakes this often to look at ``stop``
                recursive=False,
                rust_timeout=int(timeout * 1000) + 1000,
            ):
                changed = True
                stop.set()
                return
        except (OSError, RuntimeError):
            # The folder vanished or cannot be watched: fall back to the timeout.
            await anyio.sleep(timeout)
            stop.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        # awatch arms its watch synchronously in the first step of the task just started
        # (RustNotify's constructor adds the inotify watch before anything awaits); this
        # checkpoint lets that step run, so a change after the comparison below is seen by it.
        await anyio.sleep(0)
        if since is not False and socket_mark(socket_path) != since:
            changed = True
            stop.set()
        try:
            with anyio.move_on_after(timeout):
                await stop.wait()
        finally:
            # Inside the task group: on cancellation the group waits for the watch thread,
            # which only looks at ``stop`` (every ``step`` ms), so it must be set first.
            stop.set()
    return changed


async def watch_server(
    address: str,
    *,
    send: MemoryObjectSendStream[CaptureItem],
    known_alive: KnownAlive,
    on_state: Callable[[ServerState], None] | None = None,
    tmux: str = "tmux",
    fallback_interval: float = 30.0,
    retry_delay: float = 0.05,
    native: bool | None = None,
    host: str | None = None,
    waits: SocketWaits | None = None,
) -> None:
    """Watch the tmux server(s) on socket path ``address`` forever, sending lifecycle events.

    ``known_alive(socket_path)`` returns the sessions the store believes alive on that socket
    (any server key built from the same socket path); it is read before every reconciliation.
    ``on_state`` gets a new :class:`ServerState` on every change. ``fallback_interval`` is the
    slow probe used when the folder watch sees nothing; ``retry_delay`` starts the back-off
    for connections that fail or drop at once. ``native`` (default: True unless
    ``$CCMGR_WATCH_TMUX_CLIENT`` is ``binary``) speaks tmux's client protocol instead of running
    ``tmux -C``; a server of another protocol version falls back to the binary by itself.
    ``host`` goes into the server key of every server lifetime not recorded before
    (:func:`server_key`). ``waits`` (the service gives one to every task) shares one folder
    watch between all tasks waiting for a server; without it the task watches on its own.
    """
    watcher = _ServerWatcher(address, send, known_alive, on_state, tmux)
    watcher.host = host
    watcher.waits = waits
    watcher.native = native_by_default() if native is None else native
    await watcher.run(fallback_interval, retry_delay)


class _ServerWatcher:
    def __init__(
        self,
        address: str,
        send: MemoryObjectSendStream[CaptureItem],
        known_alive: KnownAlive,
        on_state: Callable[[ServerState], None] | None,
        tmux: str,
    ) -> None:
        self.address = address
        self.send = send
        self.known_alive = known_alive
        self.on_state = on_state
        self.tmux = tmux
        self.host: str | None = None
        self.waits: SocketWaits | None = None
        self.tracker = SessionTracker(address)
        self.state = ServerState(socket_path=address)
        # True when the connection ended right after an unprocessed %sessions-changed: the
        # sessions missing at the next reconciliation were then killed, not lost in a gap.
        self.missed_change = False
        self.native = True
        # Epoch seconds since when this socket has had no session as far as we looked (None:
        # not waiting). Sessions created since then were seen to appear: ``created``.
        self.waiting_since: float | None = None
        self._said = ""  # the last state change logged at INFO (each is said once)

    def say(self, message: str, *args: object) -> None:
        """Log a state change at INFO, once (waiting loops repeat the same state)."""
        text = message % args if args else message
        if text != self._said:
            self._said = text
            log.info("%s", text)

    def publish(self, **changes: object) -> None:
        state = msgspec.structs.replace(self.state, **changes)
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    async def emit(self, events: Sequence[Lifecycle]) -> None:
        # The window records the tracker queued while deriving these events go after them
        # (a record updates the session row an event may create).
        items: list[CaptureItem] = [*events, *self.tracker.take_layouts()]
        for event in items:
            # Without a detour through the event loop while the queue has room (it nearly
            # always has): a notification's events then reach the writer together.
            try:
                self.send.send_nowait(event)
            except anyio.WouldBlock:
                await self.send.send(event)

    async def run(self, fallback_interval: float, retry_delay: float) -> None:
        if self.on_state is not None:
            self.on_state(self.state)
        setbacks = 0  # failed attaches and connections that dropped at once, in a row
        while True:
            before = socket_mark(self.address)  # before looking: see wait_for_socket_change
            try:
                probe = await probe_server(self.address, tmux=self.tmux)
            except TmuxError as exc:
                self.say("cannot look for a tmux server at %s: %s", self.address, exc)
                self.publish(connected=False, last_error=str(exc))
                await anyio.sleep(fallback_interval)
                continue
            log.debug("probe of %s: %s", self.address, probe)
            if probe is None or not probe.sessions:
                if self.waiting_since is None:
                    self.waiting_since = time.time()
                # No server (or one without sessions): everything believed alive is gone.
                known = await self.known_alive(self.address)
                await self.emit(
                    self.tracker.reconcile(None, known, now_ts(), missing_as=self._missing_as())
                )
                self.missed_change = False
                self.publish(connected=False, server=None, session=None)
                if probe is None:
                    self.say("no tmux server at %s; waiting for one", self.address)
                    if self.waits is not None:
                        await self.waits.wait(self.address, fallback_interval, since=before)
                    else:
                        await wait_for_socket_change(self.address, fallback_interval, since=before)
                else:
                    self.say("the tmux server at %s has no sessions; waiting for one", self.address)
                    # A server with exit-empty off and no sessions: creating a session changes
                    # no file, so listen with a session-less control client instead.
                    try:
                        changed = await wait_for_sessions_changed(
                            self.address, fallback_interval, tmux=self.tmux, native=self.native
                        )
                    except ProtocolMismatch:
                        self.fall_back()
                        continue
                    except TmuxError as exc:
                        # The server went away meanwhile, or refuses us: look again, calmly.
                        log.debug("waiting for sessions on %s failed: %s", self.address, exc)
                        await anyio.sleep(1.0)
                        continue
                    if changed:
                        await anyio.sleep(retry_delay)  # never spin on a misbehaving server
                continue
            target = choose_session(probe)
            assert target is not None
            log.debug("attaching to %s on %s", target, self.address)
            started = anyio.current_time()
            error: str | None = None
            try:
                async with open_control_client(
                    self.address, target, tmux=self.tmux, native=self.native
                ) as client:
                    await self.follow(client)
                error = client.failure
                reason = client.closed_reason or "the tmux client ended"
            except ProtocolMismatch:
                self.fall_back()
                continue
            except TmuxError as exc:
                error = str(exc)
                reason = error
            changes: dict[str, object] = {"connected": False, "session": None}
            if error is not None:
                changes["last_error"] = error
            self.publish(**changes)
            # Reconnecting at once is right after a kill or a kick; but a connection that keeps
            # failing or dropping straight away (a hook that detaches every new client, a
            # session that dies between probe and attach) must not spin.
            delay = 0.0
            if anyio.current_time() - started < 2.0:
                setbacks += 1
                delay = min(retry_delay * 2 ** (setbacks - 1), 10.0)
            else:
                setbacks = 0
            self.say(
                "lost the connection to %s (%s); retrying in %.2g s", self.address, reason, delay
            )
            await anyio.sleep(delay)

    def fall_back(self) -> None:
        """The server speaks another protocol version: use the ``tmux`` binary from now on."""
        log.warning(
            "the tmux server at %s speaks another client protocol version than tmux 3.2-3.7;"
            " using the tmux binary (`tmux -C`) for it instead",
            self.address,
        )
        self.native = False

    def _missing_as(self) -> Literal["vanished", "killed"]:
        return "killed" if self.missed_change else "vanished"

    async def snapshot(self, client: ControlClient, follower: Follower) -> Snapshot:
        info = await client.server_info()
        sessions, session_mark = await client.list_sessions_marked()
        clients, client_mark = await client.list_clients_marked()
        windows, window_mark = await client.list_windows_marked()
        follower.snapshot_taken(sessions=session_mark, clients=client_mark, windows=window_mark)
        return Snapshot(
            server=server_key(self.address, info.pid, info.start_time, self.host),
            own_client=info.client_name,
            sessions=tuple(sessions),
            clients=tuple(clients),
            windows=tuple(windows),
        )

    def _keep_recorded_key(self, snapshot: Snapshot, known: list[KnownSession]) -> Snapshot:
        """The snapshot under the key the store already knows this server lifetime by.

        A lifetime recorded before hosts were (its key has no host) keeps that key: its
        sessions' ids are derived from it, and a new key would record each live session a
        second time under a new id. Only lifetimes first seen with a host get the host's key.
        """
        if self.host is None:
            return snapshot
        legacy = snapshot.server.removesuffix(f"@{self.host}")
        if legacy != snapshot.server and any(k.server == legacy for k in known):
            return msgspec.structs.replace(snapshot, server=legacy)
        return snapshot

    async def follow(self, client: ControlClient) -> None:
        """Snapshot, reconcile, then translate notifications until the client ends."""
        follower = Follower(self.tracker, now_ts)
        try:
            snapshot = await self.snapshot(client, follower)
        except TmuxError:
            return
        known = await self.known_alive(self.address)
        snapshot = self._keep_recorded_key(snapshot, known)
        since = self.waiting_since
        events = self.tracker.reconcile(
            snapshot,
            known,
            now_ts(),
            missing_as=self._missing_as(),
            appeared_since=None if since is None else int(since) - 1,
        )
        self.missed_change = False
        self.waiting_since = None
        self.publish(connected=True, server=snapshot.server, session=client.session_id)
        self.say(
            "connected to %s (session %s, %d sessions)",
            self.address,
            client.session_id,
            len(snapshot.sessions),
        )
        log.debug(
            "reconciled %s: %s",
            snapshot.server,
            ", ".join(f"{e.event_type} {e.tmux_id}" for e in events) or "no changes",
        )
        await self.emit(events)

        index = -1
        notes = client.notifications
        while True:
            # Take what is queued already without a detour through the event loop; wait only
            # when nothing is.
            try:
                note = notes.receive_nowait()
            except anyio.WouldBlock:
                try:
                    note = await notes.receive()
                except anyio.EndOfStream:
                    return
            except anyio.EndOfStream:
                return
            index += 1
            if follower.covered(note, index):
                continue
            if isinstance(note, SessionChanged):
                self.publish(session=note.session_id)
                continue
            try:
                await self.run_steps(client, follower.handle(note))
            except TmuxError:
                # The connection is going away (the reply never came); reconcile on reconnect.
                if isinstance(note, SessionsChanged):
                    self.missed_change = True
                return

    async def run_steps(self, client: ControlClient, steps: Steps) -> None:
        """Carry out what the follower decided: run each listing, send each batch of events."""
        answer: Any = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration:
                return
            match step:
                case Emit(events=events):
                    await self.emit(events)
                    answer = None
                case ListSessionIds():
                    answer = await client.list_session_ids_marked()
                case ShowSession(session_id=sid):
                    answer = await client.session_marked(sid)
                case LookupWindow(window_id=wid):
                    answer = await client.window_lookup_marked(wid)
                case ListClients():
                    answer = await client.list_clients()
