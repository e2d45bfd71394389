"""What the tracker records of a session's windows for `revive` (pure: no tmux, no database)."""

from __future__ import annotations

from tests.capture.test_tracker import SOCK, TS, connected, human, listed, sess
from watcher.capture.events import PaneShape, SessionLayout, WindowShape
from watcher.capture.tmux_replies import PANE_FIELD_SEP, PANE_SEP, SEP, parse_windows
from watcher.capture.tracker import SessionTracker, WindowInfo, layout_pane_ids

ONE = "b25d,80x24,0,0,1"
TWO = "020a,80x24,0,0{40x24,0,0,1,39x24,41,0,2}"
TWO_RESIZED = "0fa2,80x24,0,0{60x24,0,0,1,19x24,61,0,2}"
THREE = "c19e,80x24,0,0[80x12,0,0,1,80x11,0,13{40x11,0,13,2,39x11,41,13,3}]"


def shape(wid: str, index: int, name: str, layout: str, *paths: str, active: bool = False):
    ids = layout_pane_ids(layout)
    panes = tuple(PaneShape(pid, path) for pid, path in zip(ids, paths, strict=True))
    return WindowShape(
        window_id=wid, index=index, name=name, active=active, layout=layout, panes=panes
    )


def link(sid: str, s: WindowShape) -> WindowInfo:
    return WindowInfo(session_id=sid, window_id=s.window_id, name=s.name, shape=s)


def records(tracker: SessionTracker) -> list[tuple[str, list[tuple[int, str, str]]]]:
    """(session, [(index, name, pane paths joined)]) of each queued record."""
    return [
        (r.tmux_id, [(w.index, w.name, ",".join(p.path for p in w.panes)) for w in r.windows])
        for r in tracker.take_layouts()
    ]


def test_layout_pane_ids_are_the_leaves_in_order() -> None:
    assert layout_pane_ids(ONE) == ("%1",)
    assert layout_pane_ids(TWO) == ("%1", "%2")
    assert layout_pane_ids(THREE) == ("%1", "%2", "%3")
    assert layout_pane_ids("") == ()


def test_parse_windows_reads_the_shape_and_escaped_paths() -> None:
    panes = f"{PANE_SEP}%1{PANE_FIELD_SEP}/a b{PANE_SEP}%2{PANE_FIELD_SEP}/x\\ny?"
    line = SEP.join(["$0", "@1", "ed", "3", "1", "0", TWO, panes])
    (info,) = parse_windows([line])
    assert info.shape == WindowShape(
        window_id="@1",
        index=3,
        name="ed",
        active=True,
        automatic_rename=False,
        layout=TWO,
        panes=(PaneShape("%1", "/a b"), PaneShape("%2", "/x\\ny?")),
    )


def test_connect_records_every_session_once() -> None:
    a = shape("@0", 0, "main", ONE, "/p", active=True)
    tracker = connected(sess("$0", "s"), windows=(link("$0", a),))
    layouts = tracker.take_layouts()
    assert layouts == [
        SessionLayout(server=layouts[0].server, tmux_id="$0", timestamp=TS, windows=(a,))
    ]
    assert tracker.take_layouts() == []
    # A reconnect to the same server with nothing changed records nothing again.
    tracker.reconcile(tracker_snapshot(tracker, (link("$0", a),)), [], TS)
    assert tracker.take_layouts() == []


def tracker_snapshot(tracker: SessionTracker, windows: tuple[WindowInfo, ...]):
    from watcher.capture.tracker import Snapshot

    assert tracker.server is not None
    return Snapshot(
        server=tracker.server,
        own_client="client-9",
        sessions=tuple(tracker.sessions.values()),
        windows=windows,
    )


