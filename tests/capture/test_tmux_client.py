"""The tmux edge against a real private server: addresses, probe, control client, quoting."""

from __future__ import annotations

import ast
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.tmux_server import TmuxServer, private_server
from watcher.capture import protocol as p
from watcher.capture.tmux_address import control_env, quote_argument, socket_dir, socket_for_name
from watcher.capture.tmux_client import ControlClient, open_control_client
from watcher.capture.tmux_probe import probe_server, wait_for_sessions_changed
from watcher.capture.tmux_replies import ProbeResult, choose_session
from watcher.errors import TmuxError, WatcherError

pytestmark = pytest.mark.anyio


async def drain(client: ControlClient) -> None:
    """Read notifications until the connection ends (as the follow loop does)."""
    async for _ in client.notifications:
        pass


@pytest.fixture
def srv() -> Iterator[TmuxServer]:
    with private_server() as server:
        yield server


HOSTILE = [
    "has space",
    "it's",
    'dq"uote',
    "$(touch /tmp/ccw-pwned)",
    "`touch /tmp/ccw-pwned`",
    "semi;colon",
    ";",
    "\\",
    "back\\slash",
    "$HOME",
    "~tilde",
    "#{session_id}",
    "#comment",
    "{brace}",
    "%percent",
    "-dash",
    "tab\there",
    "café ☃ 日本",
    "''",
    "a'''b",
    "x" * 200,
]


# --- addresses (pure) ----------------------------------------------------------------------------


def test_socket_addresses() -> None:
    uid = os.getuid()
    assert socket_dir({"TMUX_TMPDIR": "/var/tmpx", "TMUX": "/elsewhere,1,0"}) == Path(
        f"/var/tmpx/tmux-{uid}"
    )
    assert socket_dir({}) == Path(f"/tmp/tmux-{uid}")
    assert socket_for_name("work") == str(socket_dir() / "work")
    for bad in ("", "a/b"):
        with pytest.raises(WatcherError):
            socket_for_name(bad)


def test_control_env_drops_tmux() -> None:
    env = control_env({"TMUX": "/tmp/x,1,0", "TMUX_PANE": "%1", "HOME": "/h"})
    assert env == {"HOME": "/h"}


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\0b"])
def test_quote_argument_refuses_line_breaks(bad: str) -> None:
    with pytest.raises(TmuxError):
        quote_argument(bad)


def test_choose_session_prefers_humans_then_lowest_id() -> None:
    assert choose_session(ProbeResult(sessions=(), human_sessions=())) is None
    assert choose_session(ProbeResult(sessions=("$0", "$3"), human_sessions=())) == "$0"
    assert (
        choose_session(ProbeResult(sessions=("$0", "$3", "$5"), human_sessions=("$3", "$5")))
        == "$3"
    )
    assert (
        choose_session(ProbeResult(sessions=("$0", "$3"), human_sessions=()), avoid=["$0"]) == "$3"
    )
    assert choose_session(ProbeResult(sessions=("$0",), human_sessions=()), avoid=["$0"]) == "$0"


# --- probe ---------------------------------------------------------------------------------------


async def test_probe_no_server_then_server(srv: TmuxServer) -> None:
    assert await probe_server(srv.socket_path) is None
    a = await srv.new_session("a")
    b = await srv.new_session("b")
    c = await srv.new_session("c")
    probe = await probe_server(srv.socket_path)
    assert probe == ProbeResult(sessions=(a, b, c), human_sessions=())
    await srv.attach_pty(c)
    probe = await probe_server(srv.socket_path)
    assert probe is not None and probe.human_sessions == (c,)
    assert choose_session(probe) == c
    # A stale socket file (server gone) is "no server", and probing never starts one.
    srv.kill_server_sync()
    assert Path(srv.socket_path).exists()
    assert await probe_server(srv.socket_path) is None
    assert await probe_server(srv.socket_path) is None
    assert srv.run_sync("list-sessions", check=False).returncode != 0


async def test_probe_server_without_sessions(srv: TmuxServer) -> None:
    tmp = await srv.new_session("tmp")
    await srv.run("set-option", "-g", "exit-empty", "off")
    await srv.run("kill-session", "-t", tmp)
    assert await probe_server(srv.socket_path) == ProbeResult(sessions=(), human_sessions=())


