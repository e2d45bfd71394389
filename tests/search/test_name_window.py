"""`--sort name` within a since:/until: window (docs/search.md, eighth round): ``name_window``
(the name snapshot's walk, each match's session tested against the window's rowid range
before its row is read) and ``window_walk`` for a window alone (the name index walked, the
window tested in it). The planner's choice from its reads as they are at 1 M and 100 k
sessions, SQLite's plan (EXPLAIN QUERY PLAN), and the rows, which are the default plan's with
the snapshot built, with sessions written since (its delta), and with renamed ones.

6,000 sessions recorded in time order (rowid n created and last used at minute n), "auth" in
half of them, names not in time order; the property tests check the plans on rows whose times
are in no relation to their rowids (tests/search/test_property.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from store.name_order import rebuild, window_facts
from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP, CompiledQuery
from store.search import (
    WIDE_FILTER_CAP,
    choose_plan,
    choose_wordless,
    plan_sync,
    rows_sync,
    run_plan_sync,
)

from .conftest import insert_sessions, make_session
from .conftest import minute_stamp as _stamp
from .conftest import since_minute as _since
from .conftest import until_minute as _until

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZE = 6000
# The planner's reads at 1 M sessions (m013-1000000.db, `auth ... --sort name`): the newest
# 256 matches of `auth` span 528 rowids; the window's count reaches its caps.
AUTH = (256, 999_472, 1_000_000)
# A week in the middle: 9,542 sessions estimated, 734,924 rowids above its end, 7 days.
WEEK = (9_542, 734_924, 7)
# since:104w: every session.
YEARS = (997_215, 0, 729)


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("name_window") / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    rows = []
    for n in range(SIZE):
        word = "auth" if n % 2 else "other"
        # Names in no relation to time: a window's sessions spread through A-Z.
        name = f"p{n % 7}-{word}-{(n * 7919) % SIZE:05d}"
        stamp = _stamp(n)
        rows.append(
            make_session(n, name=name, created_at=stamp, updated_at=stamp, last_access=stamp)
        )
    conn.execute("BEGIN")
    insert_sessions(conn, rows)
    rebuild(conn)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    yield conn
    conn.close()


def _lines(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def _query(text: str, **kwargs: object) -> CompiledQuery:
    return compile_query(parse_query(text, now=NOW), sort="name", **kwargs)  # type: ignore[arg-type]


def _default(conn: sqlite3.Connection, query: CompiledQuery) -> list[Any]:
    return conn.execute(query.sql, query.params).fetchall()


def test_a_dense_word_in_a_week_walks_the_snapshot_within_the_weeks_rowids(
    timed: sqlite3.Connection,
) -> None:
    """`auth since:2025-06-01 until:2025-06-07 --sort name` at 1 M: name_snapshot read the
    session of each of ~2,800 matches walked to test the window (16 ms); name_window tests
    its rowid against the window's range first (3.9 ms)."""
    query = _query(f"auth {_since(2000)} {_until(2999)}")
    plan = choose_plan(
        query, AUTH, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, snapshot=(0, 0), window=WEEK,
        ranged=(WEEK[0], WEEK[2]),
    )  # fmt: skip
    assert plan.name == "name_window"
    steps = timed.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params).fetchall()
    lines = [step[3] for step in steps]
    # The range's ends by day (migration 013), the snapshot's matches in rank order (no
    # sort), each rank's session by its rowid.
    assert any("INDEX ix_sessions_access_day" in line for line in lines), lines
    assert lines[:2] == [
        "SCAN sessions_name_fts VIRTUAL TABLE INDEX 64:M5",
        "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)",
    ], lines
    assert lines[-1] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    # The range's ends are read once (MATERIALIZE) and compared in the loop over the ranks,
    # before the session's row is read (the plan's ids are its addresses in the bytecode).
    scans = [step[0] for step in steps if step[3] == "SCAN bounds"]
    assert len(scans) == 2 and max(scans) < steps[-1][0], lines
    assert run_plan_sync(timed, plan) == _default(timed, query)
    assert rows_sync(timed, query) == _default(timed, query)
    # A window of every session: the range is no test, and reading its ends by day (730
    # seeks) is all it adds: the snapshot's own walk.
    years = _query("auth since:104w")
    plan = choose_plan(
        years, AUTH, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, snapshot=(0, 0), window=YEARS,
        ranged=(YEARS[0], YEARS[2]),
    )  # fmt: skip
    assert plan.name == "name_snapshot"