def test_window_changes_are_recorded_at_once_geometry_waits_for_the_end() -> None:
    a = shape("@0", 0, "main", ONE, "/p", active=True)
    tracker = connected(sess("$0", "s"), windows=(link("$0", a),))
    tracker.take_layouts()
    # A new window: recorded with it.
    b = shape("@1", 1, "ed", TWO, "/q", "/r")
    tracker.window_links("@1", [link("$0", b)], TS)
    assert records(tracker) == [("$0", [(0, "main", "/p"), (1, "ed", "/q,/r")])]
    # A manual rename: recorded.
    tracker.window_renamed("@1", "editor", TS)
    assert records(tracker) == [("$0", [(0, "main", "/p"), (1, "editor", "/q,/r")])]
    # A resize (same panes): kept, not written yet; the same panes need no listing.
    assert tracker.layout_changed("@1", TWO_RESIZED) is False
    assert tracker.session_window_changed("$0", "@1") == "@0"
    assert tracker.take_layouts() == []
    # A split shows in the layout: the window must be listed again for the new pane's path.
    assert tracker.layout_changed("@1", THREE) is True
    # The session ends: its last known windows go out, geometry and current window included.
    listed(tracker, [])
    (last,) = tracker.take_layouts()
    assert [w.layout for w in last.windows] == [ONE, THREE]
    assert [w.active for w in last.windows] == [False, True]


def test_a_last_window_closing_keeps_the_windows_the_session_had() -> None:
    a = shape("@0", 0, "main", ONE, "/p")
    b = shape("@1", 1, "ed", ONE, "/q")
    tracker = connected(sess("$0", "s"), windows=(link("$0", a), link("$0", b)))
    tracker.take_layouts()
    tracker.window_links("@0", [], TS)
    assert records(tracker) == [("$0", [(1, "ed", "/q")])]
    tracker.window_links("@1", [], TS)  # the last one: the session's end follows
    assert tracker.take_layouts() == []
    listed(tracker, [])
    assert tracker.take_layouts() == []  # nothing new: the record of one window stays


def test_a_pane_listed_before_its_process_runs_keeps_its_known_directory() -> None:
    a = shape("@0", 0, "main", TWO, "/p", "/q")
    tracker = connected(sess("$0", "s"), windows=(link("$0", a),))
    tracker.take_layouts()
    blank = shape("@0", 0, "main", TWO, "/p", "")
    tracker.window_links("@0", [link("$0", blank)], TS)
    assert tracker.take_layouts() == []
    assert tracker.shapes["$0"]["@0"].panes[1].path == "/q"


def test_a_new_current_window_clears_the_old_one() -> None:
    a = shape("@0", 0, "main", ONE, "/p", active=True)
    tracker = connected(sess("$0", "s"), windows=(link("$0", a),))
    # %session-window-changed for @1 comes before its %window-add: unknown yet.
    assert tracker.session_window_changed("$0", "@1") is None
    tracker.window_links("@1", [link("$0", shape("@1", 1, "ed", ONE, "/q", active=True))], TS)
    assert [w.active for w in tracker.shapes["$0"].values()] == [False, True]


def test_a_person_leaving_records_the_windows_as_they_left_them() -> None:
    a = shape("@0", 0, "main", TWO, "/p", "/q", active=True)
    tracker = connected(
        sess("$0", "s"), windows=(link("$0", a),), clients=(human("/dev/pts/1", "$0"),)
    )
    tracker.take_layouts()
    tracker.layout_changed("@0", TWO_RESIZED)
    assert tracker.take_layouts() == []
    tracker.client_detached("/dev/pts/1", TS)
    (record,) = tracker.take_layouts()
    assert record.windows[0].layout == TWO_RESIZED


def test_a_server_gone_records_what_its_sessions_had() -> None:
    a = shape("@0", 0, "main", ONE, "/p")
    tracker = connected(sess("$0", "s"), windows=(link("$0", a),))
    tracker.take_layouts()
    tracker.layout_changed("@0", "b25e,100x30,0,0,1")
    tracker.reconcile(None, [], TS)
    (record,) = tracker.take_layouts()
    assert record.windows[0].layout == "b25e,100x30,0,0,1"
    assert record.server.startswith(SOCK)
