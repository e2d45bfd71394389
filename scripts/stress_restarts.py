#!/usr/bin/env python3
"""Restart the real watcher under session churn and count tmux server crashes; prints JSON.

The scenario of issue 9 §1: a private tmux server, a thread creating sessions back to back
(about three alive, the oldest killed), and ``ccmgr-watch run`` restarted again and again, each
run ended by SIGTERM or SIGKILL 0-0.7 s after it connected, with a 0-0.5 s gap before the next
start. A run ends early when the server dies (tmux 3.3a: ``segfault at 20`` in control_write).

    .venv/bin/python scripts/stress_restarts.py --runs 3 --restarts 40
    .venv/bin/python scripts/stress_restarts.py --client binary    # the `tmux -C` fallback
    .venv/bin/python scripts/stress_restarts.py --watch OLD/ccmgr-watch  # another checkout
    .venv/bin/python scripts/stress_restarts.py --clients 300 --client binary  # no watcher

``--client binary`` sets ``CCMGR_WATCH_TMUX_CLIENT=binary`` in the watcher's environment: the
watcher then runs ``tmux -C`` child processes (kept as the fallback for servers of another
protocol version), as every version before the native client did.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.setdefault("TERM", "xterm")
    env.update(extra)
    return env


def _remove_socket(name: str) -> None:
    """tmux leaves its socket file behind when the server exits: remove the run's own."""
    folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
    (folder / name).unlink(missing_ok=True)