async def test_wait_for_sessions_changed(srv: TmuxServer) -> None:
    tmp = await srv.new_session("tmp")
    await srv.run("set-option", "-g", "exit-empty", "off")
    await srv.run("kill-session", "-t", tmp)
    assert await wait_for_sessions_changed(srv.socket_path, 0.3) is False

    async def create() -> None:
        await anyio.sleep(0.3)
        await srv.new_session("later")

    async with anyio.create_task_group() as tg:
        tg.start_soon(create)
        with anyio.fail_after(20):
            assert await wait_for_sessions_changed(srv.socket_path, 60) is True
    # The session-less client left nothing behind: no client, no session of its own.
    assert await srv.human_clients() == []
    assert list((await srv.session_names()).values()) == ["later"]


# --- control client ------------------------------------------------------------------------------


async def test_control_client_snapshot_and_commands(srv: TmuxServer) -> None:
    a = await srv.new_session("alpha", "-c", "/tmp")
    async with open_control_client(srv.socket_path, a) as client:
        assert client.session_id == a
        info = await client.server_info()
        assert info.session_id == a and info.client_name.startswith("client-")
        assert info.pid > 0 and info.start_time > 0
        assert (await client.server_info()).client_name == info.client_name
        (session,) = (await client.list_sessions_marked())[0]
        assert (session.session_id, session.name, session.path) == (a, "alpha", "/tmp")
        assert session.attached == 1 and session.windows == 1 and session.created > 0
        (me,) = await client.list_clients()
        assert (me.name, me.session_id, me.control) == (info.client_name, a, True)
        windows = (await client.list_windows_marked())[0]
        assert [(w.session_id, w.window_id) for w in windows] == [(a, "@0")]
        assert (await client.list_windows_marked("@0"))[0] == windows
        assert (await client.list_windows_marked("@77"))[0] == []

        # Output that mimics framing stays content.
        reply = await client.command("display-message", "-p", "%%end 1 2 1")
        assert reply.lines == ("%end 1 2 1",)

        with pytest.raises(TmuxError, match="can't find session"):
            await client.command("kill-session", "-t", "nosuch")
        with pytest.raises(TmuxError, match="unknown command"):
            await client.command("no-such-command")

        # Many commands in flight at once: each gets its own reply (FIFO).
        results: dict[int, str] = {}

        async def ask(i: int) -> None:
            results[i] = (await client.command("display-message", "-p", f"n{i}")).lines[0]

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(ask, i)
        assert results == {i: f"n{i}" for i in range(50)}


async def test_single_session_and_window_lookups(srv: TmuxServer) -> None:
    a = await srv.new_session("alpha", "-c", "/tmp")
    b = await srv.new_session("beta two")
    async with open_control_client(srv.socket_path, a) as client:
        info, mark = await client.session_marked(b)
        assert info is not None and (info.session_id, info.name) == (b, "beta two")
        assert mark == client.delivered or mark <= client.delivered
        assert (await client.session_marked("$99"))[0] is None
        ids, _ = await client.list_session_ids_marked()
        assert ids == [a, b]
        wid = await srv.new_window(b, "w")
        links, session, _ = await client.window_lookup_marked(wid)
        assert [(w.session_id, w.window_id, w.name) for w in links] == [(b, wid, "w")]
        assert session is not None and (session.session_id, session.name) == (b, "beta two")
        await srv.run("link-window", "-s", wid, "-t", f"{a}:7")
        links, session, _ = await client.window_lookup_marked(wid)
        assert sorted(w.session_id for w in links) == [a, b] and session is None
        await srv.run("kill-window", "-t", wid)
        assert (await client.window_lookup_marked(wid))[:2] == ([], None)
        await srv.run("kill-session", "-t", b)
        assert (await client.list_session_ids_marked())[0] == [a]
        with pytest.raises(TmuxError):
            await client.session_marked("alpha")  # ids only, never names


async def test_control_client_notifications(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a) as client:
        b = await srv.new_session("b")
        await srv.run("rename-session", "-t", b, "b two")
        seen: list[p.Notification] = []
        with anyio.fail_after(10):
            async for note in client.notifications:
                seen.append(note)
                if isinstance(note, p.SessionRenamed):
                    break
        assert p.SessionsChanged() in seen
        assert seen[-1] == p.SessionRenamed(b, "b two")
        assert any(isinstance(n, p.UnlinkedWindowAdd) for n in seen)


