"""Private tmux servers for tests: helpers and a pytest fixture anyone may import.

Every server gets a unique ``-L`` socket name and ``-f /dev/null``; sessions run
``sleep 3600`` (never a login shell); ``$TMUX`` is removed from every child's environment; the
server is killed in teardown. Usage::

    from tests.tmux_server import TmuxServer, private_server

    @pytest.fixture
    def srv() -> Iterator[TmuxServer]:
        with private_server() as server:
            yield server

    async def test_x(srv: TmuxServer) -> None:
        sid = await srv.new_session("name")

(or import the ``tmux_server`` fixture itself into a conftest).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from watcher.capture.tmux_address import socket_dir

SLEEP = ["sleep", "3600"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.setdefault("TERM", "xterm")
    env["LC_ALL"] = "C.UTF-8"
    return env


class PtyClient:
    """A real (human) tmux client on a pseudo-terminal, run through ``script``."""

    def __init__(self, process: subprocess.Popen[bytes], name: str) -> None:
        self.process = process
        self.name = name  # the tmux client name, i.e. its tty path

    def close(self) -> None:
        """Kill the terminal (tmux sees a hang-up and detaches the client)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        if self.process.stdin is not None:
            self.process.stdin.close()


class TmuxServer:
    """A tmux server on a private socket; methods are async (anyio) unless named ``*_sync``."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"ccw-{uuid.uuid4().hex[:10]}"
        self.socket_path = str(socket_dir() / self.name)
        self.clients: list[PtyClient] = []

    def argv(self, *args: str) -> list[str]:
        """The argv for ``tmux -L <name> -f /dev/null ARGS``.

        tmux's command line treats an argument ending in ``;`` as a command separator, so such
        arguments are escaped (``\\;``) to arrive literally.
        """
        escaped = [a[:-1] + "\\;" if a.endswith(";") else a for a in args]
        return ["tmux", "-L", self.name, "-f", "/dev/null", *escaped]

    def run_sync(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a tmux command synchronously (for setup/teardown)."""
        return subprocess.run(
            self.argv(*args),
            check=check,
            capture_output=True,
            text=True,
            env=_env(),
            stdin=subprocess.DEVNULL,
        )

    async def run(self, *args: str, check: bool = True) -> str:
        """Run a tmux command without blocking the event loop; return its stdout."""
        result = await anyio.run_process(
            self.argv(*args), check=False, env=_env(), stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"tmux {args!r} failed: rc={result.returncode} {result.stderr.decode()!r}"
            )
        return result.stdout.decode("utf-8", "surrogateescape")

    async def new_session(self, name: str, *extra: str) -> str:
        """Create a detached session running ``sleep 3600``; return its id (``$N``)."""
        out = await self.run(
            "new-session", "-d", "-s", name, "-P", "-F", "#{session_id}", *extra, *SLEEP
        )
        return out.strip()

    async def new_window(self, session_id: str, name: str | None = None) -> str:
        """Add a window (running sleep) to a session; return its id (``@N``)."""
        args = ["new-window", "-d", "-t", session_id, "-P", "-F", "#{window_id}"]
        if name is not None:
            args += ["-n", name]
        return (await self.run(*args, *SLEEP)).strip()

    async def session_names(self) -> dict[str, str]:
        """``{session id: name}`` as tmux itself lists them (a separate tmux process)."""
        out = await self.run("list-sessions", "-F", "#{session_id}\x1f#{session_name}", check=False)
        pairs = (line.split("\x1f", 1) for line in out.splitlines() if "\x1f" in line)
        return dict(pairs)

    async def human_clients(self) -> list[tuple[str, str]]:
        """``[(client name, session id)]`` of non-control clients."""
        out = await self.run(
            "list-clients",
            "-F",
            "#{client_name}\x1f#{session_id}\x1f#{client_control_mode}",
            check=False,
        )
        rows = [line.split("\x1f") for line in out.splitlines()]
        return [(r[0], r[1]) for r in rows if len(r) == 3 and r[2] != "1"]

    async def attach_pty(
        self, session_id: str, *, detach_others: bool = False, timeout: float = 10
    ) -> PtyClient:
        """Attach a real client through a pseudo-terminal; return once tmux lists it.

        ``detach_others`` runs ``attach -d`` (which also kicks a watcher attached there).
        """
        before = {name for name, _ in await self.human_clients()}
        # The command string is a shell string for script(1): only our own socket name
        # (hex) and a $N id go into it, never a session name.
        assert session_id.startswith("$") and session_id[1:].isdigit()
        flag = " -d" if detach_others else ""
        command = f"tmux -L {self.name} attach-session{flag} -t '{session_id}'"
        process = subprocess.Popen(
            ["script", "-qfc", command, "/dev/null"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        with anyio.fail_after(timeout):
            while True:
                for name, sid in await self.human_clients():
                    if name not in before and sid == session_id:
                        client = PtyClient(process, name)
                        self.clients.append(client)
                        return client
                if process.poll() is not None:
                    raise AssertionError(f"script exited early: rc={process.returncode}")
                await anyio.sleep(0.02)

    def kill_server_sync(self) -> None:
        """Kill the server (ignoring a server that is already gone) and every pty client."""
        self.run_sync("kill-server", check=False)
        for client in self.clients:
            client.close()
        self.clients.clear()


@contextlib.contextmanager
def private_server() -> Iterator[TmuxServer]:
    """A fresh private tmux server name, killed (and its socket removed) on exit."""
    server = TmuxServer()
    try:
        yield server
    finally:
        server.kill_server_sync()
        # tmux 3.3a leaves its socket file behind; tidy up our own.
        Path(server.socket_path).unlink(missing_ok=True)


@pytest.fixture
def tmux_server() -> Iterator[TmuxServer]:
    """Fixture form of :func:`private_server` (the server starts with the first session)."""
    with private_server() as server:
        yield server
