"""The control client made by speaking tmux's client protocol, and the `tmux -C` fallback.

A fake server (a plain unix socket) checks what goes over the wire; real private servers
check that both kinds of client behave the same for everything the watcher relies on.
"""

from __future__ import annotations

import array
import os
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.tmux_server import TmuxServer, private_server
from watcher.capture import protocol as p
from watcher.capture import tmux_wire as t
from watcher.capture.tmux_client import ControlClient, open_control_client
from watcher.capture.tmux_probe import wait_for_sessions_changed
from watcher.errors import ProtocolMismatch, TmuxError

pytestmark = pytest.mark.anyio


async def drain(client: ControlClient) -> None:
    """Read notifications until the connection ends (as the follow loop does)."""
    async for _ in client.notifications:
        pass


@pytest.fixture
def srv() -> Iterator[TmuxServer]:
    with private_server() as server:
        yield server


def _children_named(name: bytes) -> list[int]:
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and argv0.endswith(name):
            found.append(int(entry.name))
    return found


# --- the wire format ----------------------------------------------------------------------------


def test_identification_is_one_batch_ending_with_the_command() -> None:
    batch = t.identify_and_command(
        ["attach-session", "-t", "$3"],
        pid=4242,
        cwd="/some/where",
        term="xterm",
        environ={"PATH": "/bin", "LANG": "C.UTF-8"},
    )
    buffer = bytearray(batch)
    messages = t.split_messages(buffer)
    assert not buffer
    assert [kind for kind, _ in messages] == [
        t.MSG_IDENTIFY_FLAGS,
        t.MSG_IDENTIFY_LONGFLAGS,
        t.MSG_IDENTIFY_TERM,
        t.MSG_IDENTIFY_FEATURES,
        t.MSG_IDENTIFY_TTYNAME,
        t.MSG_IDENTIFY_CWD,
        t.MSG_IDENTIFY_CLIENTPID,
        t.MSG_IDENTIFY_ENVIRON,
        t.MSG_IDENTIFY_ENVIRON,
        t.MSG_IDENTIFY_DONE,
        t.MSG_COMMAND,
    ]
    payloads = dict(messages[:7])
    # CLIENT_CONTROL | CLIENT_UTF8 (tmux.h 3.2 ... 3.7), as `tmux -u -C` sends them.
    assert struct.unpack("=i", payloads[t.MSG_IDENTIFY_FLAGS]) == (0x12000,)
    assert struct.unpack("=Q", payloads[t.MSG_IDENTIFY_LONGFLAGS]) == (0x12000,)
    assert payloads[t.MSG_IDENTIFY_TERM] == b"xterm\0"
    assert payloads[t.MSG_IDENTIFY_TTYNAME] == b"\0"
    assert payloads[t.MSG_IDENTIFY_CWD] == b"/some/where\0"
    assert struct.unpack("=i", payloads[t.MSG_IDENTIFY_CLIENTPID]) == (4242,)
    assert messages[7][1] == b"PATH=/bin\0"
    assert messages[-1][1] == struct.pack("=i", 3) + b"attach-session\0-t\0$3\0"
    # Every header carries the protocol version as peerid (tmux answers MSG_VERSION otherwise).
    assert all(
        struct.unpack_from("=IHHII", t.imsg(kind, data))[3] == t.PROTOCOL_VERSION
        for kind, data in messages
    )


def test_split_messages_keeps_partial_messages() -> None:
    whole = t.imsg(t.MSG_EXIT, struct.pack("=i", 0) + b"too far behind\0")
    buffer = bytearray(whole[:10])
    assert t.split_messages(buffer) == []
    buffer += whole[10:] + whole[:3]
    assert t.split_messages(buffer) == [(t.MSG_EXIT, whole[16:])]
    assert bytes(buffer) == whole[:3]