@pytest.mark.parametrize("window", [_until(2999), _since(2999), f"{_since(2999)} {_until(2999)}"])
def test_the_windows_end_sessions_are_within_its_range(
    timed: sqlite3.Connection, window: str
) -> None:
    """The session at the window's edge (the highest rowid before an until:, the lowest
    after a since:, both in a window of one minute) is walked: the range holds its ends."""
    (name,) = timed.execute("SELECT name FROM sessions WHERE rowid = 3000").fetchone()
    query = _query(f"auth name:{name} {window}")
    expected = _default(timed, query)
    assert [row[0] for row in expected] == ["s2999"]
    assert run_plan_sync(timed, query.plan("name_window")) == expected


def test_a_small_window_reads_its_matches_and_sorts_them() -> None:
    """`auth until:2024-11-27` at 1 M: 736 sessions, counted; their matches within the
    window's rowid range read and sorted (window_range, 1 ms), where the snapshot's walk
    would meet one in ~1,400 of its matches in the window (19 ms)."""
    query = _query(f"auth {_until(299)}")
    plan = choose_plan(query, AUTH, 736, snapshot=(0, 0), ranged=(2_083, 2))
    assert plan.name == "window_range"


def test_a_project_beside_a_window_walks_the_projects_snapshot_within_the_windows_rowids(
    timed: sqlite3.Connection,
) -> None:
    """`auth project:myapp since:2025-06-01 until:2025-06-07 --sort name`: the project is the
    indexed filter (its part of the window counted: 286 at 100 k, 2,048 or more at 1 M). Its
    rows in name order from its own index (filter_tested) pass at the window's share, not at
    the count's (15 ms at 100 k, where it was estimated at 286 rows); the snapshot's matches
    of the project (its column phrase) pass at the window's share too: name_window reads the
    window's estimate (four seeks) for both."""
    query = _query(f"auth project:p3 {_since(2000)} {_until(2999)}")
    ranged = window_facts(timed, query, None)
    assert ranged is not None and 900 <= ranged[0] <= 1100 and ranged[1] == 2
    hundred = (256, 99_476, 100_000)
    assert choose_plan(query, hundred, 286, snapshot=(0, 0), ranged=(959, 7)).name == (
        "name_window"
    )
    assert choose_plan(query, AUTH, FILTER_CAP, snapshot=(0, 0), ranged=WEEK[::2]).name == (
        "name_window"
    )
    plan = query.plan("name_window")
    lines = _lines(timed, plan.sql, plan.params)
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert "p3" in str(plan.params) and "{project}" in str(plan.params)
    assert run_plan_sync(timed, plan) == _default(timed, query)
    assert rows_sync(timed, query) == _default(timed, query)


