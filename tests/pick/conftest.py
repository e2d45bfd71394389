"""The picker under a private tmux server: start it in a pane, type, read the screen."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, wait_until

SESSION_FIELDS = (
    "id",
    "name",
    "project",
    "worktree",
    "branch",
    "directory",
    "created_at",
    "updated_at",
    "last_access",
    "status",
    "ended_at",
    "tmux_server",
    "tmux_id",
)


def session_row(n: int, name: str, **fields: Any) -> dict[str, Any]:
    """A session row: ``n`` orders them (a higher n was used more recently)."""
    stamp = f"2026-11-{10 + n:02d}T10:00:00.000000Z"
    row: dict[str, Any] = dict.fromkeys(SESSION_FIELDS)
    row.update(
        id=f"s-{n:016x}",
        name=name,
        created_at=stamp,
        updated_at=stamp,
        last_access=stamp,
        status="detached",
    )
    row.update(fields)
    return row


def insert(
    db: Path, rows: list[dict[str, Any]], events: Sequence[tuple[str, str, str, str]] = ()
) -> None:
    """Write sessions (and events: session id, type, timestamp, JSON data) with plain SQL."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executemany(
            f"INSERT INTO sessions ({', '.join(SESSION_FIELDS)}) "
            f"VALUES ({', '.join('?' for _ in SESSION_FIELDS)})",
            [tuple(r[f] for f in SESSION_FIELDS) for r in rows],
        )
        conn.executemany(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            events,
        )
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A migrated, empty database."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    return path


# Runs the picker's argv (no string is built from it), then shows its exit status and keeps
# the pane: tmux may drop what a pane printed just before its process exited.
RUNNER = ["sh", "-c", '"$@"; echo "[exit $?]"; exec sleep 600', "sh"]


class Picker:
    """``ccmgr-watch pick`` in the pane of session ``picker`` on a private server; the pane
    stays when the picker exits, so its output and exit status can be read."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux
        self.target = "picker"

    def start(self, db: Path, *args: str, session: str | None = None) -> Picker:
        argv = [*RUNNER, CCMGR_WATCH, "pick", "--db", str(db), *args]
        if session is None:
            self.tmux("new-session", "-d", "-s", "picker", "-x", "120", "-y", "40", *argv)
        else:  # a window of a session a client is attached to
            self.target = self.tmux(
                "new-window", "-P", "-F", "#{pane_id}", "-t", session, *argv
            ).strip()
        return self

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.target, check=False)

    def lines(self) -> list[str]:
        return self.screen().splitlines()

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", "-t", self.target, text)

    def wait_for(self, predicate: Any, what: str, timeout: float = 15.0) -> str:
        """The screen once ``predicate(screen)`` holds (a string: once it shows that text)."""
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        found: list[str] = []

        def ready() -> bool:
            text = self.screen()
            found[:] = [text]
            return bool(check(text))

        try:
            wait_until(ready, timeout=timeout, what=what)
        except AssertionError:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{found[0]}") from None
        return found[0]

    def exit_status(self) -> int:
        """The picker's exit status, once it has exited."""

        def status() -> str:
            found = re.search(r"\[exit (\d+)\]", self.screen())
            return found.group(1) if found else ""

        return int(wait_until(status, what="the picker to exit"))


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server holding one session."""
    server = Tmux()
    server.new("holder")
    try:
        yield server
    finally:
        server.kill_server()


@pytest.fixture
def picker(tmux: Tmux) -> Picker:
    return Picker(tmux)