class FakeServer(threading.Thread):
    """Accepts one client, records each recvmsg (bytes, number of fds), answers ``reply``."""

    def __init__(self, path: str, reply: bytes) -> None:
        super().__init__(daemon=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.reply = reply
        self.reads: list[tuple[bytes, int]] = []

    def run(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            size = socket.CMSG_SPACE(array.array("i").itemsize)  # one fd, as tmux's imsg
            while True:
                data, ancillary, _flags, _addr = conn.recvmsg(65536, size)
                fds = array.array("i")
                for _level, _type, cdata in ancillary:
                    fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
                for fd in fds:
                    os.close(fd)
                self.reads.append((data, len(fds)))
                if t.MSG_COMMAND in [k for k, _ in t.split_messages(bytearray(data))]:
                    break
            conn.sendall(self.reply)
            conn.recv(1)  # until the client goes
        self.listener.close()


async def test_descriptors_go_first_then_everything_else_in_one_write(tmp_path: Path) -> None:
    path = str(tmp_path / "fake")
    server = FakeServer(path, t.imsg(t.MSG_VERSION))
    server.start()
    with pytest.raises(ProtocolMismatch):
        with anyio.fail_after(10):
            async with open_control_client(path, "$0"):
                pass
    await anyio.to_thread.run_sync(server.join, 10)
    kinds = [[k for k, _ in t.split_messages(bytearray(data))] for data, _ in server.reads]
    assert kinds[0] == [t.MSG_IDENTIFY_STDIN] and server.reads[0][1] == 1
    assert kinds[1] == [t.MSG_IDENTIFY_STDOUT] and server.reads[1][1] == 1
    # The server dispatches a whole read at once: it never sees a half-identified client.
    assert kinds[2][0] == t.MSG_IDENTIFY_FLAGS and kinds[2][-2:] == [
        t.MSG_IDENTIFY_DONE,
        t.MSG_COMMAND,
    ]
    assert len(server.reads) == 3 and server.reads[2][1] == 0


async def test_a_server_of_another_protocol_is_reported_for_waiting_too(tmp_path: Path) -> None:
    path = str(tmp_path / "fake")
    server = FakeServer(path, t.imsg(t.MSG_VERSION))
    server.start()
    with pytest.raises(ProtocolMismatch), anyio.fail_after(10):
        await wait_for_sessions_changed(path, 5)
    await anyio.to_thread.run_sync(server.join, 10)


async def test_no_server_is_a_tmux_error(tmp_path: Path) -> None:
    with pytest.raises(TmuxError, match="cannot connect"):
        async with open_control_client(str(tmp_path / "nothing"), "$0"):
            pass


# --- against real servers: both kinds of client ---------------------------------------------------


@pytest.mark.parametrize("native", [True, False], ids=["native", "binary"])
async def test_attach_command_and_kill_session(srv: TmuxServer, native: bool) -> None:
    a = await srv.new_session("a")
    await srv.new_session("b")
    async with open_control_client(srv.socket_path, a, native=native) as client:
        info = await client.server_info()
        assert info.session_id == a
        assert (info.client_name == f"client-{os.getpid()}") is native
        assert bool(_children_named(b"tmux") or _children_named(b"python3")) is not native
        await srv.run("kill-session", "-t", a)
        seen = []
        with anyio.fail_after(10):
            async for note in client.notifications:
                seen.append(note)
        assert isinstance(seen[-1], p.Exit)
    assert client.failure is None  # a killed session is an ordinary end


@pytest.mark.parametrize("native", [True, False], ids=["native", "binary"])
async def test_kill_server_is_an_ordinary_end(srv: TmuxServer, native: bool) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a, native=native) as client:
        await srv.run("kill-server", check=False)
        with anyio.fail_after(10):
            await drain(client)
    assert client.failure is None, client.closed_reason


@pytest.mark.parametrize("native", [True, False], ids=["native", "binary"])
async def test_a_crashed_server_is_a_failure(srv: TmuxServer, native: bool) -> None:
    a = await srv.new_session("a")
    pid = int((await srv.run("display-message", "-p", "#{pid}")).strip())
    async with open_control_client(srv.socket_path, a, native=native) as client:
        os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(10):
            await drain(client)
    assert client.failure is not None and "unexpectedly" in client.failure


@pytest.mark.parametrize("native", [True, False], ids=["native", "binary"])
async def test_a_kick_is_an_ordinary_end(srv: TmuxServer, native: bool) -> None:
    a = await srv.new_session("a")
    async with open_control_client(srv.socket_path, a, native=native) as client:
        name = (await client.server_info()).client_name
        await srv.run("detach-client", "-t", name)
        with anyio.fail_after(10):
            await drain(client)
    assert client.failure is None, client.closed_reason
    out = await srv.run("list-clients", "-F", "#{client_name}")
    assert name not in out.split()


@pytest.mark.parametrize("native", [True, False], ids=["native", "binary"])
async def test_wait_for_sessions_changed_both_ways(srv: TmuxServer, native: bool) -> None:
    tmp = await srv.new_session("tmp")
    await srv.run("set-option", "-g", "exit-empty", "off")
    await srv.run("kill-session", "-t", tmp)
    async with anyio.create_task_group() as tg:
        result: list[bool] = []

        async def wait() -> None:
            result.append(await wait_for_sessions_changed(srv.socket_path, 10, native=native))

        tg.start_soon(wait)
        await anyio.sleep(0.3)
        await srv.new_session("x")
    assert result == [True]
    out = await srv.run("list-clients", "-F", "#{client_name}", check=False)
    assert "client-" not in out


async def test_the_watchers_environment_is_not_copied_into_the_session(srv: TmuxServer) -> None:
    # attach-session -E: update-environment (DISPLAY, SSH_AUTH_SOCK, ...) is not applied.
    a = await srv.new_session("a")
    await srv.run("set-environment", "-t", a, "SSH_AUTH_SOCK", "/users/agent")
    async with open_control_client(srv.socket_path, a):
        pass
    out = await srv.run("show-environment", "-t", a, "SSH_AUTH_SOCK")
    assert out.strip() == "SSH_AUTH_SOCK=/users/agent"
