"""One-off looks at a tmux server: who is there (the probe), and waiting for a first session.

Neither starts a server or reads a config: the probe runs the ``tmux`` binary through argv lists
(never a shell) with ``$TMUX`` removed and an explicit ``-S <socket>``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid

import anyio

from watcher.capture.protocol import ControlParser, Exit, SessionsChanged
from watcher.capture.tmux_address import control_env
from watcher.capture.tmux_link import end_link, open_link
from watcher.capture.tmux_replies import PROBE_CLIENTS, PROBE_SESSIONS, ProbeResult, parse_probe
from watcher.errors import ProtocolError, ProtocolMismatch, TmuxError

__all__ = ["probe_server", "run_tmux", "wait_for_sessions_changed"]


async def run_tmux(
    tmux: str, socket_path: str, args: list[str]
) -> subprocess.CompletedProcess[bytes]:
    """Run one ``tmux -u -S socket_path ARGS`` (no shell, no ``$TMUX``), whatever it answers."""
    try:
        return await anyio.run_process(
            [tmux, "-u", "-S", socket_path, *args],
            check=False,
            env=control_env(),
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise TmuxError(
            f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer and put it on PATH"
        ) from exc


async def probe_server(socket_path: str, *, tmux: str = "tmux") -> ProbeResult | None:
    """Ask the server on ``socket_path`` for its sessions; None when no server is running.

    Runs ``tmux -S path list-sessions ... ; list-clients ...``: neither command starts a server,
    and no ``-f`` config is read. A missing socket file is answered without running tmux.
    """
    if not os.path.exists(socket_path):
        return None
    result = await run_tmux(tmux, socket_path, [*PROBE_SESSIONS, ";", *PROBE_CLIENTS])
    if result.returncode != 0:
        # list-clients fails ("no current target") on a server without sessions: ask again
        # with list-sessions alone to tell that apart from no server at all.
        result = await run_tmux(tmux, socket_path, PROBE_SESSIONS)
        if result.returncode != 0:
            return None
    return parse_probe(result.stdout.decode("utf-8", "surrogateescape"))


async def wait_for_sessions_changed(
    socket_path: str, timeout: float, *, tmux: str = "tmux", native: bool = True
) -> bool:
    """On a running server without sessions, wait until one is created (or the server exits).

    Uses a session-less control client running ``wait-for <unique channel>``: it receives
    ``%sessions-changed`` and ``%exit`` but is attached to no session, so it has none of an
    attached client's side effects, and no polling is needed. Returns False on timeout.
    Raises :class:`ProtocolMismatch` when ``native`` and the server speaks another protocol.
    """
    channel = f"ccmgr-watch-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    link = await open_link(socket_path, ["wait-for", channel], tmux=tmux, native=native)
    parser = ControlParser()
    changed = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run)
            with anyio.move_on_after(timeout):
                try:
                    async with contextlib.aclosing(link.chunks()) as chunks:
                        async for chunk in chunks:
                            if any(
                                isinstance(m, (SessionsChanged, Exit)) for m in parser.feed(chunk)
                            ):
                                break
                except (ProtocolError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
                except OSError:
                    pass
                # A change, the server's exit, or a client that could not start: look again.
                changed = True
            with anyio.CancelScope(shield=True):
                await end_link(link)
    finally:
        with anyio.CancelScope(shield=True):
            await link.aclose()
    if link.version_mismatch:
        raise ProtocolMismatch(
            f"the tmux server at {socket_path} speaks another client protocol",
            hint="the watcher uses the tmux binary for this server instead",
        )
    return changed