class Churn(threading.Thread):
    """Creates sessions back to back on one server, keeping ``keep`` alive (oldest killed)."""

    def __init__(self, name: str, keep: int = 3) -> None:
        super().__init__(daemon=True)
        self.name = name
        self.server_pid = 0  # set by :meth:`start_server`; the churn stops when it dies
        self.keep = keep
        self.stop = threading.Event()
        self.created = 0

    def tmux(self, *args: str) -> int:
        return subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        ).returncode

    def start_server(self) -> int:
        """Start the server with one session (``anchor``); returns the server's pid."""
        self.tmux("new-session", "-d", "-s", "anchor", "sleep 3600")
        self.tmux("set", "-g", "exit-empty", "off")
        result = subprocess.run(
            ["tmux", "-L", self.name, "display-message", "-p", "#{pid}"],
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        self.server_pid = int(result.stdout.strip())
        return self.server_pid

    def server_alive(self) -> bool:
        """True while the server started by :meth:`start_server` runs (a crash ends it)."""
        return pid_alive(self.server_pid)

    def run(self) -> None:
        alive: list[str] = []
        # After a crash, new-session would start a new server and hide the crash.
        while not self.stop.is_set() and self.server_alive():
            name = f"churn-{self.created}"
            if self.tmux("new-session", "-d", "-s", name, "sleep 3600") == 0:
                self.created += 1
                alive.append(name)
            if len(alive) > self.keep:
                self.tmux("kill-session", "-t", "=" + alive.pop(0))


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def server_alive(name: str) -> bool:
    """True when the server answers a command."""
    result = subprocess.run(
        ["tmux", "-L", name, "list-sessions"],
        env=_env(),
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def stray_clients(name: str) -> list[str]:
    """Control clients left attached (ours all end with the watcher)."""
    result = subprocess.run(
        ["tmux", "-L", name, "list-clients", "-F", "#{client_name} #{client_control_mode}"],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if line.endswith(" 1")]


def wait_connected(db: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Until the watcher's status file says it is connected (False: it exited or timed out)."""
    status = db.with_name(db.name + ".watcher.json")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            data = json.loads(status.read_text())
        except (OSError, ValueError):
            data = {}
        if data.get("pid") == proc.pid and any(
            isinstance(s.get("state"), dict) and s["state"].get("connected")
            for s in data.get("servers") or []
        ):
            return True
        time.sleep(0.02)
    return False


def tmux_children(pids: set[int]) -> list[int]:
    """``tmux`` processes whose parent was one of our watchers, or that were reparented to 1."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if cmdline and cmdline[0].endswith(b"tmux") and b"-C" in cmdline and ppid in pids:
            found.append(int(entry.name))
    return found


def run_once(
    restarts: int, client: str, seed: int, watch: str, deadline: float | None = None
) -> dict[str, Any]:
    """One run of the scenario; returns what happened."""
    rng = random.Random(seed)
    name = f"ccw-stress-{uuid.uuid4().hex[:8]}"
    env_extra = {"CCMGR_WATCH_TMUX_CLIENT": client} if client == "binary" else {}
    churn = Churn(name)
    with tempfile.TemporaryDirectory(prefix="ccw-stress-") as tmp:
        db = Path(tmp) / "data.db"
        churn.start_server()
        churn.start()
        done = 0
        crashed_after: int | None = None
        watcher_pids: set[int] = set()
        kinds = {"SIGTERM": 0, "SIGKILL": 0}
        attached = 0
        started = time.monotonic()
        try:
            for i in range(restarts):
                if deadline is not None and time.monotonic() > deadline:
                    break
                proc = subprocess.Popen(
                    [watch, "run", "-L", name],
                    env=_env(CCMGR_WATCH_DB=str(db), **env_extra),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                watcher_pids.add(proc.pid)
                # Stop it 0-0.7 s after its control client started (the window is the
                # client's start while sessions come and go); a watcher that is killed while
                # still importing Python would test nothing on a slow machine.
                if wait_connected(db, proc, timeout=10):
                    attached += 1
                time.sleep(rng.uniform(0.0, 0.7))
                sig = rng.choice([signal.SIGTERM, signal.SIGKILL])
                kinds[sig.name] += 1
                proc.send_signal(sig)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                done = i + 1
                if not churn.server_alive():
                    crashed_after = done
                    break
                time.sleep(rng.uniform(0.0, 0.5))
        finally:
            churn.stop.set()
            churn.join(timeout=10)
        time.sleep(0.3)  # a stray client of the last watcher would still be attached now
        alive = churn.server_alive() and server_alive(name)
        strays = stray_clients(name) if alive else []
        orphans = tmux_children(watcher_pids | {1})
        subprocess.run(
            ["tmux", "-L", name, "kill-server"],
            env=_env(),
            capture_output=True,
            check=False,
        )
        _remove_socket(name)
        return {
            "restarts": done,
            "attached": attached,
            "signals": kinds,
            "sessions_created": churn.created,
            "crashed": crashed_after is not None or not alive,
            "crashed_after": crashed_after,
            "stray_control_clients": strays,
            "orphan_tmux_clients": orphans,
            "seconds": round(time.monotonic() - started, 1),
        }


def clients_once(starts: int, client: str, seed: int) -> dict[str, Any]:
    """Control clients alone (no watcher) started one after another under the same churn.

    ``binary`` runs ``tmux -u -C attach-session`` as every version before the native client
    did; ``native`` uses the watcher's own client
    (:func:`watcher.capture.tmux_client.open_control_client`).
    Each lives 0.05-0.4 s and is ended by closing its input (binary: or by SIGKILL, at random).
    """
    import anyio

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from watcher.capture.tmux_address import CONTROL_FLAGS, socket_dir
    from watcher.capture.tmux_client import open_control_client

    rng = random.Random(seed)
    name = f"ccw-stress-{uuid.uuid4().hex[:8]}"
    churn = Churn(name)
    churn.start_server()
    churn.start()
    socket_path = str(socket_dir() / name)
    done = 0
    crashed_after: int | None = None

    async def native_client(life: float) -> None:
        async with open_control_client(socket_path, "$0"):
            await anyio.sleep(life)

    started = time.monotonic()
    try:
        for i in range(starts):
            life = rng.uniform(0.05, 0.4)
            if client == "binary":
                argv = ["tmux", "-u", "-S", socket_path, "-C", "attach-session"]
                proc = subprocess.Popen(
                    [*argv, "-f", CONTROL_FLAGS, "-t", "$0"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=_env(),
                )
                time.sleep(life)
                if rng.random() < 0.5:
                    proc.kill()
                else:
                    assert proc.stdin is not None
                    proc.stdin.close()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            else:
                with contextlib.suppress(Exception):  # a crashed server shows below
                    anyio.run(native_client, life)
            done = i + 1
            if not churn.server_alive():
                crashed_after = done
                break
    finally:
        churn.stop.set()
        churn.join(timeout=10)
    subprocess.run(["tmux", "-L", name, "kill-server"], env=_env(), capture_output=True)
    _remove_socket(name)
    return {
        "starts": done,
        "sessions_created": churn.created,
        "crashed": crashed_after is not None,
        "crashed_after": crashed_after,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    """Run the scenario ``--runs`` times and print per-run results and totals as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=40)
    parser.add_argument("--client", choices=["native", "binary"], default="native")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--watch", default=str(VENV_BIN / "ccmgr-watch"))
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        metavar="N",
        help="start N bare control clients per run instead of restarting the watcher",
    )
    args = parser.parse_args()
    if args.clients:
        runs = [clients_once(args.clients, args.client, args.seed + i) for i in range(args.runs)]
        restarts = sum(r["starts"] for r in runs)
    else:
        runs = [
            run_once(args.restarts, args.client, args.seed + i, args.watch)
            for i in range(args.runs)
        ]
        restarts = sum(r["restarts"] for r in runs)
    print(
        json.dumps(
            {
                "client": args.client,
                "runs": runs,
                "crashes": sum(r["crashed"] for r in runs),
                "scenario": "bare clients" if args.clients else "watcher restarts",
                "starts_total": restarts,
                "tmux": subprocess.run(
                    ["tmux", "-V"], capture_output=True, text=True, check=False
                ).stdout.strip(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
