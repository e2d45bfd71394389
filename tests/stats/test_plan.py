"""The statistics read the stored attached spans through their primary key, and events only
through an index (EXPLAIN QUERY PLAN), never by scanning."""

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


def plan(conn: sqlite3.Connection, *, by: str) -> list[str]:
    sql = activity_sql("sessions.project IS ? COLLATE NOCASE", by=by)  # type: ignore[arg-type]
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", (0.0, 0.0, 1e12, "x")).fetchall()
    return [row[3] for row in rows]


@pytest.mark.parametrize("by", ["project", "day", "hour"])
def test_spans_are_read_session_by_session_and_events_through_an_index(conn, by) -> None:
    details = plan(conn, by=by)
    assert "SEARCH a USING PRIMARY KEY (session_id=?)" in details
    assert not any(d.startswith(("SCAN session_events", "SCAN attached_spans")) for d in details)
    assert not any(d in ("SCAN x", "SCAN a") for d in details)
    # sql/007's aggregates: totals by session, the per-day hour sums in day order (no sorting).
    assert "SEARCH t USING PRIMARY KEY (session_id=?) LEFT-JOIN" in details
    assert any(d.startswith("SEARCH d USING PRIMARY KEY (day>? AND day<?)") for d in details)
    assert not any(d.startswith("SCAN d") for d in details)
    after_days = details[details.index("SEARCH d USING PRIMARY KEY (day>? AND day<?)") + 1 :]
    assert "USE TEMP B-TREE FOR GROUP BY" not in after_days[:6]
    events = [d for d in details if d.startswith("SEARCH x")]
    assert events and all("USING INDEX ix_session_events_attach (session_id=?" in d for d in events)


@pytest.mark.parametrize("by", ["project", "day"])
def test_every_session_reads_the_day_sums_of_every_session(conn, by) -> None:
    # sql/008: the sums per day over every session by their key, less the rows of the few
    # sessions that are not whole, found through their session's index; attached_days is
    # not read in day order.
    sql = activity_sql("1", by=by, everyone=True)
    details = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", (0.0, 0.0, 1e12))]
    assert any(d.startswith("SEARCH attached_days_all USING INTEGER PRIMARY KEY") for d in details)
    assert any(
        d.startswith("SEARCH r USING INDEX ix_attached_days_session (session_id=?") for d in details
    )
    assert not any(
        d.startswith(("SEARCH d USING PRIMARY KEY", "SCAN attached_days")) for d in details
    )


@pytest.mark.parametrize("by", ["project", "worktree", "branch"])
def test_a_whole_history_by_group_streams_the_stored_sums_of_ended_sessions(conn, by) -> None:
    # sql/010: the ended sessions' sums per group read from the group's index in its order
    # (no sorting), the others found through the status index and exact_from's; the sessions
    # table is read only by id; each median by offset in its group's index.
    from store.stats import median_sql, settled_sql

    details = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {settled_sql(by)}", (0, 0, 1e12))]
    scan = f"SCAN stats_ended USING COVERING INDEX ix_stats_ended_{by}"
    last = len(details) - details[::-1].index("UNION ALL")  # the last part: the sums
    assert details[last] == scan
    assert "USE TEMP B-TREE FOR GROUP BY" not in details[last:]
    assert "SEARCH o USING INDEX ix_sessions_status (status=?)" in details
    assert "SEARCH e USING COVERING INDEX ix_stats_ended_exact (exact_from>?)" in details
    assert "SEARCH sessions USING INDEX sqlite_autoindex_sessions_1 (id=?)" in details
    assert not any(d.startswith(("SCAN sessions", "SCAN o", "SCAN attached")) for d in details)
    median = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {median_sql(by)}", (1, 1, 0, "x"))]
    assert median == [f"SEARCH stats_ended USING COVERING INDEX ix_stats_ended_{by} ({by}=?)"]
    every = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {median_sql(None)}", (1, 1, 0))]
    assert every == ["SCAN stats_ended USING COVERING INDEX ix_stats_ended_life"]


@pytest.mark.parametrize("where", ["1", "sessions.project IS ? COLLATE NOCASE"])
def test_a_window_reads_only_the_sessions_that_may_be_alive_in_it(conn, where) -> None:
    # sql/010: the alive sessions through the status index and the ended ones whose latest
    # moment is in or after the window through exact_from's index; the sessions table by id.
    params = (0.0, 1.0, 1e12) + (("x",) if "?" in where else ())
    sql = activity_sql(where, by="day", narrow=True)
    details = [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    if where == "1":
        assert "SEARCH sessions USING INDEX sqlite_autoindex_sessions_1 (id=?)" in details
    else:  # SQLite may drive by the project's index instead, testing the list per row
        assert any(d.startswith("SEARCH sessions USING INDEX") for d in details)
    assert "SEARCH o USING INDEX ix_sessions_status (status=?)" in details
    assert "SEARCH e USING COVERING INDEX ix_stats_ended_exact (exact_from>?)" in details
    assert not any(d.startswith("SCAN sessions") for d in details)
