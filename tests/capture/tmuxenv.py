"""A private tmux server and a `ccmgr-watch run` subprocess, for the capture scenario tests."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
CCMGR_WATCH = str(VENV_BIN / "ccmgr-watch")
_counter = itertools.count()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without TMUX (a test run inside tmux must not reach that server)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.setdefault("TERM", "xterm")
    env.update(extra)
    return env


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


class Tmux:
    """One private tmux server (``-L <unique> -f /dev/null``); killed by :meth:`kill_server`."""

    def __init__(self, tmpdir: Path | None = None) -> None:
        self.name = f"ccw-{os.getpid()}-{next(_counter)}"
        self.env = clean_env(**({"TMUX_TMPDIR": str(tmpdir)} if tmpdir else {}))
        uid = os.getuid()
        base = self.env.get("TMUX_TMPDIR") or "/tmp"
        self.socket = os.path.join(base, f"tmux-{uid}", self.name)

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {args} failed: {result.stderr}")
        return result.stdout

    def new(self, name: str, *extra: str) -> str:
        """Create a detached session running ``sleep``; returns its tmux id."""
        out = self(
            "new-session", "-d", "-P", "-F", "#{session_id}", "-s", name, *extra, "sleep 3600"
        )
        return out.strip()

    def kill_server(self) -> None:
        self("kill-server", check=False)
        with contextlib.suppress(OSError):
            os.unlink(self.socket)

    def attach_pty(self, target: str) -> subprocess.Popen[bytes]:
        """A real client on a pseudo-terminal (through ``script``) attached to ``target``."""
        command = f"tmux -L {self.name} attach-session -t {target}"
        return subprocess.Popen(
            ["script", "-q", "-e", "-c", command, "/dev/null"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )


class Watcher:
    """``ccmgr-watch run -L <name>`` as a subprocess writing to ``db``."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.args = args
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Watcher:
        self.proc = subprocess.Popen(
            [CCMGR_WATCH, "run", *self.args],
            env=clean_env(CCMGR_WATCH_DB=str(self.db), **self.extra_env),
            cwd=self.db.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return self

    def wait_connected(self) -> None:
        """Until the status file says every watched server is connected."""

        def connected() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"watcher exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            status = self.db.with_name(self.db.name + ".watcher.json")
            try:
                import json

                data = json.loads(status.read_text())
            except (OSError, ValueError):
                return False
            if data.get("pid") != self.proc.pid or not data.get("running"):
                return False  # a status file left by an earlier watcher
            servers = data.get("servers") or []
            return bool(servers) and all(
                isinstance(s.get("state"), dict) and s["state"].get("connected") for s in servers
            )

        wait_until(connected, what="the watcher to connect")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        return self.proc.stderr.read().decode()


class Lines(threading.Thread):
    """A process's stderr lines as they come (``Watcher.stderr`` reads only at its end)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.lines: list[str] = []

    def run(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def waiting(self) -> list[str]:
        return [line for line in self.lines if "waiting for one" in line]

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from the database (empty while it does not exist yet)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


def events_of(db: Path, name: str) -> list[str]:
    """Event types of the most recent session with this name, oldest first."""
    return [
        row[0]
        for row in query(
            db,
            "SELECT e.event_type FROM session_events e JOIN sessions s ON s.id = e.session_id "
            "WHERE s.id = (SELECT id FROM sessions WHERE name = ? ORDER BY last_access DESC "
            "LIMIT 1) ORDER BY e.id",
            name,
        )
    ]
