"""The session tracker: every derivation, as tables of (state, input) -> events."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.capture.events import KnownSession, Lifecycle
from watcher.capture.tracker import (
    ClientInfo,
    SessionInfo,
    SessionTracker,
    Snapshot,
    WindowInfo,
    clean_text,
)

SOCK = "/tmp/tmux-1000/default"
K1 = f"{SOCK}#100@1000"
K2 = f"{SOCK}#200@2000"
TS = "2026-11-26T12:00:00.000000Z"
OWN = "client-9"


def sess(sid: str, name: str, created: int = 1795690000, path: str = "/tmp") -> SessionInfo:
    return SessionInfo(session_id=sid, name=name, created=created, path=path)


def human(name: str, sid: str) -> ClientInfo:
    return ClientInfo(name=name, session_id=sid, control=False)


def control(name: str, sid: str) -> ClientInfo:
    return ClientInfo(name=name, session_id=sid, control=True)


def snap(
    *sessions: SessionInfo,
    clients: tuple[ClientInfo, ...] = (),
    windows: tuple[WindowInfo, ...] = (),
    server: str = K1,
) -> Snapshot:
    return Snapshot(
        server=server,
        own_client=OWN,
        sessions=sessions,
        clients=(control(OWN, sessions[0].session_id), *clients) if sessions else clients,
        windows=windows,
    )


def brief(events: list[Lifecycle]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    return [(e.event_type, e.tmux_id, e.name, e.status, e.data) for e in events]


def connected(*sessions: SessionInfo, **kw) -> SessionTracker:
    tracker = SessionTracker(SOCK)
    tracker.reconcile(snap(*sessions, **kw), [], TS)
    return tracker


# --- reconcile -----------------------------------------------------------------------------------


def test_first_connect_discovers_everything_with_status_and_metadata() -> None:
    tracker = SessionTracker(SOCK)
    events = tracker.reconcile(
        snap(sess("$0", "a"), sess("$1", "b", path="/w"), clients=(human("/dev/pts/1", "$1"),)),
        [],
        TS,
    )
    assert brief(events) == [
        ("discovered", "$0", "a", "detached", {}),
        ("discovered", "$1", "b", "attached", {}),
    ]
    assert events[1].server == K1 and events[1].directory == "/w"
    assert events[1].created_at == "2026-11-26T10:46:40.000000Z"
    assert events[0].timestamp == TS


def test_sessions_that_appeared_while_the_socket_was_watched_are_created() -> None:
    # The caller saw no session on this socket since `appeared_since`: what is there now
    # appeared under its eyes (a server's first session), so it is created, with its windows;
    # an older session (a server the probe could not reach) is only discovered.
    tracker = SessionTracker(SOCK)
    events = tracker.reconcile(
        snap(
            sess("$0", "old", created=1795689000),
            sess("$1", "first", created=1795690000),
            windows=(W("$0", "@0", "sh"), W("$1", "@2", "b"), W("$1", "@1", "a")),
        ),
        [],
        TS,
        appeared_since=1795690000,
    )
    assert brief(events) == [
        ("discovered", "$0", "old", "detached", {}),
        ("created", "$1", "first", "detached", {}),
        ("window_added", "$1", "first", "detached", {"window_id": "@1", "window_name": "a"}),
        ("window_added", "$1", "first", "detached", {"window_id": "@2", "window_name": "b"}),
    ]
    # Nothing is reported again by the next window notification.
    assert tracker.window_links("@1", [W("$1", "@1", "a")], TS) == []


def test_reconcile_against_store_only() -> None:
    tracker = SessionTracker(SOCK)
    known = [
        KnownSession(server=K1, tmux_id="$0", name="a", status="attached"),
        KnownSession(server=K1, tmux_id="$1", name="old", status="detached"),
        KnownSession(server=K1, tmux_id="$2", name="gone", status="detached"),
        KnownSession(server=K2, tmux_id="$0", name="older server", status="detached"),
        KnownSession(server="/other/sock#1@1", tmux_id="$0", name="x", status="attached"),
        KnownSession(server=K1, tmux_id="$9", name="ended", status="ended"),
    ]
    events = tracker.reconcile(
        snap(sess("$0", "a"), sess("$1", "new"), sess("$3", "fresh"),
             clients=(human("/dev/pts/4", "$1"),)),
        known,
        TS,
    )  # fmt: skip
    assert brief(events) == [
        ("vanished", "$2", "gone", "ended", {}),
        ("vanished", "$0", "older server", "ended", {"reason": "server gone"}),
        ("renamed", "$1", "new", "detached", {"old_name": "old", "new_name": "new"}),
        ("detached", "$0", "a", "detached", {"client": None}),
        ("attached", "$1", "new", "attached", {"client": "/dev/pts/4"}),
        ("discovered", "$3", "fresh", "detached", {}),
    ]
    assert events[1].server == K2


def test_new_server_on_same_socket_vanishes_everything_of_the_old_one() -> None:
    tracker = connected(sess("$0", "alpha"), sess("$1", "beta"))
    events = tracker.reconcile(snap(sess("$0", "gamma"), server=K2), [], TS)
    assert brief(events) == [
        ("vanished", "$0", "alpha", "ended", {"reason": "server gone"}),
        ("vanished", "$1", "beta", "ended", {"reason": "server gone"}),
        ("discovered", "$0", "gamma", "detached", {}),
    ]
    assert [e.server for e in events] == [K1, K1, K2]


def test_no_server_vanishes_everything_and_can_say_killed() -> None:
    tracker = connected(sess("$0", "a"))
    known = [KnownSession(server=K1, tmux_id="$5", name="store only", status="detached")]
    events = tracker.reconcile(None, known, TS, missing_as="killed")
    assert brief(events) == [
        ("killed", "$0", "a", "ended", {"reason": "server gone"}),
        ("killed", "$5", "store only", "ended", {"reason": "server gone"}),
    ]
    assert tracker.server is None


def test_nothing_is_reported_twice_across_reconnects() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"))
    stale_store = [
        KnownSession(server=K1, tmux_id="$0", name="a", status="detached"),
        KnownSession(server=K1, tmux_id="$1", name="b", status="detached"),
    ]
    first = tracker.reconcile(snap(sess("$1", "b")), stale_store, TS)
    assert brief(first) == [("vanished", "$0", "a", "ended", {})]
    # The store has not caught up yet: $0 still looks alive there. No second report.
    assert tracker.reconcile(snap(sess("$1", "b")), stale_store, TS) == []
    gone = tracker.reconcile(None, stale_store, TS)
    assert [(e.event_type, e.tmux_id) for e in gone] == [("vanished", "$1")]
    assert tracker.reconcile(None, stale_store, TS) == []


def test_server_gone_twice_reports_once() -> None:
    tracker = connected(sess("$0", "a"))
    assert len(tracker.reconcile(None, [], TS)) == 1
    known = [KnownSession(server=K1, tmux_id="$0", name="a", status="detached")]
    assert tracker.reconcile(None, known, TS) == []


def test_same_server_reconnect_diffs_clients_and_windows() -> None:
    w = WindowInfo
    tracker = connected(
        sess("$0", "a"),
        sess("$1", "b"),
        clients=(human("/dev/pts/1", "$0"), human("/dev/pts/2", "$1"), control("client-5", "$1")),
        windows=(w(session_id="$0", window_id="@0", name="sh"),
                 w(session_id="$1", window_id="@1", name="sh"),
                 w(session_id="$1", window_id="@2", name="x")),
    )  # fmt: skip
    events = tracker.reconcile(
        snap(
            sess("$0", "a"),
            sess("$1", "b"),
            clients=(human("/dev/pts/1", "$1"), human("/dev/pts/3", "$0")),
            windows=(w(session_id="$0", window_id="@0", name="sh"),
                     w(session_id="$1", window_id="@1", name="renamed"),
                     w(session_id="$1", window_id="@3", name="new")),
        ),
        [],
        TS,
    )  # fmt: skip
    assert brief(events) == [
        ("detached", "$1", "b", "detached", {"client": "/dev/pts/2"}),
        ("detached", "$0", "a", "detached", {"client": "/dev/pts/1"}),
        ("attached", "$1", "b", "attached", {"client": "/dev/pts/1"}),
        ("attached", "$0", "a", "attached", {"client": "/dev/pts/3"}),
        ("window_renamed", "$1", "b", "attached", {"window_id": "@1", "window_name": "renamed"}),
        ("window_closed", "$1", "b", "attached", {"window_id": "@2", "window_name": "x"}),
        ("window_added", "$1", "b", "attached", {"window_id": "@3", "window_name": "new"}),
    ]


# --- sessions ------------------------------------------------------------------------------------


def listed(tracker: SessionTracker, sessions: list[SessionInfo]) -> list[Lifecycle]:
    """What the follow loop feeds the tracker after ``%sessions-changed``: ids plus new details."""
    new = [s for s in sessions if not tracker.knows_session(s.session_id)]
    return tracker.sessions_present([s.session_id for s in sessions], new, TS)


def test_sessions_listed_created_killed_renamed() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"), clients=(human("/dev/pts/1", "$1"),))
    events = listed(tracker, [sess("$0", "a"), sess("$2", "c d")])
    events += tracker.session_renamed("$0", "a2", TS)
    assert brief(events) == [
        ("killed", "$1", "b", "ended", {}),
        ("created", "$2", "c d", "detached", {}),
        ("renamed", "$0", "a2", "detached", {"old_name": "a", "new_name": "a2"}),
    ]
    assert "/dev/pts/1" not in tracker.clients  # the killed session's clients are forgotten
    assert tracker.client_detached("/dev/pts/1", TS) == []
    assert listed(tracker, [sess("$0", "a2"), sess("$2", "c d")]) == []


def test_killed_session_listed_again_is_not_recreated() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"))
    listed(tracker, [sess("$0", "a")])
    assert listed(tracker, [sess("$0", "a"), sess("$1", "b")]) == []


@pytest.mark.parametrize(
    ("sid", "name", "expected"),
    [
        ("$0", "new name", [("renamed", "$0", "new name", "detached",
                             {"old_name": "a", "new_name": "new name"})]),
        ("$0", "a", []),
        ("$7", "unknown", []),
    ],
)  # fmt: skip
def test_session_renamed(sid: str, name: str, expected: list[Any]) -> None:
    tracker = connected(sess("$0", "a"))
    assert brief(tracker.session_renamed(sid, name, TS)) == expected


# --- clients -------------------------------------------------------------------------------------


def test_attach_switch_detach() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"))
    c = "/dev/pts/3"
    assert brief(tracker.client_session_changed(human(c, "$1"), TS)) == [
        ("attached", "$1", "b", "attached", {"client": c})
    ]
    assert tracker.client_session_changed(human(c, "$1"), TS) == []  # repeated: nothing
    assert brief(tracker.client_session_changed(human(c, "$0"), TS)) == [
        ("detached", "$1", "b", "detached", {"client": c}),
        ("attached", "$0", "a", "attached", {"client": c}),
    ]
    assert brief(tracker.client_detached(c, TS)) == [
        ("detached", "$0", "a", "detached", {"client": c})
    ]
    assert tracker.client_detached(c, TS) == []


def test_two_humans_on_one_session_status_follows_the_last() -> None:
    tracker = connected(sess("$0", "a"))
    tracker.client_session_changed(human("/dev/pts/1", "$0"), TS)
    tracker.client_session_changed(human("/dev/pts/2", "$0"), TS)
    assert brief(tracker.client_detached("/dev/pts/1", TS))[0][3] == "attached"
    assert brief(tracker.client_detached("/dev/pts/2", TS))[0][3] == "detached"


@pytest.mark.parametrize(
    "client",
    [control("client-77", "$0"), control(OWN, "$1"), ClientInfo(name=OWN, session_id="$1")],
)
def test_own_and_control_clients_never_attach(client: ClientInfo) -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"))
    assert tracker.client_session_changed(client, TS) == []
    assert tracker.status("$0") == "detached" and tracker.status("$1") == "detached"
    assert tracker.client_detached(client.name, TS) == []


def test_watchers_own_session_is_detached_without_humans() -> None:
    tracker = connected(sess("$0", "a"))  # OWN is a control client on $0
    assert tracker.status("$0") == "detached"
    assert tracker.status("$9") == "ended"


def test_client_on_unknown_session_is_remembered_without_event() -> None:
    tracker = connected(sess("$0", "a"))
    assert tracker.client_session_changed(human("/dev/pts/1", "$5"), TS) == []
    events = listed(tracker, [sess("$0", "a"), sess("$5", "late")])
    assert brief(events) == [("created", "$5", "late", "attached", {})]


# --- windows -------------------------------------------------------------------------------------


def W(sid: str, wid: str, name: str) -> WindowInfo:
    return WindowInfo(session_id=sid, window_id=wid, name=name)


def test_window_added_closed_renamed() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"), windows=(W("$0", "@0", "sh"),))
    assert brief(tracker.window_links("@5", [W("$1", "@5", "w")], TS)) == [
        ("window_added", "$1", "b", "detached", {"window_id": "@5", "window_name": "w"})
    ]
    assert tracker.window_links("@5", [W("$1", "@5", "w")], TS) == []  # again: nothing
    assert brief(tracker.window_renamed("@5", "w2", TS)) == [
        ("window_renamed", "$1", "b", "detached", {"window_id": "@5", "window_name": "w2"})
    ]
    assert tracker.window_renamed("@5", "w2", TS) == []
    assert tracker.window_renamed("@99", "x", TS) == []
    # Close arrives after the window is unlinked: the lookup finds no link any more.
    assert brief(tracker.window_links("@5", [], TS)) == [
        ("window_closed", "$1", "b", "detached", {"window_id": "@5", "window_name": "w2"})
    ]
    assert not tracker.knows_window("@5")


def test_linked_window_in_two_sessions() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"), windows=(W("$1", "@3", "x"),))
    events = tracker.window_links("@3", [W("$0", "@3", "x"), W("$1", "@3", "x")], TS)
    assert brief(events) == [
        ("window_added", "$0", "a", "detached", {"window_id": "@3", "window_name": "x"})
    ]
    events = tracker.window_links("@3", [W("$1", "@3", "x")], TS)  # unlink-window from $0
    assert brief(events) == [
        ("window_closed", "$0", "a", "detached", {"window_id": "@3", "window_name": "x"})
    ]
    assert brief(tracker.window_renamed("@3", "y", TS)) == [
        ("window_renamed", "$1", "b", "detached", {"window_id": "@3", "window_name": "y"})
    ]


def test_windows_of_killed_session_close_silently() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"), windows=(W("$1", "@1", "sh"),))
    listed(tracker, [sess("$0", "a")])
    assert not tracker.knows_window("@1")
    assert tracker.window_links("@1", [], TS) == []


def test_window_links_of_unknown_sessions_are_ignored() -> None:
    tracker = connected(sess("$0", "a"))
    assert tracker.window_links("@4", [W("$9", "@4", "x")], TS) == []


def test_undecodable_bytes_are_stored_as_backslash_escapes() -> None:
    bad = b"/tmp/bad\xffdir".decode("utf-8", "surrogateescape")
    tracker = SessionTracker(SOCK)
    (event,) = tracker.reconcile(snap(sess("$0", "n\\377x", path=bad)), [], TS)
    assert event.directory == "/tmp/bad\\xffdir"
    assert event.name == "n\\377x"  # tmux's own vis encoding, kept as is
    event.directory.encode("utf-8")  # storable
    tracker.session_seen(sess("$1", bad), TS)
    assert clean_text("plain é") == "plain é"


def test_sessions_present_ids_plus_new_details() -> None:
    tracker = connected(sess("$0", "a"), sess("$1", "b"))
    events = tracker.sessions_present(["$0", "$2", "$3"], [sess("$2", "c"), sess("$7", "x")], TS)
    # $3 is listed but its details were not found (gone already): nothing for it;
    # $7 has details but is not in the listing: ignored.
    assert brief(events) == [
        ("killed", "$1", "b", "ended", {}),
        ("created", "$2", "c", "detached", {}),
    ]
    assert tracker.sessions_present(["$0", "$2"], [sess("$2", "c")], TS) == []
    assert tracker.sessions_present(["$0", "$1", "$2"], [sess("$1", "b")], TS) == []


# --- property: the store's view always matches the world ----------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["create", "kill", "rename", "attach", "attach_ctl", "detach", "reconnect", "restart"]
        ),
        st.integers(0, 5),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_OPS)
def test_events_keep_the_store_in_step_with_tmux(ops: list[tuple[str, int, int]]) -> None:
    world: dict[str, str] = {}  # session id -> name
    clients: dict[str, tuple[str, bool]] = {}  # client -> (session id, control)
    server_no = 0
    next_id = 0
    server = f"{SOCK}#1@{server_no}"
    store: dict[tuple[str, str], KnownSession] = {}
    born: Counter[tuple[str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    tracker = SessionTracker(SOCK)

    def snapshot() -> Snapshot:
        return Snapshot(
            server=server,
            own_client=OWN,
            sessions=tuple(sess(sid, name) for sid, name in world.items()),
            clients=tuple(
                ClientInfo(name=c, session_id=sid, control=ctl) for c, (sid, ctl) in clients.items()
            ),
        )

    def apply(events: list[Lifecycle]) -> None:
        for e in events:
            key = (e.server, e.tmux_id)
            if e.event_type in ("created", "discovered"):
                born[key] += 1
            if e.status == "ended":
                ended[key] += 1
            store[key] = KnownSession(
                server=e.server, tmux_id=e.tmux_id, name=e.name, status=e.status
            )

    apply(tracker.reconcile(snapshot(), [], TS))
    for op, a, b in ops:
        sids = sorted(world, key=lambda s: int(s[1:]))
        target = sids[a % len(sids)] if sids else None
        client = f"/dev/pts/{b}"
        if op == "create":
            sid = f"${next_id}"
            next_id += 1
            world[sid] = f"n{a}"
            apply(tracker.sessions_present(list(world), [sess(sid, world[sid])], TS))
        elif op == "kill" and target:
            del world[target]
            for c in [c for c, (s, _) in clients.items() if s == target]:
                del clients[c]
            apply(tracker.sessions_present(list(world), [], TS))
        elif op == "rename" and target:
            world[target] = f"r{b}"
            apply(tracker.session_renamed(target, world[target], TS))
        elif op in ("attach", "attach_ctl") and target:
            control = op == "attach_ctl" or clients.get(client, ("", False))[1]
            clients[client] = (target, control)
            info = ClientInfo(name=client, session_id=target, control=control)
            apply(tracker.client_session_changed(info, TS))
        elif op == "detach" and client in clients:
            del clients[client]
            apply(tracker.client_detached(client, TS))
        elif op == "reconnect":
            known = [k for k in store.values() if k.status != "ended"]
            apply(tracker.reconcile(snapshot(), known, TS))
            assert tracker.reconcile(snapshot(), known, TS) == []  # idempotent
        elif op == "restart":
            server_no += 1
            server = f"{SOCK}#1@{server_no}"
            world.clear()
            clients.clear()
            next_id = 0
            known = [k for k in store.values() if k.status != "ended"]
            apply(tracker.reconcile(snapshot(), known, TS))

        # The store now says exactly what tmux says.
        alive = {key: k for key, k in store.items() if k.status != "ended"}
        assert set(alive) == {(server, sid) for sid in world}
        for sid, name in world.items():
            humans = any(s == sid and not ctl for s, ctl in clients.values())
            assert alive[(server, sid)].name == name
            assert alive[(server, sid)].status == ("attached" if humans else "detached")
        assert all(n == 1 for n in born.values())
        assert all(n <= 1 for n in ended.values())
