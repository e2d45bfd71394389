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
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectSendStream

from store.timefmt import now_ts
from watcher.capture.events import KnownSession, Lifecycle, server_key
from watcher.capture.protocol import (
    ClientDetached,
    ClientSessionChanged,
    Notification,
    SessionChanged,
    SessionRenamed,
    SessionsChanged,
    UnlinkedWindowAdd,
    UnlinkedWindowClose,
    UnlinkedWindowRenamed,
    WindowAdd,
    WindowClose,
    WindowRenamed,
)
from watcher.capture.tmux_address import native_by_default
from watcher.capture.tmux_client import ControlClient, open_control_client
from watcher.capture.tmux_probe import probe_server, wait_for_sessions_changed
from watcher.capture.tmux_replies import choose_session
from watcher.capture.tracker import ClientInfo, SessionTracker, Snapshot
from watcher.errors import ProtocolMismatch, TmuxError

__all__ = ["ServerState", "wait_for_socket_change", "watch_server"]

log = logging.getLogger("ccmgr_watch.server")

KnownAlive = Callable[[str], Awaitable[list[KnownSession]]]
_MAX_LEARNED = 64  # more unexplained creations than this means the pattern broke: list


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


async def wait_for_socket_change(socket_path: str, timeout: float) -> bool:
    """Wait until something changes in the socket's folder, or ``timeout`` seconds pass.

    Returns True on a change. Watches the nearest existing ancestor folder when the socket
    folder does not exist yet (tmux creates it with the first server), non-recursively.
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
    send: MemoryObjectSendStream[Lifecycle],
    known_alive: KnownAlive,
    on_state: Callable[[ServerState], None] | None = None,
    tmux: str = "tmux",
    fallback_interval: float = 30.0,
    retry_delay: float = 0.05,
    native: bool | None = None,
) -> None:
    """Watch the tmux server(s) on socket path ``address`` forever, sending lifecycle events.

    ``known_alive(socket_path)`` returns the sessions the store believes alive on that socket
    (any server key built from the same socket path); it is read before every reconciliation.
    ``on_state`` gets a new :class:`ServerState` on every change. ``fallback_interval`` is the
    slow probe used when the folder watch sees nothing; ``retry_delay`` starts the back-off
    for connections that fail or drop at once. ``native`` (default: True unless
    ``$CCMGR_WATCH_TMUX_CLIENT`` is ``binary``) speaks tmux's client protocol instead of running
    ``tmux -C``; a server of another protocol version falls back to the binary by itself.
    """
    watcher = _ServerWatcher(address, send, known_alive, on_state, tmux)
    watcher.native = native_by_default() if native is None else native
    await watcher.run(fallback_interval, retry_delay)


class _ServerWatcher:
    def __init__(
        self,
        address: str,
        send: MemoryObjectSendStream[Lifecycle],
        known_alive: KnownAlive,
        on_state: Callable[[ServerState], None] | None,
        tmux: str,
    ) -> None:
        self.address = address
        self.send = send
        self.known_alive = known_alive
        self.on_state = on_state
        self.tmux = tmux
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
        for event in events:
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
                    await wait_for_socket_change(self.address, fallback_interval)
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

    async def snapshot(self, client: ControlClient, marks: _Marks) -> Snapshot:
        info = await client.server_info()
        sessions, marks.session_ids = await client.list_sessions_marked()
        marks.names_all = marks.session_ids
        clients, marks.clients = await client.list_clients_marked()
        windows, marks.windows = await client.list_windows_marked()
        return Snapshot(
            server=server_key(self.address, info.pid, info.start_time),
            own_client=info.client_name,
            sessions=tuple(sessions),
            clients=tuple(clients),
            windows=tuple(windows),
        )

    async def follow(self, client: ControlClient) -> None:
        """Snapshot, reconcile, then translate notifications until the client ends."""
        marks = _Marks()
        try:
            snapshot = await self.snapshot(client, marks)
        except TmuxError:
            return
        known = await self.known_alive(self.address)
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
            if marks.reflects(note, index):
                # A listing made after this notification already showed its effect (and a
                # burst of %sessions-changed costs one listing, not one each).
                continue
            try:
                await self.handle(client, note, marks)
            except TmuxError:
                # The connection is going away (the reply never came); reconcile on reconnect.
                if isinstance(note, SessionsChanged):
                    self.missed_change = True
                return

    async def refresh_sessions(self, client: ControlClient, marks: _Marks) -> None:
        # Ids only, then details of the new ones: formatting every session's fields on every
        # %sessions-changed would cost tmux O(sessions) work per event on a big server.
        ids, marks.session_ids = await client.list_session_ids_marked()
        marks.learned = 0  # the listing settles everything delivered before it
        new = []
        for sid in ids:
            if not self.tracker.knows_session(sid):
                info, marks.names[sid] = await client.session_marked(sid)
                if info is not None:
                    new.append(info)
        await self.emit(self.tracker.sessions_present(ids, new, now_ts()))

    async def handle(self, client: ControlClient, note: Notification, marks: _Marks) -> None:
        tracker = self.tracker
        match note:
            case SessionsChanged():
                if 0 < marks.learned <= _MAX_LEARNED:
                    # This is the %sessions-changed of a session already learned from its
                    # first window (see _Marks.learned): nothing else to list.
                    marks.learned -= 1
                else:
                    await self.refresh_sessions(client, marks)
            case SessionRenamed(session_id=sid, name=name):
                if tracker.knows_session(sid):
                    await self.emit(tracker.session_renamed(sid, name, now_ts()))
                else:
                    await self.refresh_sessions(client, marks)
            case ClientSessionChanged(client=name, session_id=sid):
                if name == tracker.own_client:
                    return
                if not tracker.knows_session(sid):
                    await self.refresh_sessions(client, marks)
                control = await self.is_control_client(client, name)
                info = ClientInfo(name=name, session_id=sid, control=control)
                await self.emit(tracker.client_session_changed(info, now_ts()))
            case ClientDetached(client=name):
                await self.emit(tracker.client_detached(name, now_ts()))
            case WindowAdd(window_id=wid) | UnlinkedWindowAdd(window_id=wid):
                await self.relink_window(client, wid, marks)
            case WindowClose(window_id=wid) | UnlinkedWindowClose(window_id=wid):
                if tracker.knows_window(wid):
                    await self.relink_window(client, wid, marks)
            case (
                WindowRenamed(window_id=wid, name=name)
                | UnlinkedWindowRenamed(window_id=wid, name=name)
            ):
                await self.emit(tracker.window_renamed(wid, name, now_ts()))
            case SessionChanged(session_id=sid):
                self.publish(session=sid)
            case _:
                pass

    async def relink_window(self, client: ControlClient, window_id: str, marks: _Marks) -> None:
        links, session, marks.window[window_id] = await client.window_lookup_marked(window_id)
        if session is not None and not self.tracker.knows_session(session.session_id):
            marks.names[session.session_id] = marks.window[window_id]
            marks.learned += 1
            await self.emit(self.tracker.session_seen(session, now_ts()))
        if any(not self.tracker.knows_session(link.session_id) for link in links):
            await self.refresh_sessions(client, marks)
        await self.emit(self.tracker.window_links(window_id, links, now_ts()))

    async def is_control_client(self, client: ControlClient, name: str) -> bool:
        known = self.tracker.clients.get(name)
        if known is not None:
            return known.control
        for info in await client.list_clients():
            if info.name == name:
                return info.control
        # Gone already: control clients without a tty are named client-<pid>, tty clients
        # by their tty path.
        return not name.startswith("/")


class _Marks:
    """Per connection: up to which notification each kind of listing is already up to date.

    See :class:`~.tmux_client.ControlClient`: a notification numbered below a listing's mark
    happened before that listing. Handling it again would replay an older state over a newer
    one (a client that attached and switched before the snapshot would seem to switch back).
    """

    def __init__(self) -> None:
        # Sessions learned from a window lookup whose own %sessions-changed is still to come.
        # tmux sends a new session's %window-add and then its %sessions-changed (one per
        # create or destroy), so that notification needs no listing; every other one (a kill)
        # still lists, and any listing resets the count. This spares tmux one O(sessions)
        # listing per new session.
        self.learned = 0
        self.session_ids = 0
        self.names_all = 0
        self.names: dict[str, int] = {}
        self.clients = 0
        self.windows = 0
        self.window: dict[str, int] = {}

    def reflects(self, note: Notification, index: int) -> bool:
        """True when a listing taken after ``note`` (number ``index``) already covers it."""
        match note:
            case SessionsChanged():
                return index < self.session_ids
            case SessionRenamed(session_id=sid):
                return index < max(self.names_all, self.names.get(sid, 0))
            case ClientSessionChanged() | ClientDetached():
                return index < self.clients
            case (
                WindowAdd(window_id=wid)
                | UnlinkedWindowAdd(window_id=wid)
                | WindowClose(window_id=wid)
                | UnlinkedWindowClose(window_id=wid)
                | WindowRenamed(window_id=wid)
                | UnlinkedWindowRenamed(window_id=wid)
            ):
                return index < max(self.windows, self.window.get(wid, 0))
            case _:
                return False
