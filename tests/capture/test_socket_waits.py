"""SocketWaits: one folder watch for every server task waiting for its server.

tmux leaves its socket file behind when a server exits, so ``run --all`` may wait on a hundred
files of ended servers: one inotify instance each would exhaust the user's limit (128).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.capture.tmuxenv import Lines, Watcher, wait_until
from watcher.capture.server_task import socket_mark
from watcher.capture.socket_waits import SocketWaits

pytestmark = pytest.mark.anyio


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket's path has at most 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="cw-") as folder:
        yield Path(folder)


def stale(path: Path) -> None:
    """What an ended tmux server leaves: a socket file nobody listens on."""
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))


def inotify_instances(pid: int | str = "self") -> int:
    """How many inotify instances the process holds."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd) == "anon_inode:inotify"
        except OSError:
            continue  # closed meanwhile
    return count


@asynccontextmanager
async def running(waits: SocketWaits) -> AsyncIterator[anyio.abc.TaskGroup]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(waits.run)
        yield tg
        tg.cancel_scope.cancel()


async def test_many_waiters_share_one_watch_and_only_the_changed_one_wakes(
    short_dir: Path,
) -> None:
    paths = [short_dir / f"s{n}" for n in range(150)]
    for path in paths:
        stale(path)
    waits = SocketWaits()
    woken: list[Path] = []

    async def wait(path: Path) -> None:
        if await waits.wait(str(path), 60, since=socket_mark(str(path))):
            woken.append(path)

    before = inotify_instances()
    async with running(waits) as tg:
        for path in paths:
            tg.start_soon(wait, path)
        with anyio.fail_after(10):
            while waits.armings == 0 or len(waits._waiters) < len(paths):
                await anyio.sleep(0.05)
        assert inotify_instances() - before <= 1
        await anyio.sleep(0.3)
        assert woken == []  # stale files changing nothing wake nobody
        # A new server on s7: tmux unlinks the stale file and binds a new one.
        paths[7].unlink()
        stale(paths[7])
        with anyio.fail_after(5):
            while not woken:
                await anyio.sleep(0.02)
        await anyio.sleep(0.3)
        assert woken == [paths[7]]
        # Another file in the folder (not a waiter's socket) wakes nobody either.
        (short_dir / "unrelated").write_text("x")
        await anyio.sleep(0.3)
        assert woken == [paths[7]]
    assert waits._waiters == set()


async def test_a_change_before_the_wait_began_is_seen_at_once(short_dir: Path) -> None:
    sock = short_dir / "sock"
    before = socket_mark(str(sock))
    waits = SocketWaits()
    async with running(waits):
        stale(sock)  # between the task's look for a server and its wait
        with anyio.fail_after(5):
            assert await waits.wait(str(sock), 60, since=before) is True
        # The watch is armed on the folder now: the same again, without a re-arm.
        armed = waits.armings
        before = socket_mark(str(sock))
        sock.unlink()
        stale(sock)
        with anyio.fail_after(5):
            assert await waits.wait(str(sock), 60, since=before) is True
        assert waits.armings == armed


async def test_the_folder_tmux_creates_later_is_watched_once_it_exists(short_dir: Path) -> None:
    sock = short_dir / "tmux-1000" / "default"
    waits = SocketWaits()
    async with running(waits):
        assert await waits.wait(str(sock), 0.2, since=None) is False  # times out

        async def make() -> None:
            await anyio.sleep(0.3)
            sock.parent.mkdir()

        async with anyio.create_task_group() as tg:
            tg.start_soon(make)
            with anyio.fail_after(5):
                assert await waits.wait(str(sock), 60, since=None) is True
        # Then the task waits on the folder itself, and a server's socket wakes it.

        async def bind() -> None:
            await anyio.sleep(0.3)
            stale(sock)

        async with anyio.create_task_group() as tg:
            tg.start_soon(bind)
            with anyio.fail_after(5):
                assert await waits.wait(str(sock), 60, since=None) is True


async def test_a_watched_folder_that_vanishes_wakes_its_waiters(short_dir: Path) -> None:
    folder = short_dir / "tmux-1000"
    folder.mkdir()
    sock = folder / "default"
    waits = SocketWaits(retry_after_failure=0.1)
    async with running(waits):

        async def remove() -> None:
            await anyio.sleep(0.3)
            folder.rmdir()

        async with anyio.create_task_group() as tg:
            tg.start_soon(remove)
            with anyio.fail_after(5):
                assert await waits.wait(str(sock), 60, since=None) is True


def test_run_all_over_many_ended_servers_holds_one_watch(tmp_path: Path, short_dir: Path) -> None:
    # The real watcher, --all, in a private socket folder holding 140 ended servers' files
    # (more than the default 128 inotify instances a user may hold).
    folder = short_dir / f"tmux-{os.getuid()}"
    folder.mkdir(mode=0o700)
    for n in range(140):
        stale(folder / f"old-{n}")
    env = {"TMUX_TMPDIR": str(short_dir)}
    watcher = Watcher(tmp_path / "data.db", "--all", env=env).start()
    assert watcher.proc is not None
    log = Lines(watcher.proc)
    log.start()
    try:
        pid = watcher.proc.pid
        wait_until(lambda: len(log.waiting()) >= 140, what="140 tasks waiting")
        time.sleep(0.5)
        # One watch for the waiting tasks, one for --all's folder discovery, the config's.
        assert inotify_instances(pid) <= 4
        assert len(os.listdir(f"/proc/{pid}/task")) < 40
        # A server that starts on one of those names is recorded at once.
        subprocess.run(
            ["tmux", "-L", "old-5", "-f", "/dev/null", "new-session", "-d", "-s", "back", "cat"],
            env={**os.environ, **env},
            check=True,
        )
        try:
            wait_until(lambda: log.has("connected to"), timeout=10, what="connected")
        finally:
            subprocess.run(
                ["tmux", "-L", "old-5", "kill-server"], env={**os.environ, **env}, check=False
            )
    finally:
        assert watcher.stop() == 0
