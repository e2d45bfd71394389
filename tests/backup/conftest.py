"""Fixtures for the backup tests: a filled database, a config, the CLI in process."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from store.paths import app_dir

T0 = "2026-11-20T10:00:00.000000Z"


def add_rows(db: Path, sessions: range, events_each: int = 3, stamp: str = T0) -> None:
    """Insert sessions ``s-<n>`` with ``events_each`` events each, changed at ``stamp`` + n µs."""
    conn = sqlite3.connect(db)
    with conn:
        for n in sessions:
            changed = f"{stamp[:20]}{n % 1_000_000:06d}Z"
            conn.execute(
                "INSERT INTO sessions (id, name, created_at, updated_at, last_access, status) "
                "VALUES (?, ?, ?, ?, ?, 'detached')",
                (f"s-{n}", f"name-{n}", stamp, changed, stamp),
            )
            conn.executemany(
                "INSERT INTO session_events (session_id, event_type, timestamp, data) "
                "VALUES (?, ?, ?, ?)",
                [(f"s-{n}", "created", stamp, json.dumps({"k": k})) for k in range(events_each)],
            )
    conn.close()


def dump(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every session and event, sorted: what a restore must bring back."""
    conn = sqlite3.connect(db)
    try:
        sessions = conn.execute("SELECT * FROM sessions ORDER BY id").fetchall()
        events = conn.execute("SELECT * FROM session_events ORDER BY id").fetchall()
    finally:
        conn.close()
    return sessions, events


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A migrated database with 20 sessions of 3 events each."""
    path = tmp_path / "state" / "data.db"
    migrate_sync(path)
    add_rows(path, range(20))
    return path


@pytest.fixture
def write_config() -> Callable[[str], Path]:
    """Write the global config.yaml (the text of its backup section and more)."""

    def write(text: str) -> Path:
        path = app_dir() / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text("version: 2.1.0\n" + text)
        return path

    return write


@pytest.fixture
def folder() -> Path:
    """Where backups go by default."""
    return app_dir() / "backups"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``ccmgr-watch ARGS`` in process: (exit code, stdout, stderr)."""
    from watcher.cli.main import run

    def call(*args: str) -> tuple[int, str, str]:
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def set_keys(path: Path, text: str) -> Path:
    """A 0600 file holding ``text``."""
    path.write_text(text)
    path.chmod(0o600)
    return path
