"""Session lifecycle derivation for one tmux socket: snapshots + notifications in, events out.

Pure (no I/O, no clock): every method takes values, including the event timestamp, and returns
the :class:`~.events.Lifecycle` structs it derives. The state survives reconnects and new
server lifetimes on the same socket, so that a reconnect's reconciliation reports only what
really changed during the gap and nothing is reported twice.

Rules (reference §5): only human clients attach (the watcher's own client and every other
control-mode client are ignored); a client switching sessions is a detach from the old one plus
an attach to the new one; windows are tracked as (session, window) links because tmux reports
link changes and says ``unlinked-window-close`` after the window is already gone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import msgspec

from store.timefmt import format_ts
from watcher.capture.events import (
    KnownSession,
    Lifecycle,
    LifecycleType,
    PaneShape,
    SessionLayout,
    StatusAfter,
    WindowShape,
    socket_of,
)

__all__ = [
    "ClientInfo",
    "SessionInfo",
    "SessionTracker",
    "Snapshot",
    "WindowInfo",
    "clean_text",
]

_ENDED_MEMORY = 100_000  # how many ended sessions we remember to avoid reporting them twice


class SessionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``list-sessions``; ``name`` is tmux's (vis-encoded) name as tmux prints it."""

    session_id: str
    name: str
    created: int = 0
    path: str = ""
    attached: int = 0
    windows: int = 0
    activity: int | None = None
    last_attached: int | None = None


class ClientInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One client: its name (``/dev/pts/3`` or ``client-<pid>``), session, control-mode flag."""

    name: str
    session_id: str
    control: bool = False
    pid: int = 0


class WindowInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One (session, window) link from ``list-windows -a``, with the window's shape in that
    session (index, layout, panes) when the listing asked for it."""

    session_id: str
    window_id: str
    name: str
    shape: WindowShape | None = None


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything read right after (re)connecting to one server lifetime."""

    server: str
    own_client: str
    sessions: tuple[SessionInfo, ...] = ()
    clients: tuple[ClientInfo, ...] = ()
    windows: tuple[WindowInfo, ...] = ()


def _id_number(tmux_id: str) -> int:
    try:
        return int(tmux_id[1:])
    except ValueError:
        return 1 << 62


def layout_pane_ids(layout: str) -> tuple[str, ...]:
    """The pane ids of a ``#{window_layout}``, in its order (``%`` added).

    A leaf cell is ``WxH,X,Y,ID``; a split cell ``WxH,X,Y{...}`` or ``[...]`` has no id.
    """
    return tuple("%" + m for m in _LEAF.findall(layout))


_LEAF = re.compile(r"\d+x\d+,\d+,\d+,(\d+)")


def _merged(new: WindowShape | None, old: WindowShape | None) -> WindowShape | None:
    """A window's new shape, keeping the directories it had for panes that show none now.

    A pane listed the instant it starts has no current directory yet (tmux finds it through
    the pane's foreground process).
    """
    if new is None or old is None or all(p.path for p in new.panes):
        return new or old
    before = {p.id: p.path for p in old.panes}
    panes = tuple(
        p if p.path or not before.get(p.id) else PaneShape(p.id, before[p.id]) for p in new.panes
    )
    return msgspec.structs.replace(new, panes=panes)


def _structure(shapes: Sequence[WindowShape]) -> list[tuple[Any, ...]]:
    """What a record must not wait for: every field but the geometry and the current window."""
    return [(w.window_id, w.index, w.name, w.automatic_rename, w.panes) for w in shapes]


def clean_text(text: str) -> str:
    """Text safe to store: bytes that were not UTF-8 (kept as surrogates) become ``\\xNN``.

    tmux vis-encodes such bytes in names, but paths (``session_path``) come through raw.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def _clean_data(data: dict[str, Any]) -> dict[str, Any]:
    return {k: clean_text(v) if isinstance(v, str) else v for k, v in data.items()}


@lru_cache(maxsize=1024)  # every event of a session carries its creation time
def _created_at(epoch: int) -> str | None:
    if epoch <= 0:
        return None
    try:
        return format_ts(datetime.fromtimestamp(epoch, UTC))
    except (OverflowError, OSError, ValueError):
        return None


class SessionTracker:
    """What one socket's tmux server(s) look like, and the lifecycle events that changes imply."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.server: str | None = None
        self.own_client: str | None = None
        self.sessions: dict[str, SessionInfo] = {}
        self.clients: dict[str, ClientInfo] = {}
        # window id -> {session id -> window name}: the links we know of.
        self.windows: dict[str, dict[str, str]] = {}
        # session id -> window id -> shape: what a revive of the session would recreate.
        self.shapes: dict[str, dict[str, WindowShape]] = {}
        # session id -> the shapes last sent to the writer (see _layout).
        self._recorded: dict[str, tuple[WindowShape, ...]] = {}
        self._layouts: list[SessionLayout] = []  # records waiting for take_layouts
        self._ended: dict[tuple[str, str], None] = {}

    # -- queries (for the I/O side to decide when to look something up) --

    def take_layouts(self) -> list[SessionLayout]:
        """The window records queued since the last call, oldest first (and forget them).

        Kept apart from the lifecycle events the methods return: the caller sends them to the
        writer after those events (a record updates the row an event creates).
        """
        layouts, self._layouts = self._layouts, []
        return layouts

    def knows_session(self, session_id: str) -> bool:
        """True if the session is alive in the current server as far as we know."""
        return session_id in self.sessions

    def knows_window(self, window_id: str) -> bool:
        """True if we know at least one session this window is linked to."""
        return window_id in self.windows

    def status(self, session_id: str) -> StatusAfter:
        """``attached`` iff a human client (not ours, not control mode) is on the session."""
        if session_id not in self.sessions:
            return "ended"
        for client in self.clients.values():
            if client.session_id == session_id and self._human(client):
                return "attached"
        return "detached"

    def human_clients(self, session_id: str) -> list[str]:
        """Names of the human clients on a session, sorted."""
        return sorted(
            c.name for c in self.clients.values() if c.session_id == session_id and self._human(c)
        )

    # -- gaps: connect, reconnect, server gone --

    def reconcile(
        self,
        snapshot: Snapshot | None,
        known: Iterable[KnownSession],
        timestamp: str,
        *,
        missing_as: Literal["vanished", "killed"] = "vanished",
        appeared_since: int | None = None,
    ) -> list[Lifecycle]:
        """Compare a fresh snapshot (None: no server running) with what we and the store knew.

        Sessions of older server lifetimes and sessions missing from the snapshot are
        ``vanished``; sessions nobody knew are ``discovered``; for sessions that survived, name
        changes become ``renamed`` and client changes ``attached``/``detached``. When the snapshot
        is from the same server lifetime as our memory, window link changes are reported too.
        ``missing_as="killed"`` labels the missing sessions ``killed`` instead (the caller knows
        they ended just before the connection dropped). ``appeared_since`` (epoch seconds) says
        the caller watched the socket without a session since then: new sessions created since
        then were seen to appear, so they are ``created``, with a ``window_added`` per window.
        Every session's windows as the snapshot shows them go out as a :class:`SessionLayout`
        when they differ from what was sent last (an ended session's last known windows, too).
        """
        events: list[Lifecycle] = []
        new_server = snapshot.server if snapshot is not None else None
        same_server = self.server is not None and self.server == new_server
        new_sessions = {s.session_id: s for s in snapshot.sessions} if snapshot else {}

        # What was believed alive: our own memory first, then the store's view.
        prior: dict[tuple[str, str], tuple[str, StatusAfter]] = {}
        if self.server is not None:
            for sid, info in self.sessions.items():
                prior[(self.server, sid)] = (info.name, self.status(sid))
        for item in known:
            key = (item.server, item.tmux_id)
            if (
                item.status == "ended"
                or key in prior
                or key in self._ended
                or socket_of(item.server) != self.socket_path
            ):
                continue
            prior[key] = (item.name, item.status)

        # 1. vanished
        for (server, sid), (name, _status) in sorted(
            prior.items(), key=lambda kv: (kv[0][0], _id_number(kv[0][1]))
        ):
            if server == new_server and sid in new_sessions:
                continue
            data: dict[str, Any] = {}
            if server != new_server:
                data["reason"] = "server gone"
            gone = self.sessions.get(sid) if server == self.server else None
            if gone is not None:
                self._layout(sid, timestamp, server=server)
            events.append(
                Lifecycle(
                    server=server,
                    tmux_id=sid,
                    event_type=missing_as,
                    timestamp=timestamp,
                    name=clean_text(name),
                    status="ended",
                    data=data,
                    created_at=_created_at(gone.created) if gone else None,
                    directory=clean_text(gone.path) or None if gone else None,
                )
            )
            self._remember_ended(server, sid)

        if snapshot is None:
            self.server = None
            self.own_client = None
            self.sessions = {}
            self.clients = {}
            self.windows = {}
            self.shapes = {}
            self._recorded = {}
            return events

        old_clients = self.clients if same_server else {}
        old_windows = self.windows if same_server else {}
        self.server = snapshot.server
        self.own_client = snapshot.own_client
        self.sessions = dict(new_sessions)
        new_clients = {c.name: c for c in snapshot.clients}

        # 2. renamed, for survivors
        survivors = [
            sid for sid in sorted(new_sessions, key=_id_number) if (snapshot.server, sid) in prior
        ]
        for sid in survivors:
            old_name, old_status = prior[(snapshot.server, sid)]
            if old_name != new_sessions[sid].name:
                # The attach changes follow as their own events, so this one keeps the status
                # the session had before them.
                events.append(
                    self._event(
                        sid,
                        "renamed",
                        timestamp,
                        {"old_name": old_name, "new_name": new_sessions[sid].name},
                        status=old_status,
                    )
                )

        # 3. attach state of survivors
        if same_server:
            # Client-level diff, applied one change at a time so each status is right.
            self.clients = {n: c for n, c in old_clients.items() if c.session_id in new_sessions}
            for name in sorted(set(self.clients) - set(new_clients)):
                events += self.client_detached(name, timestamp)
            for name in sorted(new_clients):
                events += self.client_session_changed(new_clients[name], timestamp)
        else:
            self.clients = new_clients
            for sid in survivors:
                before = prior[(snapshot.server, sid)][1]
                after = self.status(sid)
                if before == "attached" and after == "detached":
                    events.append(self._event(sid, "detached", timestamp, {"client": None}))
                elif before != "attached" and after == "attached":
                    for client in self.human_clients(sid):
                        events.append(self._event(sid, "attached", timestamp, {"client": client}))
        self.clients = new_clients

        # 4. discovered, or created when the caller saw the socket empty before
        for sid in sorted(new_sessions, key=_id_number):
            if (snapshot.server, sid) in prior:
                continue
            if appeared_since is None or new_sessions[sid].created < appeared_since:
                events.append(self._event(sid, "discovered", timestamp))
                continue
            events.append(self._event(sid, "created", timestamp))
            for link in sorted(snapshot.windows, key=lambda w: _id_number(w.window_id)):
                if link.session_id == sid:
                    events.append(
                        self._window_event(
                            sid, "window_added", link.window_id, link.name, timestamp
                        )
                    )

        # 5. windows (only diffable within one server lifetime)
        new_windows: dict[str, dict[str, str]] = {}
        for link in snapshot.windows:
            new_windows.setdefault(link.window_id, {})[link.session_id] = link.name
        if same_server:
            for wid in sorted(set(old_windows) | set(new_windows), key=_id_number):
                events += self._diff_links(
                    wid, old_windows.get(wid, {}), new_windows.get(wid, {}), timestamp, survivors
                )
        self.windows = new_windows

        # 6. the windows of every session, for reviving it later
        shapes: dict[str, dict[str, WindowShape]] = {}
        for link in snapshot.windows:
            if link.shape is not None and link.session_id in new_sessions:
                shapes.setdefault(link.session_id, {})[link.window_id] = link.shape
        self.shapes = shapes
        if not same_server:
            self._recorded = {}
        self._recorded = {sid: r for sid, r in self._recorded.items() if sid in new_sessions}
        for sid in sorted(new_sessions, key=_id_number):
            self._layout(sid, timestamp)
        return events

    # -- sessions --

    def sessions_present(
        self, session_ids: Collection[str], new: Sequence[SessionInfo], timestamp: str
    ) -> list[Lifecycle]:
        """A fresh list of session ids plus details of the ones we did not know.

        Cheap on big servers (names are not listed): ``killed`` for known sessions that are
        missing, ``created`` for each session in ``new`` (names of known
        sessions are left to ``%session-renamed``).
        """
        events: list[Lifecycle] = []
        present = set(session_ids)
        for sid in sorted(set(self.sessions) - present, key=_id_number):
            # The windows it had when it ended: tmux can no longer be asked.
            self._layout(sid, timestamp)
            events.append(self._event(sid, "killed", timestamp, status="ended"))
            self._drop_session(sid)
        for info in sorted(new, key=lambda i: _id_number(i.session_id)):
            sid = info.session_id
            if sid in self.sessions or sid not in present:
                continue
            if self.server is not None and (self.server, sid) in self._ended:
                continue
            self.sessions[sid] = info
            events.append(self._event(sid, "created", timestamp))
        return events

    def session_seen(self, info: SessionInfo, timestamp: str) -> list[Lifecycle]:
        """Details of a session met elsewhere (a window lookup): ``created`` if it is new."""
        return self.sessions_present([*self.sessions, info.session_id], [info], timestamp)

    def session_renamed(self, session_id: str, name: str, timestamp: str) -> list[Lifecycle]:
        """``%session-renamed``: ``renamed`` with the old and new name (unknown ids: nothing)."""
        old = self.sessions.get(session_id)
        if old is None or old.name == name:
            return []
        self.sessions[session_id] = msgspec.structs.replace(old, name=name)
        return [
            self._event(session_id, "renamed", timestamp, {"old_name": old.name, "new_name": name})
        ]

    # -- clients --

    def client_session_changed(self, client: ClientInfo, timestamp: str) -> list[Lifecycle]:
        """A client attached to or switched to ``client.session_id``.

        The windows of a session a person left are recorded as they are (a natural moment:
        what they leave is what they will want back)."""
        if client.name == self.own_client:
            return []
        old = self.clients.get(client.name)
        self.clients[client.name] = client
        was_human = old is not None and self._human(old)
        is_human = self._human(client)
        if was_human and is_human and old is not None and old.session_id == client.session_id:
            return []
        events: list[Lifecycle] = []
        if was_human and old is not None and old.session_id in self.sessions:
            self._layout(old.session_id, timestamp)
            events.append(
                self._event(old.session_id, "detached", timestamp, {"client": client.name})
            )
        if is_human and client.session_id in self.sessions:
            events.append(
                self._event(client.session_id, "attached", timestamp, {"client": client.name})
            )
        return events

    def client_detached(self, name: str, timestamp: str) -> list[Lifecycle]:
        """``%client-detached``: ``detached`` if it was a human client on a live session (and
        the session's windows as they are, like :meth:`client_session_changed`)."""
        old = self.clients.pop(name, None)
        if old is None or not self._human(old) or old.session_id not in self.sessions:
            return []
        self._layout(old.session_id, timestamp)
        return [self._event(old.session_id, "detached", timestamp, {"client": name})]

    # -- windows --

    def window_links(
        self, window_id: str, links: Sequence[WindowInfo], timestamp: str
    ) -> list[Lifecycle]:
        """The current links of one window (from ``list-windows -f``), after an add or close.

        New links of known sessions are ``window_added``; links that disappeared are
        ``window_closed``; a changed name is ``window_renamed``. The sessions' windows follow
        as a :class:`SessionLayout` when more than their geometry changed.
        """
        current = {
            link.session_id: link.name
            for link in links
            if link.window_id == window_id and link.session_id in self.sessions
        }
        old = self.windows.get(window_id, {})
        events = self._diff_links(window_id, old, current, timestamp, self.sessions)
        if current:
            self.windows[window_id] = current
        else:
            self.windows.pop(window_id, None)
        touched = set(old) | set(current)
        for link in links:
            if link.window_id == window_id and link.session_id in current:
                windows = self.shapes.setdefault(link.session_id, {})
                shape = _merged(link.shape, windows.get(window_id))
                if shape is None:
                    continue
                windows[window_id] = msgspec.structs.replace(shape, name=link.name)
                if shape.active:
                    # A new current window is announced before the window itself
                    # (%session-window-changed, then %window-add): the others are not current.
                    for wid, other in windows.items():
                        if other.active and wid != window_id:
                            windows[wid] = msgspec.structs.replace(other, active=False)
        for sid in old:
            if sid not in current and sid in self.shapes:
                self.shapes[sid].pop(window_id, None)
        for sid in sorted(touched, key=_id_number):
            if sid in self.sessions:
                self._layout(sid, timestamp, changed_only=True)
        return events

    def window_renamed(self, window_id: str, name: str, timestamp: str) -> list[Lifecycle]:
        """``%(unlinked-)window-renamed``: ``window_renamed`` for each session linking it."""
        links = self.windows.get(window_id)
        if not links:
            return []
        events: list[Lifecycle] = []
        for sid in sorted(links, key=_id_number):
            if links[sid] != name and sid in self.sessions:
                events.append(self._window_event(sid, "window_renamed", window_id, name, timestamp))
                shape = self.shapes.get(sid, {}).get(window_id)
                if shape is not None:
                    self.shapes[sid][window_id] = msgspec.structs.replace(shape, name=name)
                    self._layout(sid, timestamp, changed_only=True)
            links[sid] = name
        return events

    def layout_changed(self, window_id: str, layout: str) -> bool:
        """``%layout-change``: the window's new layout (kept, sent with the next record).

        True when the layout holds other panes than the window had (a split, a pane closed):
        the caller lists the window again for its panes' directories.
        """
        panes_changed = False
        for sid in self.windows.get(window_id, {}):
            shape = self.shapes.get(sid, {}).get(window_id)
            if shape is None:
                continue
            if layout_pane_ids(layout) != tuple(p.id for p in shape.panes):
                panes_changed = True
            self.shapes[sid][window_id] = msgspec.structs.replace(shape, layout=layout)
        return panes_changed

    def session_window_changed(self, session_id: str, window_id: str) -> str | None:
        """``%session-window-changed``: the session's current window; returns the window that
        was current before (None when unknown), whose panes' directories are worth a look."""
        windows = self.shapes.get(session_id)
        if not windows or window_id not in windows:
            return None
        left = None
        for wid, shape in windows.items():
            if shape.active and wid != window_id:
                left = wid
            if shape.active != (wid == window_id):
                windows[wid] = msgspec.structs.replace(shape, active=wid == window_id)
        return left

    # -- internals --

    def _human(self, client: ClientInfo) -> bool:
        return not client.control and client.name != self.own_client

    def _remember_ended(self, server: str, sid: str) -> None:
        self._ended[(server, sid)] = None
        while len(self._ended) > _ENDED_MEMORY:
            del self._ended[next(iter(self._ended))]

    def _drop_session(self, sid: str) -> None:
        if self.server is not None:
            self._remember_ended(self.server, sid)
        self.sessions.pop(sid, None)
        self.shapes.pop(sid, None)
        self._recorded.pop(sid, None)
        for name in [n for n, c in self.clients.items() if c.session_id == sid]:
            del self.clients[name]
        for wid in list(self.windows):
            links = self.windows[wid]
            links.pop(sid, None)
            if not links:
                del self.windows[wid]

    def _layout(
        self, sid: str, timestamp: str, *, server: str | None = None, changed_only: bool = False
    ) -> None:
        """Queue the session's windows as a :class:`SessionLayout` (see :meth:`take_layouts`)
        if they differ from the last sent.

        ``changed_only``: only when more than the geometry changed (windows, order, names,
        panes, directories); a resize or another current window alone waits for the next
        record (a detach, the session's end, a window change), so a terminal being resized
        does not write to the database at every step. No windows (a session's last window
        just closed, its end follows) is never recorded: the last windows it had stay.
        """
        windows = self.shapes.get(sid)
        if not windows:
            return
        shapes = tuple(sorted(windows.values(), key=lambda w: (w.index, _id_number(w.window_id))))
        recorded = self._recorded.get(sid)
        if shapes == recorded:
            return
        if changed_only and recorded is not None and _structure(shapes) == _structure(recorded):
            return
        self._recorded[sid] = shapes
        key = server or self.server
        assert key is not None
        self._layouts.append(
            SessionLayout(server=key, tmux_id=sid, timestamp=timestamp, windows=shapes)
        )

    def _diff_links(
        self,
        window_id: str,
        old: dict[str, str],
        new: dict[str, str],
        timestamp: str,
        alive: Iterable[str],
    ) -> list[Lifecycle]:
        alive_set = set(alive)
        events = []
        for sid in sorted(set(old) | set(new), key=_id_number):
            if sid not in alive_set:
                continue
            if sid not in new:
                events.append(
                    self._window_event(sid, "window_closed", window_id, old[sid], timestamp)
                )
            elif sid not in old:
                events.append(
                    self._window_event(sid, "window_added", window_id, new[sid], timestamp)
                )
            elif old[sid] != new[sid]:
                events.append(
                    self._window_event(sid, "window_renamed", window_id, new[sid], timestamp)
                )
        return events

    def _window_event(
        self, sid: str, kind: LifecycleType, window_id: str, name: str, timestamp: str
    ) -> Lifecycle:
        return self._event(sid, kind, timestamp, {"window_id": window_id, "window_name": name})

    def _event(
        self,
        sid: str,
        kind: LifecycleType,
        timestamp: str,
        data: dict[str, Any] | None = None,
        *,
        status: StatusAfter | None = None,
    ) -> Lifecycle:
        info = self.sessions[sid]
        assert self.server is not None
        return Lifecycle(
            server=self.server,
            tmux_id=sid,
            event_type=kind,
            timestamp=timestamp,
            name=clean_text(info.name),
            status=status or self.status(sid),
            data=_clean_data(data) if data else {},
            created_at=_created_at(info.created),
            directory=clean_text(info.path) or None,
        )
