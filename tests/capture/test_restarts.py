"""The real `ccmgr-watch run` process and the life of the tmux server it watches.

Restarts under session churn never crash the server (tmux < 3.7 segfaults when a control client
is half identified), a killed watcher leaves no client behind, the first session of a server
the watcher waited for is `created`, and every state change is logged.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.capture.tmuxenv import Lines, Tmux, Watcher, events_of, wait_until

pytestmark = pytest.mark.tmux

SCRIPTS = Path(__file__).parents[2] / "scripts"


def _stress() -> ModuleType:
    # The scenario is shared with scripts/stress_restarts.py, which prints the crash counts.
    spec = importlib.util.spec_from_file_location("stress_restarts", SCRIPTS / "stress_restarts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stress_restarts"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


def server_pid(tmux: Tmux) -> int:
    return int(tmux("display-message", "-p", "#{pid}").strip())


def clients_of_socket(tmux: Tmux, server: int) -> list[str]:
    """Processes other than the server whose command line names this server's socket."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == server:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        names = any(tmux.name.encode() in arg or tmux.socket.encode() in arg for arg in argv)
        if names and b"-C" in argv:
            found.append(f"{entry.name}: {b' '.join(argv).decode(errors='replace')}")
    return found


def gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class Burst(threading.Thread):
    def __init__(self, tmux: Tmux, count: int) -> None:
        super().__init__(daemon=True)
        self.tmux = tmux
        self.count = count
        self.created = 0

    def run(self) -> None:
        for i in range(self.count):
            self.tmux("new-session", "-d", "-s", f"burst-{i}", "sleep 3600", check=False)
            self.created += 1
            if i >= 3:
                self.tmux("kill-session", "-t", f"=burst-{i - 3}", check=False)


# --- issue 9 §2: a killed watcher leaves nothing behind --------------------------------------


@pytest.mark.parametrize("client", ["native", "binary"])
def test_kill_9_during_a_burst_leaves_no_client_and_kill_server_works(
    tmp_path: Path, tmux: Tmux, client: str
) -> None:
    tmux.new("base")
    pid = server_pid(tmux)
    env = {"CCMGR_WATCH_TMUX_CLIENT": client}
    watcher = Watcher(tmp_path / "data.db", "-L", tmux.name, env=env).start()
    burst = Burst(tmux, 60)
    try:
        watcher.wait_connected()
        if client == "binary":  # the fallback runs a child; it must die with the watcher
            assert clients_of_socket(tmux, pid)
        else:
            assert clients_of_socket(tmux, pid) == []
        burst.start()
        wait_until(lambda: burst.created >= 10, what="the burst to start")
    finally:
        watcher.stop(signal.SIGKILL)
        if burst.is_alive():
            burst.join(timeout=60)
    wait_until(lambda: not clients_of_socket(tmux, pid), timeout=10, what="no client left")
    tmux("kill-server")
    wait_until(lambda: gone(pid), timeout=10, what="the server to stop")
    assert clients_of_socket(tmux, pid) == []


# --- issue 9 §1: restarts under churn -------------------------------------------------------


@pytest.mark.slow
def test_restarts_under_churn_never_crash_the_server(tmp_path: Path) -> None:
    stress = _stress()
    result = stress.run_once(
        restarts=40,
        client="native",
        seed=random.randrange(1 << 30),
        watch=str(Path(sys.executable).parent / "ccmgr-watch"),
        deadline=time.monotonic() + 300,  # a cap for a very slow machine: 40 restarts take ~1-2 min
    )
    assert not result["crashed"], result
    assert result["restarts"] >= 40, result
    assert result["signals"]["SIGTERM"] and result["signals"]["SIGKILL"], result
    assert result["stray_control_clients"] == [] and result["orphan_tmux_clients"] == [], result


# --- issue 8 item 9: the first session of an awaited server is created ------------------------


@pytest.mark.parametrize("empty_server", [False, True], ids=["no-server", "no-sessions"])
def test_first_session_of_an_awaited_server_is_created(
    tmp_path: Path, tmux: Tmux, empty_server: bool
) -> None:
    db = tmp_path / "data.db"
    if empty_server:
        tmux.new("tmp")
        tmux("set-option", "-g", "exit-empty", "off")
        tmux("kill-session", "-t", "tmp")
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        wait_until(
            lambda: db.with_name(db.name + ".watcher.json").exists(), what="the watcher to start"
        )
        time.sleep(0.5)
        tmux.new("first")
        watcher.wait_connected()
        wait_until(lambda: events_of(db, "first"), what="the first session to be recorded")
        time.sleep(0.3)
        assert events_of(db, "first") == ["created", "window_added"]
    finally:
        watcher.stop()


# --- issue 8 item 5: state changes are logged ----------------------------------------------------


def _run_logged(tmp_path: Path, tmux: Tmux, *flags: str) -> tuple[Watcher, Lines]:
    watcher = Watcher(tmp_path / f"data{len(flags)}.db", "-L", tmux.name, *flags).start()
    assert watcher.proc is not None
    lines = Lines(watcher.proc)
    lines.start()
    return watcher, lines


def test_state_changes_are_logged_at_info(tmp_path: Path, tmux: Tmux) -> None:
    watcher, log = _run_logged(tmp_path, tmux)
    try:
        wait_until(lambda: log.has(f"no tmux server at {tmux.socket}; waiting for one"))
        tmux.new("one")
        wait_until(lambda: log.has(f"connected to {tmux.socket} (session $0"), what="connected")
        tmux.kill_server()
        wait_until(lambda: log.has("lost the connection to"), what="the loss")
        wait_until(lambda: log.has("retrying in"), what="the retry")
        # Back to waiting, said again once (each state change once, not once per look).
        wait_until(lambda: len(log.waiting()) >= 2, what="waiting again")
        time.sleep(0.5)
    finally:
        assert watcher.stop() == 0
        log.join(timeout=5)
    assert not any(" DEBUG " in line for line in log.lines), log.lines
    assert len(log.waiting()) == 2, log.lines
    assert all(" INFO ccmgr_watch." in line for line in log.lines), log.lines


def test_v_and_vv_change_what_is_printed(tmp_path: Path, tmux: Tmux) -> None:
    tmux.new("one")
    outputs = []
    for flags in ((), ("-v",), ("-vv",)):
        watcher, log = _run_logged(tmp_path, tmux, *flags)
        try:
            wait_until(lambda log=log: log.has("connected to"), what="connected")  # type: ignore[misc]
        finally:
            assert watcher.stop() == 0
            log.join(timeout=5)
        outputs.append(log.lines)
    quiet, verbose, very = outputs
    assert not any(" DEBUG " in line for line in quiet), quiet
    assert any(" DEBUG ccmgr_watch.server: probe of" in line for line in verbose), verbose
    assert not any(" DEBUG asyncio" in line for line in verbose), verbose
    assert any(" DEBUG asyncio" in line for line in very), very


def test_no_stray_processes_are_left(tmp_path: Path, tmux: Tmux) -> None:
    # The native client has no child process at all: the watcher's children are git only.
    tmux.new("one")
    watcher = Watcher(tmp_path / "data.db", "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        assert watcher.proc is not None
        children = [
            e.name
            for e in Path("/proc").iterdir()
            if e.name.isdigit()
            and _ppid(e.name) == watcher.proc.pid
            and b"tmux" in _argv0(e.name)
            and os.path.exists(f"/proc/{e.name}")
        ]
        assert children == []
    finally:
        watcher.stop()


def _ppid(pid: str) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return -1


def _argv0(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return b""
