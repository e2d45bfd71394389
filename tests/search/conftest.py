"""Fixtures for the search tests: real SQLite files migrated to the latest schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from store.db import migrate_sync

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
    "host",
)

T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A migrated, empty database file."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain stdlib connection to the migrated database (autocommit)."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    yield connection
    connection.close()


def insert_sessions(conn: sqlite3.Connection, sessions: list[dict[str, Any]]) -> None:
    """Insert sessions with plain SQL, as any tool could (the triggers index them).

    ``host`` (sql/004) only when a session gives one: older schemas have no such column.
    """
    fields = [f for f in SESSION_FIELDS if f != "host" or any("host" in s for s in sessions)]
    placeholders = ", ".join("?" for _ in fields)
    conn.executemany(
        f"INSERT INTO sessions ({', '.join(fields)}) VALUES ({placeholders})",
        [tuple(s.get(f) for f in fields) for s in sessions],
    )


def migrated_database(
    path: Path, rows: list[dict[str, Any]], version: int | None = None
) -> sqlite3.Connection:
    """A database file migrated to ``version`` (default: the latest) holding ``rows``, with
    SQLite's statistics (ANALYZE) as a used file has them; an autocommit connection to it."""
    migrate_sync(path, version)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    insert_sessions(conn, rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    return conn


def make_session(n: int, **fields: Any) -> dict[str, Any]:
    """A session row with sensible defaults (``n`` makes the id and times distinct)."""
    stamp = f"2026-11-{10 + n % 15:02d}T{n % 24:02d}:00:00.000000Z"
    row: dict[str, Any] = {
        "id": f"s{n:04d}",
        "name": f"session-{n}",
        "project": None,
        "worktree": None,
        "branch": None,
        "directory": None,
        "created_at": stamp,
        "updated_at": stamp,
        "last_access": stamp,
        "status": "detached",
    }
    row.update(fields)
    return row


def spread_session(n: int, words: list[str], sessions: int, **fields: Any) -> dict[str, Any]:
    """Session ``n`` of ``sessions`` named by ``words`` (and ``n``): recorded in rowid order,
    last used in an order spread across them (a walk of the recent order meets every part of
    the table), ended."""
    row = make_session(
        n,
        id=f"s{n:05d}",
        name="-".join([*words, str(n)]),
        created_at=f"2026-01-01T00:00:00.{n:06d}Z",
        last_access=f"2026-06-01T00:00:00.{(n * 4001) % sessions:06d}Z",
        status="ended",
    )
    row.update(fields)
    return row


MINUTES_START = datetime(2026, 11, 1, tzinfo=UTC)
"""Where the time-window tests' sessions start: one a minute (:func:`minute_stamp`)."""


def minute_stamp(n: int) -> str:
    """The stored timestamp ``n`` minutes after MINUTES_START."""
    return (MINUTES_START + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def since_minute(n: int) -> str:
    """A ``since:`` that keeps the sessions from minute ``n`` on."""
    return "since:" + minute_stamp(n).replace(".000000Z", "Z")


def until_minute(n: int) -> str:
    """An ``until:`` that keeps the sessions up to minute ``n``."""
    return "until:" + minute_stamp(n).replace(".000000Z", "Z")


def traced(conn: sqlite3.Connection, run: Callable[[], T]) -> tuple[T, list[str]]:
    """What ``run()`` returns, and the statements it ran on ``conn`` (as SQLite traces them:
    their parameters bound)."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        return run(), seen
    finally:
        conn.set_trace_callback(None)


def reference_ids(conn: sqlite3.Connection, tree: Any) -> set[str]:
    """The ids of the sessions on ``conn`` that the reference evaluator says ``tree`` (a
    parsed query) matches."""
    from .reference import matches

    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(row) for row in conn.execute("SELECT * FROM sessions")]
    finally:
        conn.row_factory = None
    return {row["id"] for row in rows if matches(tree, row)}
