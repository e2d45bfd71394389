"""Fixtures for the import and dual-mode tests: the CLI in process, a database, file hashes."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``ccmgr-watch ARGS`` in process: (exit code, stdout, stderr)."""
    from watcher.cli.main import run

    def call(*args: str) -> tuple[int, str, str]:
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the database."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def digest(*paths: Path) -> str:
    """One hash over the bytes of every file that exists (a database and its -wal)."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()


def snapshot(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every session and event, in order."""
    return (
        rows(db, "SELECT * FROM sessions ORDER BY id"),
        rows(db, "SELECT * FROM session_events ORDER BY id"),
    )