async def test_after_hook_blocks_do_not_steal_replies(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    await srv.run("set-hook", "-g", "after-new-window", "display-message -p HOOKED")
    async with open_control_client(srv.socket_path, a) as client:
        reply = await client.command("new-window", "-d", "-t", a, "-P", "-F", "#{window_id}")
        assert reply.lines[0].startswith("@")
        assert (await client.command("display-message", "-p", "next")).lines == ("next",)
        assert client.unsolicited_replies >= 2  # the attach block and the hook's block


async def test_quoting_round_trips_hostile_values(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a) as client:
        for value in HOSTILE:
            await client.command("set-option", "-g", "@ccw", value)
            shown = await srv.run("show-options", "-gqv", "@ccw")
            assert shown == value + "\n", value
    assert not Path("/tmp/ccw-pwned").exists()


async def test_quoting_round_trips_random_hostile_text(srv: TmuxServer) -> None:
    alphabet = [*"'\"\\$~;#{}%`!&|<>()*?[] \tab-=_,.:/", "é", "☃", "日", "\x01", "\x1b", "\x7f"]
    rnd = random.Random(7)  # fixed seed: the same 200 values every run
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a) as client:
        for _ in range(200):
            value = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
            await client.command("set-option", "-g", "@ccw", value)
            assert await srv.run("show-options", "-gqv", "@ccw") == value + "\n", value


async def test_hostile_session_names_via_control_client(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a) as client:
        created = {}
        for name in HOSTILE:
            if name == "#{session_id}":
                continue  # new-session -s expands formats: tmux rejects the empty result
            reply = await client.command(
                "new-session", "-d", "-s", name, "-P", "-F", "#{session_id}", "sleep", "3600"
            )
            created[reply.lines[0]] = name
        listed = {s.session_id: s.name for s in (await client.list_sessions_marked())[0]}
        theirs = await srv.session_names()
        for sid in created:
            assert listed[sid] == theirs[sid]  # what tmux itself prints
        assert listed[next(s for s, n in created.items() if n == "has space")] == "has space"
        assert listed[next(s for s, n in created.items() if n == "it's")] == "it's"
        assert listed[next(s for s, n in created.items() if n == "x" * 200)] == "x" * 200
    assert not Path("/tmp/ccw-pwned").exists()


async def test_a_hook_printing_a_fake_begin_cannot_hang_commands(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    # tmux prints a hook's display-message -p on the "best" client: possibly ours, outside
    # any block. A line that looks like %begin then swallows everything after it.
    await srv.run("set-hook", "-g", "session-created", "display-message -p '%%begin 1 2 3'")
    async with open_control_client(srv.socket_path, a, reply_timeout=1.0) as client:
        await srv.new_session("b")
        with anyio.fail_after(10), pytest.raises(TmuxError, match="did not answer"):
            while True:  # until the stray line has arrived and a reply is swallowed
                await client.command("display-message", "-p", "x")
                await anyio.sleep(0.05)
        await drain(client)
        assert client.failure is not None


async def test_attach_failure_is_a_tmux_error(srv: TmuxServer) -> None:
    await srv.new_session("a")
    with pytest.raises(TmuxError, match="can't find session"):
        async with open_control_client(srv.socket_path, "$99"):
            pass


async def test_exit_ends_stream_and_fails_commands(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    await srv.new_session("b")
    async with open_control_client(srv.socket_path, a) as client:
        await srv.run("kill-session", "-t", a)
        seen = []
        with anyio.fail_after(10):
            async for note in client.notifications:
                seen.append(note)
        assert isinstance(seen[-1], p.Exit)
        assert client.closed and "exit" in (client.closed_reason or "")
        with pytest.raises(TmuxError):
            await client.command("list-sessions")


async def test_leaving_the_context_detaches_the_client(srv: TmuxServer) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a) as client:
        name = (await client.server_info()).client_name
    out = await srv.run("list-clients", "-F", "#{client_name}")
    assert name not in out.split()


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_subscriptions_or_wait_exit_in_the_code() -> None:
    # Guard against the tmux < 3.7 server crash (reference §6): no subscriptions, no wait-exit.
    for module in sorted((Path(__file__).parents[2] / "watcher" / "capture").glob("*.py")):
        for text in _string_constants(module):
            assert "refresh-client" not in text and "wait-exit" not in text, text


def test_subprocess_tmux_is_available() -> None:
    version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("tmux ")
