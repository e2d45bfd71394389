"""The follow loop's decisions, without I/O: what a notification means and what to list first.

:class:`Follower` wraps the tracker for one connection. :meth:`Follower.handle` turns one
notification into steps, the way h11 says what it needs next: it yields :class:`Emit` (events
for the writer) or a listing request (:class:`ListSessionIds`, :class:`ShowSession`,
:class:`LookupWindow`, :class:`ListClients`), and the follow loop (:mod:`.server_task`) runs
each request and sends its answer back in. The notification marks (:class:`Marks`) live here
too, so which listing is due and which notification a listing already covers are decided in one
place.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import msgspec

from watcher.capture.events import Lifecycle
from watcher.capture.protocol import (
    ClientDetached,
    ClientSessionChanged,
    LayoutChange,
    Notification,
    SessionRenamed,
    SessionsChanged,
    SessionWindowChanged,
    UnlinkedWindowAdd,
    UnlinkedWindowClose,
    UnlinkedWindowRenamed,
    WindowAdd,
    WindowClose,
    WindowPaneChanged,
    WindowRenamed,
)
from watcher.capture.tracker import ClientInfo, SessionInfo, SessionTracker

MAX_LEARNED = 64  # more unexplained creations than this means the pattern broke: list


class Emit(msgspec.Struct, frozen=True):
    """Send these events (and window records) to the writer now (answer: None)."""

    events: list[Lifecycle]


class ListSessionIds(msgspec.Struct, frozen=True):
    """Answer: ``(session ids, mark)`` (``ControlClient.list_session_ids_marked``)."""


class ShowSession(msgspec.Struct, frozen=True):
    """Answer: ``(SessionInfo or None, mark)`` (``ControlClient.session_marked``)."""

    session_id: str


class LookupWindow(msgspec.Struct, frozen=True):
    """Answer: ``(links, SessionInfo or None, mark)`` (``ControlClient.window_lookup_marked``)."""

    window_id: str


class ListClients(msgspec.Struct, frozen=True):
    """Answer: ``list[ClientInfo]`` (``ControlClient.list_clients``)."""


Step = Emit | ListSessionIds | ShowSession | LookupWindow | ListClients
Steps = Generator[Step, Any, None]


class Follower:
    """One connection's decisions: the tracker, the marks and the clock."""

    def __init__(self, tracker: SessionTracker, clock: Callable[[], str]) -> None:
        self.tracker = tracker
        self.marks = Marks()
        self._now = clock

    def snapshot_taken(self, *, sessions: int, clients: int, windows: int) -> None:
        """The snapshot's listings and their marks (everything before them is reflected)."""
        self.marks.session_ids = self.marks.names_all = sessions
        self.marks.clients = clients
        self.marks.windows = windows

    def covered(self, note: Notification, index: int) -> bool:
        """True when a later listing already showed ``note``'s effect: skip it.

        (And a burst of %sessions-changed costs one listing, not one each.)
        """
        return self.marks.reflects(note, index)

    def handle(self, note: Notification) -> Steps:
        """The steps one notification takes (see the module docstring)."""
        tracker = self.tracker
        marks = self.marks
        match note:
            case SessionsChanged():
                if 0 < marks.learned <= MAX_LEARNED:
                    # This is the %sessions-changed of a session already learned from its
                    # first window (see Marks.learned): nothing else to list.
                    marks.learned -= 1
                else:
                    yield from self._refresh_sessions()
            case SessionRenamed(session_id=sid, name=name):
                if tracker.knows_session(sid):
                    yield Emit(tracker.session_renamed(sid, name, self._now()))
                else:
                    yield from self._refresh_sessions()
            case ClientSessionChanged(client=name, session_id=sid):
                if name == tracker.own_client:
                    return
                if not tracker.knows_session(sid):
                    yield from self._refresh_sessions()
                known = tracker.clients.get(name)
                if known is not None:
                    control = known.control
                else:
                    clients: list[ClientInfo] = yield ListClients()
                    control = _is_control(name, clients)
                info = ClientInfo(name=name, session_id=sid, control=control)
                yield Emit(tracker.client_session_changed(info, self._now()))
            case ClientDetached(client=name):
                yield Emit(tracker.client_detached(name, self._now()))
            case WindowAdd(window_id=wid) | UnlinkedWindowAdd(window_id=wid):
                yield from self._relink_window(wid)
            case WindowClose(window_id=wid) | UnlinkedWindowClose(window_id=wid):
                if tracker.knows_window(wid):
                    yield from self._relink_window(wid)
            case (
                WindowRenamed(window_id=wid, name=name)
                | UnlinkedWindowRenamed(window_id=wid, name=name)
            ):
                yield Emit(tracker.window_renamed(wid, name, self._now()))
            # The rest keeps what a revive needs up to date (tracker.shapes). %layout-change
            # comes only for the watcher's own session, %window-pane-changed for any window.
            case LayoutChange(window_id=wid, layout=layout):
                if tracker.layout_changed(wid, layout):
                    yield from self._relink_window(wid)  # a split or a closed pane
            case WindowPaneChanged(window_id=wid):
                if tracker.knows_window(wid):
                    yield from self._relink_window(wid)
            case SessionWindowChanged(session_id=sid, window_id=wid):
                left = tracker.session_window_changed(sid, wid)
                if left is not None and tracker.knows_window(left):
                    # The window someone just left: its panes' directories as they left them.
                    yield from self._relink_window(left)
            case _:
                pass

    def _refresh_sessions(self) -> Steps:
        # Ids only, then details of the new ones: formatting every session's fields on every
        # %sessions-changed would cost tmux O(sessions) work per event on a big server.
        ids: list[str]
        ids, self.marks.session_ids = yield ListSessionIds()
        self.marks.learned = 0  # the listing settles everything delivered before it
        new = []
        for sid in ids:
            if not self.tracker.knows_session(sid):
                info: SessionInfo | None
                info, self.marks.names[sid] = yield ShowSession(sid)
                if info is not None:
                    new.append(info)
        yield Emit(self.tracker.sessions_present(ids, new, self._now()))

    def _relink_window(self, window_id: str) -> Steps:
        tracker, marks = self.tracker, self.marks
        links, session, marks.window[window_id] = yield LookupWindow(window_id)
        if session is not None and not tracker.knows_session(session.session_id):
            marks.names[session.session_id] = marks.window[window_id]
            marks.learned += 1
            yield Emit(tracker.session_seen(session, self._now()))
        if any(not tracker.knows_session(link.session_id) for link in links):
            yield from self._refresh_sessions()
        yield Emit(tracker.window_links(window_id, links, self._now()))


def _is_control(name: str, clients: list[ClientInfo]) -> bool:
    for info in clients:
        if info.name == name:
            return info.control
    # Gone already: control clients without a tty are named client-<pid>, tty clients
    # by their tty path.
    return not name.startswith("/")


class Marks:
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
                | LayoutChange(window_id=wid)
                | WindowPaneChanged(window_id=wid)
            ):
                return index < max(self.windows, self.window.get(wid, 0))
            case SessionWindowChanged():
                return index < self.windows
            case _:
                return False
