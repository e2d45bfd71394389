"""The statistics read events through the indexes (EXPLAIN QUERY PLAN), never by scanning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store.db import migrate_sync
from store.stats import activity_sql


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "data.db"
    migrate_sync(path)
    return sqlite3.connect(path)


def plan(conn: sqlite3.Connection, *, most: bool) -> list[str]:
    sql = activity_sql("sessions.project IS ? COLLATE NOCASE", by="project", most=most)
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", (0.0, 0.0, 1e12, "x")).fetchall()
    return [row[3] for row in rows]


def test_few_sessions_read_their_events_session_by_session(conn) -> None:
    details = plan(conn, most=False)
    assert any("USING INDEX ix_session_events_session (session_id=?)" in d for d in details)
    assert not any(d.startswith("SCAN session_events") or d == "SCAN e" for d in details)


def test_most_sessions_read_only_attach_detach_and_end_events(conn) -> None:
    details = plan(conn, most=True)
    assert any("USING INDEX ix_session_events_type (event_type=?)" in d for d in details)
    assert not any(d.startswith("SCAN session_events") or d == "SCAN e" for d in details)