def test_a_window_alone_walks_the_name_index_testing_the_window_in_it(
    timed: sqlite3.Connection,
) -> None:
    """`since:2025-06-01 until:2025-06-07 --sort name` at 1 M: SQLite read the window's 9,708
    sessions from the last-access index and sorted them (16 ms); the name index read in
    order, the window tested in it (it holds last_access), stops at the page (0.4 ms).
    A window too small to be worth looking for through the whole index: its rows, sorted."""
    query = _query(f"{_since(2000)} {_until(2999)}")
    plan = choose_wordless(query, FILTER_CAP, 1_000_000)
    assert plan.name == "window_walk"
    lines = _lines(timed, plan.sql, plan.params)
    # Not the window's own index, whose every row would be read and sorted: the name index
    # in its order (equal names sorted by last access), stopping at the page.
    assert lines == [
        "SCAN sessions USING INDEX ix_sessions_name_nocase",
        "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    ], lines
    assert run_plan_sync(timed, plan) == _default(timed, query)
    assert choose_wordless(query, 736, 1_000_000).name == "filter_first"
    # With another condition the window's share is not the page's: no walk offered.
    other = _query(f"dir:/a {_since(2000)} {_until(2999)}")
    assert not any(p.name == "window_walk" for p in other.plans)
    for text in (f"{_since(2000)} {_until(2999)}", _until(2999), "since:2026-11-04"):
        query = _query(text)
        assert rows_sync(timed, query) == _default(timed, query)


@pytest.mark.parametrize(
    "window",
    [
        _until(299),
        _until(2999),
        f"{_since(2000)} {_until(2599)}",
        "since:2026-11-04",
        # Empty: no session was last used between the two (each is a multiple of 10 minutes),
        # so its bounds are NULL. (A `since:` after its `until:` compiles to nothing at all.)
        f"{_since(11)} {_until(19)}",
    ],
)
@pytest.mark.parametrize("words", ["auth", "auth -other", "auth project:p3", '"p3 auth"'])
def test_the_snapshots_delta_is_merged_within_the_window(
    tmp_path: Path, window: str, words: str
) -> None:
    """Exact whatever the snapshot's delta: sessions inserted since its build (rowids above
    it: outside the range the snapshot's walk is bounded to, read by the delta's statement)
    and renamed ones (dirty: tested one by one), with ties of names (NOCASE) ordered by last
    access then rowid."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    rows = [
        make_session(
            n,
            name=f"p{n % 3}-{'auth' if n % 2 else 'other'}-{n % 50:02d}",
            created_at=_stamp(n * 10),
            updated_at=_stamp(n * 10),
            last_access=_stamp(n * 10),
        )
        for n in range(400)
    ]
    conn.execute("BEGIN")
    insert_sessions(conn, rows[:300])
    rebuild(conn)
    # Inserted since the build, some last used inside every window; renamed since it.
    insert_sessions(conn, rows[300:])
    conn.execute(
        "UPDATE sessions SET name = upper(name) || '-x', last_access = ? WHERE rowid % 17 = 0",
        (_stamp(2100),),
    )
    conn.execute("COMMIT")
    query = _query(f"{words} {window}", limit=7, offset=2)
    plan = query.plan("name_window")
    expected = _default(conn, query)
    assert run_plan_sync(conn, plan) == expected
    assert rows_sync(conn, query) == expected
    conn.execute("BEGIN")
    rebuild(conn)
    conn.execute("COMMIT")
    assert run_plan_sync(conn, plan) == expected
    assert plan_sync(conn, query).name in {p.name for p in query.plans}
    conn.close()


def test_the_plans_are_offered_by_name_within_a_window_only() -> None:
    def names(text: str, sort: str = "name", limit: int | None = 20) -> list[str]:
        query = compile_query(parse_query(text, now=NOW), sort=sort, limit=limit)  # type: ignore[arg-type]
        return [plan.name for plan in query.plans]

    window = f"{_since(2000)} {_until(2999)}"
    # Wherever the snapshot's walk is, with a window at the query's top: after it.
    words = names(f"auth {window}")
    assert words[words.index("name_snapshot") + 1] == "name_window"
    assert "name_window" in names(f"auth project:p3 -status:ended {window}")
    assert "name_window" not in names("auth")
    assert "name_window" not in names(f"auth {window}", sort="recent")
    assert "name_window" not in names(f"auth {window}", limit=None)
    assert "name_window" not in names(f"-auth {window}")
    assert "name_window" not in names(f"auth (other OR {window})")
    # A window alone: its ordered read of the name index (no budget: it is exact).
    assert names(window) == ["fts_first", "window_walk", "filter_first"]
    assert "window_walk" not in names(window, sort="recent")
    assert "window_walk" not in names(window, limit=None)
    assert "window_walk" not in names(f"status:ended {window}")
