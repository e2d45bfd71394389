"""watch_server against a real private tmux server: every lifecycle scenario, end to end."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.tmux_server import TmuxServer, private_server
from watcher.capture.events import CaptureItem, KnownSession, Lifecycle, SessionLayout, socket_of
from watcher.capture.server_task import (
    ServerState,
    socket_mark,
    wait_for_socket_change,
    watch_server,
)

pytestmark = [pytest.mark.anyio, pytest.mark.tmux]


@pytest.fixture
def srv() -> Iterator[TmuxServer]:
    with private_server() as server:
        yield server


TIMEOUT = 15


class FakeStore:
    """What the writer would keep: the latest state per session, for ``known_alive``."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str], KnownSession] = {}
        self.events: list[Lifecycle] = []

    def apply(self, event: Lifecycle) -> None:
        self.events.append(event)
        self.sessions[(event.server, event.tmux_id)] = KnownSession(
            server=event.server, tmux_id=event.tmux_id, name=event.name, status=event.status
        )

    async def known_alive(self, socket_path: str) -> list[KnownSession]:
        return [
            k
            for k in self.sessions.values()
            if k.status != "ended" and socket_of(k.server) == socket_path
        ]


class Watching:
    """A running watch_server and the events it has sent so far."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.events: list[Lifecycle] = []
        self.layouts: list[SessionLayout] = []  # the window records, apart from the events
        self.states: list[ServerState] = []
        self.cursor = 0
        self.state_cursor = 0
        self._changed = anyio.Event()

    def _on_state(self, state: ServerState) -> None:
        self.states.append(state)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _consume(self, receive: anyio.abc.ObjectReceiveStream[CaptureItem]) -> None:
        async for event in receive:
            if isinstance(event, SessionLayout):
                self.layouts.append(event)
            else:
                self.store.apply(event)
                self.events.append(event)
            self._wake()

    async def expect(
        self, event_type: str | tuple[str, ...], timeout: float = TIMEOUT, **fields: object
    ) -> Lifecycle:
        """The next event (after the previous match) of that type whose fields/data match."""
        types = (event_type,) if isinstance(event_type, str) else event_type

        def matches(e: Lifecycle) -> bool:
            if e.event_type not in types:
                return False
            for key, value in fields.items():
                actual = getattr(e, key) if hasattr(e, key) else e.data.get(key)
                if actual != value:
                    return False
            return True

        with anyio.fail_after(timeout):
            while True:
                for index in range(self.cursor, len(self.events)):
                    if matches(self.events[index]):
                        self.cursor = index + 1
                        return self.events[index]
                await self._changed.wait()

    async def state(self, predicate: Callable[[ServerState], bool]) -> ServerState:
        """The next published state (after the previous match) that satisfies ``predicate``."""
        with anyio.fail_after(TIMEOUT):
            while True:
                for index in range(self.state_cursor, len(self.states)):
                    if predicate(self.states[index]):
                        self.state_cursor = index + 1
                        return self.states[index]
                await self._changed.wait()

    def since(self, index: int) -> list[Lifecycle]:
        return self.events[index:]


@contextlib.asynccontextmanager
async def watching(
    server: TmuxServer, store: FakeStore | None = None, **options: Any
) -> AsyncIterator[Watching]:
    w = Watching(store or FakeStore())
    send, receive = anyio.create_memory_object_stream[CaptureItem](100)
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            functools.partial(
                watch_server,
                server.socket_path,
                send=send,
                known_alive=w.store.known_alive,
                on_state=w._on_state,
                **options,
            )
        )
        tg.start_soon(w._consume, receive)
        try:
            yield w
        finally:
            tg.cancel_scope.cancel()


def assert_no_duplicates(events: list[Lifecycle]) -> None:
    """Each session is born once (created/discovered) and ends at most once."""
    born = Counter(
        (e.server, e.tmux_id) for e in events if e.event_type in ("created", "discovered")
    )
    ended = Counter((e.server, e.tmux_id) for e in events if e.status == "ended")
    assert all(n == 1 for n in born.values()), born
    assert all(n == 1 for n in ended.values()), ended


# --- scenarios -----------------------------------------------------------------------------------


async def test_full_lifecycle(srv: TmuxServer) -> None:
    a = await srv.new_session("alpha", "-c", "/tmp")
    async with watching(srv) as w:
        ev = await w.expect("discovered", tmux_id=a)
        assert (ev.name, ev.status, ev.directory) == ("alpha", "detached", "/tmp")
        state = await w.state(lambda s: s.connected)
        assert (
            state.session == a
            and state.server == ev.server
            and state.socket_path == srv.socket_path
        )
        key = ev.server

        b = await srv.new_session("beta")
        ev = await w.expect("created", tmux_id=b)
        assert (ev.name, ev.status, ev.server) == ("beta", "detached", key)
        assert ev.created_at is not None
        first_window = await w.expect("window_added", tmux_id=b)
        assert first_window.data["window_id"].startswith("@")

        await srv.run("rename-session", "-t", b, "beta two")
        ev = await w.expect("renamed", tmux_id=b)
        assert ev.data == {"old_name": "beta", "new_name": "beta two"} and ev.name == "beta two"

        pty = await srv.attach_pty(b)
        ev = await w.expect("attached", tmux_id=b, client=pty.name)
        assert ev.status == "attached"

        await srv.run("switch-client", "-c", pty.name, "-t", a)
        ev = await w.expect("detached", tmux_id=b, client=pty.name)
        assert ev.status == "detached"
        ev = await w.expect("attached", tmux_id=a, client=pty.name)
        assert ev.status == "attached"

        wid = await srv.new_window(b, "w1")
        ev = await w.expect("window_added", tmux_id=b, window_id=wid)
        assert ev.data["window_name"] == "w1"
        await srv.run("rename-window", "-t", wid, "w one")
        ev = await w.expect("window_renamed", tmux_id=b, window_id=wid)
        assert ev.data["window_name"] == "w one"
        await srv.run("kill-window", "-t", wid)
        ev = await w.expect("window_closed", tmux_id=b, window_id=wid)
        assert ev.data["window_name"] == "w one"

        await srv.run("detach-client", "-t", pty.name)
        ev = await w.expect("detached", tmux_id=a, client=pty.name)
        assert ev.status == "detached"

        # The watcher sits on alpha (lowest id, no humans anywhere): kill it under its feet.
        c = await srv.new_session("gamma")
        await w.expect("created", tmux_id=c)
        await srv.run("kill-session", "-t", a)
        ev = await w.expect(("killed", "vanished"), tmux_id=a)
        assert ev.status == "ended" and ev.server == key
        await w.state(lambda s: s.connected and s.session == b)

        # The other session is killed while the watcher is connected elsewhere.
        await srv.run("kill-session", "-t", c)
        ev = await w.expect("killed", tmux_id=c)
        assert ev.status == "ended"

        await srv.run("kill-server")
        ev = await w.expect(("killed", "vanished"), tmux_id=b)
        assert ev.status == "ended" and ev.server == key
        await w.state(lambda s: not s.connected)

        d = await srv.new_session("delta")
        ev = await w.expect(("created", "discovered"), tmux_id=d)
        assert ev.server != key and ev.name == "delta"
        assert d == "$0"  # a new server's $0: a new session under a new server key
        assert_no_duplicates(w.events)


async def test_watcher_started_before_any_server(srv: TmuxServer) -> None:
    async with watching(srv, fallback_interval=300) as w:
        await w.state(lambda s: not s.connected)
        # Only the socket folder watch can notice the server within the timeout.
        sid = await srv.new_session("first")
        ev = await w.expect(("created", "discovered"), tmux_id=sid)
        assert ev.name == "first"


async def test_hostile_names_recorded_exactly(srv: TmuxServer) -> None:
    from tests.capture.test_tmux_client import HOSTILE

    await srv.new_session("base")
    async with watching(srv) as w:
        await w.expect("discovered")
        created = {}
        for name in HOSTILE:
            if name == "#{session_id}":
                continue  # new-session -s expands formats; covered by rename below
            sid = await srv.new_session(name)
            created[sid] = await w.expect("created", tmux_id=sid)
        theirs = await srv.session_names()
        for sid, ev in created.items():
            assert ev.name == theirs[sid]
        by_name = {ev.name: ev for ev in created.values()}
        for plain in ("has space", "it's", 'dq"uote', "$(touch /tmp/ccw-pwned)", "semi;colon",
                      ";", "café ☃ 日本", "x" * 200, "{brace}", "%percent", "-dash"):  # fmt: skip
            assert plain in by_name, plain
        # Renames to hostile names arrive through %session-renamed.
        target = await srv.new_session("rename-me")
        await w.expect("created", tmux_id=target)
        current = "rename-me"
        for name in HOSTILE:
            await srv.run("rename-session", "-t", target, name, check=False)
            expected = (await srv.session_names())[target]
            if expected == current:
                continue  # tmux refused (duplicate name) or nothing changed
            ev = await w.expect("renamed", tmux_id=target, new_name=expected)
            assert ev.name == expected and ev.data["old_name"] == current
            current = expected
    assert not Path("/tmp/ccw-pwned").exists()


async def test_restart_reconciles_against_the_store(srv: TmuxServer) -> None:
    store = FakeStore()
    a = await srv.new_session("a")
    b = await srv.new_session("b")
    c = await srv.new_session("c")
    async with watching(srv, store) as w:
        await w.expect("discovered", tmux_id=a)
        await w.expect("discovered", tmux_id=b)
        await w.expect("discovered", tmux_id=c)
        pty = await srv.attach_pty(c)
        await w.expect("attached", tmux_id=c)
    # The watcher is gone; life goes on.
    await srv.run("kill-session", "-t", b)
    await srv.run("rename-session", "-t", c, "c2")
    pty.close()
    d = await srv.new_session("d")
    before = len(store.events)
    async with watching(srv, store) as w:
        await w.expect("vanished", tmux_id=b)
        await w.expect("renamed", tmux_id=c, new_name="c2", old_name="c")
        ev = await w.expect("detached", tmux_id=c)
        assert ev.status == "detached" and ev.data == {"client": None}
        await w.expect("discovered", tmux_id=d)
        await w.state(lambda s: s.connected)
        await srv.run("rename-session", "-t", d, "d2")  # a live event after the reconcile
        await w.expect("renamed", tmux_id=d)
        types = [(e.event_type, e.tmux_id) for e in store.events[before:]]
        assert ("discovered", a) not in types and ("discovered", c) not in types
    assert_no_duplicates(store.events)


async def test_users_attach_d_kicks_the_watcher_which_reconnects(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    async with watching(srv) as w:
        await w.expect("discovered", tmux_id=a)
        await w.state(lambda s: s.connected)
        start = len(w.events)
        pty = await srv.attach_pty(a, detach_others=True)
        await w.expect("attached", tmux_id=a, client=pty.name)
        await w.state(lambda s: not s.connected)
        await w.state(lambda s: s.connected)
        # Reconnecting found nothing new: exactly one event (the attach), no vanish/discover.
        await srv.run("rename-session", "-t", a, "a2")
        await w.expect("renamed", tmux_id=a)
        assert [e.event_type for e in w.since(start)] == ["attached", "renamed"]
        assert w.events[-1].status == "attached"


async def test_control_clients_are_not_attaches(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    b = await srv.new_session("b")
    async with watching(srv) as w:
        await w.expect("discovered", tmux_id=b)
        other = subprocess.Popen(
            srv.argv("-C", "attach-session", "-t", b),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            start = len(w.events)
            pty = await srv.attach_pty(b)
            ev = await w.expect("attached", tmux_id=b)
            assert ev.data == {"client": pty.name}
            assert [e.event_type for e in w.since(start)] == ["attached"]
        finally:
            assert other.stdin is not None
            other.stdin.close()
            other.wait(timeout=5)
        await srv.run("rename-session", "-t", a, "a2")
        await w.expect("renamed", tmux_id=a)
        assert [e.event_type for e in w.since(start)] == ["attached", "renamed"]
        ev = w.events[-1]
        assert ev.status == "detached"  # a only has the watcher (a control client)


async def test_watcher_prefers_a_session_with_a_human(srv: TmuxServer) -> None:
    await srv.new_session("a")
    b = await srv.new_session("b")
    await srv.attach_pty(b)
    async with watching(srv) as w:
        state = await w.state(lambda s: s.connected)
        assert state.session == b
        ev = await w.expect("discovered", tmux_id=b)
        assert ev.status == "attached"


async def test_wait_for_socket_change_times_out_and_wakes(tmp_path: Path) -> None:
    sock = tmp_path / "missing-dir" / "sock"
    assert await wait_for_socket_change(str(sock), 0.2) is False

    async def touch() -> None:
        await anyio.sleep(0.3)
        (tmp_path / "missing-dir").mkdir()

    async with anyio.create_task_group() as tg:
        tg.start_soon(touch)
        with anyio.fail_after(TIMEOUT):
            assert await wait_for_socket_change(str(sock), 60) is True


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket's path has at most 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="cw-") as folder:
        yield Path(folder)


async def test_a_server_that_started_before_the_watch_was_armed_is_seen_at_once(
    short_dir: Path,
) -> None:
    # The server task takes the socket's mark, looks for a server (none), then waits: a server
    # that binds its socket in between changes nothing after the watch is armed.
    sock = short_dir / "sock"
    before = socket_mark(str(sock))
    assert before is None
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
        with anyio.fail_after(5):  # not the 60 s timeout
            assert await wait_for_socket_change(str(sock), 60, since=before) is True


async def test_a_stale_socket_does_not_wake_the_wait(short_dir: Path) -> None:
    # A dead server's socket file stays behind: same mark, so the wait sleeps (no spinning).
    sock = short_dir / "sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
    before = socket_mark(str(sock))
    assert before is not None
    assert await wait_for_socket_change(str(sock), 0.3, since=before) is False
    # A new server replaces the file (tmux unlinks a stale socket and binds anew).
    sock.unlink()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
        assert socket_mark(str(sock)) != before
        with anyio.fail_after(5):
            assert await wait_for_socket_change(str(sock), 60, since=before) is True


async def test_server_without_sessions_is_waited_for_without_polling(srv: TmuxServer) -> None:
    tmp = await srv.new_session("tmp")
    await srv.run("set-option", "-g", "exit-empty", "off")
    async with watching(srv, fallback_interval=300) as w:
        await w.expect("discovered", tmux_id=tmp)
        await srv.run("kill-session", "-t", tmp)
        await w.expect(("killed", "vanished"), tmux_id=tmp)
        await w.state(lambda s: not s.connected)
        assert (await srv.session_names()) == {}  # the server is up, with no sessions
        # Only the session-less control client can notice this within the timeout.
        sid = await srv.new_session("later")
        ev = await w.expect(("created", "discovered"), tmux_id=sid)
        assert ev.name == "later"
        await w.state(lambda s: s.connected and s.session == sid)


async def test_directory_with_newline_and_separator(srv: TmuxServer, tmp_path: Path) -> None:
    odd = tmp_path / "nl\ndir\x1fsep"
    odd.mkdir()
    await srv.new_session("base")
    async with watching(srv) as w:
        await w.expect("discovered")
        sid = await srv.new_session("odd", "-c", str(odd))
        ev = await w.expect("created", tmux_id=sid)
        # Newlines come back as the two characters backslash-n (reference §2.6).
        assert ev.directory == str(odd).replace("\n", "\\n")
        assert ev.name == "odd"


async def test_a_hook_that_kicks_every_client_does_not_make_the_watcher_spin(
    srv: TmuxServer,
) -> None:
    a = await srv.new_session("a")
    await srv.run("set-hook", "-g", "client-session-changed", "detach-client -a")
    async with watching(srv) as w:
        await w.expect("discovered", tmux_id=a)
        with anyio.move_on_after(1.5):
            await w.state(lambda s: False)  # let it run for a while
        connects = sum(1 for s in w.states if s.connected)
        assert connects < 12, connects  # back-off, not a hot loop
    names = await srv.session_names()
    assert list(names.values()) == ["a"]


async def test_linked_window_in_two_sessions(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    b = await srv.new_session("b")
    async with watching(srv) as w:
        await w.expect("discovered", tmux_id=b)
        wid = await srv.new_window(b, "shared")
        await w.expect("window_added", tmux_id=b, window_id=wid)
        await srv.run("link-window", "-s", wid, "-t", f"{a}:5")
        ev = await w.expect("window_added", tmux_id=a, window_id=wid)
        assert ev.data["window_name"] == "shared"
        await srv.run("unlink-window", "-t", f"{a}:5")
        await w.expect("window_closed", tmux_id=a, window_id=wid)
        await srv.run("kill-window", "-t", wid)
        await w.expect("window_closed", tmux_id=b, window_id=wid)
        added = [e for e in w.events if e.event_type == "window_added"]
        assert len(added) == 2


def test_marks_skip_what_a_later_listing_already_shows() -> None:
    from watcher.capture import protocol as p
    from watcher.capture.follow import Marks

    marks = Marks()
    marks.session_ids, marks.names_all, marks.clients, marks.windows = 5, 3, 4, 2
    marks.names["$9"] = 8
    marks.window["@1"] = 6
    assert marks.reflects(p.SessionsChanged(), 4) and not marks.reflects(p.SessionsChanged(), 5)
    assert marks.reflects(p.SessionRenamed("$0", "x"), 2)
    assert not marks.reflects(p.SessionRenamed("$0", "x"), 3)
    assert marks.reflects(p.SessionRenamed("$9", "x"), 7)
    assert marks.reflects(p.ClientSessionChanged("/dev/pts/1", "$0", "x"), 3)
    assert not marks.reflects(p.ClientDetached("/dev/pts/1"), 4)
    assert marks.reflects(p.UnlinkedWindowAdd("@1"), 5)
    assert not marks.reflects(p.UnlinkedWindowAdd("@2"), 5)
    assert marks.reflects(p.WindowRenamed("@2", "n"), 1)
    assert not marks.reflects(p.Exit(None), 0)


async def test_server_crash_is_an_error_and_sessions_vanish(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    b = await srv.new_session("b")
    pid = int((await srv.run("display-message", "-p", "#{pid}")).strip())
    async with watching(srv) as w:
        await w.expect("discovered", tmux_id=b)
        await w.state(lambda s: s.connected)
        os.kill(pid, signal.SIGKILL)
        first = await w.expect(("vanished", "killed"), tmux_id=a)
        second = await w.expect(("vanished", "killed"), tmux_id=b)
        assert first.status == second.status == "ended"
        state = await w.state(lambda s: not s.connected and s.last_error is not None)
        assert "server exited unexpectedly" in (state.last_error or "")
        # The stale socket is "no server"; a new server on it is picked up.
        c = await srv.new_session("c")
        ev = await w.expect(("created", "discovered"), tmux_id=c)
        assert ev.server != first.server


async def test_interleaved_creates_and_kills_all_recorded(srv: TmuxServer) -> None:
    await srv.new_session("base")
    async with watching(srv) as w:
        await w.expect("discovered")
        ids = []
        for i in range(30):  # back to back, never waiting for the watcher
            ids.append(await srv.new_session(f"churn{i}"))
            if i % 3 == 2:
                await srv.run("kill-session", "-t", ids[i - 1])
            if i % 5 == 4:
                await srv.run("rename-session", "-t", ids[i], f"renamed{i}")
        await srv.run("kill-session", "-t", ids[-1])
        alive = await srv.session_names()
        for sid in ids:
            # Every session is born (it lived for at least one tmux command)...
            await w.expect(("created", "discovered"), tmux_id=sid, timeout=TIMEOUT)
            w.cursor = 0
        for sid in ids:
            if sid not in alive:  # ...and every killed one ends.
                ev = await w.expect(("killed", "vanished"), tmux_id=sid)
                assert ev.status == "ended"
                w.cursor = 0
        for sid, name in alive.items():
            last = [e for e in w.events if e.tmux_id == sid][-1]
            assert last.name == name and last.status == "detached"
        assert_no_duplicates(w.events)
