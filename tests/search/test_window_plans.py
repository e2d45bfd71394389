"""The plans of words with a since:/until: window (store.query.windows): the planner's choice
from its reads as they are at 1 M sessions, SQLite's plan for it (EXPLAIN QUERY PLAN), and the
rows, which are the default plan's whatever the relation between rowids and times.

6,000 sessions recorded in time order (rowid n was created and last used at minute n), "auth"
in half of them, "zanzibar" in one; so a window in the past is a stretch of old rowids, as in
a real history (the property tests check the plans on rows whose times are in no order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.db import migrate_sync
from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP, CompiledQuery
from store.query.windows import WINDOW_ESTIMATE_SQL, window_bounds, window_estimate
from store.search import (
    WIDE_FILTER_CAP,
    choose_plan,
    choose_wordless,
    plan_sync,
    rows_sync,
    run_plan_sync,
    with_statistics_sync,
)

from .conftest import insert_sessions, make_session
from .conftest import minute_stamp as _stamp
from .conftest import until_minute as _until

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZE = 6000
# The planner's reads as they are at 1 M sessions for `auth until:...` with a window of
# ~10 %: the newest 256 matches span 512 rowids, the window's count reached its cap, none of
# the newest matches pass it, and the window's estimate: 106,000 sessions ending 894,000
# rowids below the newest.
HALF = (256, 1_000_000 - 511, 1_000_000)
WINDOW = (106_000, 894_000)


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("windows") / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    rows = []
    for n in range(SIZE):
        word = "auth" if n % 2 else "other"
        name = f"p{n % 7}-{word}-{n}" + ("-zanzibar" if n == 1001 else "")
        stamp = _stamp(n)
        rows.append(
            make_session(n, name=name, created_at=stamp, updated_at=stamp, last_access=stamp)
        )
    conn.execute("BEGIN")
    insert_sessions(conn, rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    yield conn
    conn.close()


def _lines(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def _fts(lines: list[str]) -> list[str]:
    return [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]


def _default(conn: sqlite3.Connection, text: str, sort: str) -> list[object]:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    return conn.execute(query.sql, query.params).fetchall()


def test_the_window_is_read_from_the_querys_top_level_times() -> None:
    tree = parse_query("auth since:2026-11-02 until:2026-11-05 until:2026-11-04", now=NOW)
    assert window_bounds(tree) == ("2026-11-02T00:00:00.000000Z", "2026-11-04T23:59:59.999999Z")
    assert window_bounds(parse_query("auth", now=NOW)) is None
    # With an exact project the project's index is the indexed filter: the window is beside
    # it, and only the plans that test the rest of the query on each row take it (ninth
    # round: test_window_beside.py).
    query = compile_query(parse_query("auth project:x until:2026-11-04", now=NOW))
    assert query.facts is not None and query.facts.window is None
    assert query.facts.beside is not None
    assert query.facts.beside.window == (None, "2026-11-04T23:59:59.999999Z")
    assert [p.name for p in query.plans if p.name.startswith("window_")] == ["window_scored_by_day"]


def test_the_estimate_is_the_stretch_of_rowids_created_between_the_ends(
    timed: sqlite3.Connection,
) -> None:
    # Created at minute n: until minute 999 ends at rowid 1,000, 5,000 rows above it.
    cases: list[tuple[tuple[str | None, str | None], tuple[int, int]]] = [
        ((None, _stamp(999)), (1000, 5000)),
        ((_stamp(2000), _stamp(2999)), (1000, 3000)),
        ((_stamp(5000), None), (1000, 0)),
    ]
    for bounds, expected in cases:
        row = timed.execute(WINDOW_ESTIMATE_SQL, (bounds[1], bounds[0])).fetchone()
        assert window_estimate(row, bounds) == expected


def test_a_dense_word_in_a_past_window_ranks_the_matches_within_its_rowids(
    timed: sqlite3.Connection,
) -> None:
    """window_scored: `auth until:2025-02-11` at 1 M streamed every newer match (~250,000)
    before the window's; the window's lowest and highest rowid, read from the last-access
    index alone, bound the stream (FTS5 seeks to the highest)."""
    text = f"auth {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW))
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), window=WINDOW
    )
    assert plan.name == "window_scored"
    lines = _lines(timed, plan.sql, plan.params)
    assert "SEARCH sessions USING COVERING INDEX ix_sessions_last_access (last_access<?)" in lines
    # The matches streamed newest first within the range, no lookup a row, no sort.
    (fts,) = _fts(lines)
    assert ":=" not in fts and ">" in fts.split(":")[-1] and "<" in fts.split(":")[-1], lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    forced = with_statistics_sync(timed, query, plan)
    assert run_plan_sync(timed, forced) == timed.execute(query.sql, query.params).fetchall()
    # Most of the newest matches pass a window open towards now: streaming them is cheaper.
    assert choose_plan(query, HALF, FILTER_CAP, passing=(200, 256)).name == "newest_scored"


@pytest.mark.parametrize("sort", ["recent", "created", "name"])
def test_a_dense_word_in_a_past_window_is_not_walked_from_the_newest(
    timed: sqlite3.Connection, sort: str
) -> None:
    """The walks from the top of the recent or created order meet none of a window that ends
    894,000 rowids below the newest: the window's own order is read instead (recent), the
    created order from the window's end (created: window_created, test_window_order.py), or
    the name index tested for the window (name)."""
    text = f"auth {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = choose_plan(query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW)
    expected = {"recent": "filter_tested", "created": "window_created", "name": "window_walk"}
    assert plan.name == expected[sort]
    lines = _lines(timed, plan.sql, plan.params)
    if sort == "recent":
        # The window's rows in the recent order straight from its index: no sort, and the
        # words tested in Python (no full-text read).
        assert lines == ["SEARCH sessions USING INDEX ix_sessions_last_access (last_access<?)"]
    elif sort == "created":
        assert any("COVERING INDEX ix_sessions_created_at" in line for line in lines), lines
        assert _fts(lines) and not any(":=" in line for line in _fts(lines)), lines
        assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
        # Without migration 013's indexes: the matches within the window's rowid range.
        kept = tuple(p for p in query.plans if p.name != "window_created")
        query = CompiledQuery(query.sql, query.params, query.ranked, kept, query.facts)
        plan = choose_plan(query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW)
        assert plan.name == "window_range"
        lines = _lines(timed, plan.sql, plan.params)
        assert any("COVERING INDEX ix_sessions_last_access" in line for line in lines), lines
        assert _fts(lines) and not any(":=" in line for line in _fts(lines)), lines
        assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    else:
        # The window tested in the name index (it holds last_access); a lookup a walked row.
        assert "SCAN sessions USING COVERING INDEX ix_sessions_name_nocase" in lines, lines
        assert any(":=" in line for line in _fts(lines)), lines
    assert run_plan_sync(timed, plan.with_budget(10**9)) == _default(timed, text, sort)


@pytest.mark.parametrize("sort", ["relevance", "recent", "created", "name"])
@pytest.mark.parametrize(
    "window",
    [
        _until(299),
        _until(2999),
        f"since:{_stamp(2000)[:16]} {_until(2599)}",
        "since:2026-11-04",
        f"since:2026-11-04 {_until(10)}",  # empty: its bounds are NULL, nothing is between
    ],
)
@pytest.mark.parametrize("words", ["auth", "zanzibar", "auth -other", '"p3 auth"'])
def test_the_planners_choice_returns_the_default_plans_rows(
    timed: sqlite3.Connection, sort: str, window: str, words: str
) -> None:
    # Ranked in Python, a phrase in 256 sessions or more has its IDF estimated (documented):
    # its scores differ from FTS5's by that estimate, the order of one phrase's does not.
    def ids(rows: list[tuple[object, ...]]) -> list[object]:
        return [row[0] for row in rows]

    query = compile_query(parse_query(f"{words} {window}", now=NOW), sort=sort)  # type: ignore[arg-type]
    expected = ids(timed.execute(query.sql, query.params).fetchall())
    assert ids(rows_sync(timed, query)) == expected
    windows = ("window_scored", "window_range", "window_walk", "window_set")
    for name in (*windows, "window_scored_by_day", "window_created"):
        if any(p.name == name for p in query.plans):
            plan = with_statistics_sync(timed, query, query.plan(name))
            got = ids(run_plan_sync(timed, plan.with_budget(10**9)))
            assert got == expected, (name, plan_sync(timed, query).name)


@pytest.mark.parametrize("sort", ["recent", "name"])
def test_a_word_in_one_percent_walks_the_windows_index_against_its_matches_as_a_set(
    timed: sqlite3.Connection, sort: str
) -> None:
    """window_set: `cache until:2025-02-11` by recent at 1 M (10,000 matches, a window of
    95,000) read ~2,000 of the window's rows newest first to find the page's 20 (21 ms);
    testing each rowid of the window's index against the matches read once as a set reads
    no row it does not keep (3-6 ms). The newest 256 matches span 25,600 rowids."""
    text = f"zanzibar {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    sample = (256, 1_000_000 - 25_599, 1_000_000)
    plan = choose_plan(query, sample, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW)
    assert plan.name == "window_set"
    lines = _lines(timed, plan.sql, plan.params)
    index = {"recent": "ix_sessions_last_access", "name": "ix_sessions_name_nocase"}[sort]
    assert any(f"COVERING INDEX {index}" in line for line in lines), lines
    assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    assert _fts(lines) and not any(":=" in line for line in _fts(lines)), lines
    assert run_plan_sync(timed, plan.with_budget(10**9)) == _default(timed, text, sort)
    # A dense word: every match into the set costs more than the window's own plans.
    text = f"auth {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = choose_plan(query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW)
    assert plan.name != "window_set"


def test_a_window_of_filters_alone_is_walked_down_the_created_order_from_its_end() -> None:
    """`until:2025-02-11 --sort created` (10 % of 1 M sessions) walked the created order
    from the newest session, met none of the window, and fell back to sorting all of it
    (0.5 s); window_created starts at the window's end (0.5 ms)."""
    for text in ("until:2025-02-11", "since:2025-06-01 until:2025-06-07", "status:ended until:3d"):
        tree = parse_query(text, now=NOW)
        query = compile_query(tree, sort="created")
        plan = choose_wordless(query, FILTER_CAP, 1_000_000)
        assert plan.name == "window_created", text
        bounds = window_bounds(tree)
        assert bounds is not None and plan.params[0] == bounds[1]
    # A since: alone has no end to start from; an alive status with an end is few: read whole.
    since = compile_query(parse_query("since:3d", now=NOW), sort="created")
    assert "window_created" not in [p.name for p in since.plans]
    query = compile_query(parse_query("status:active until:2026-11-01", now=NOW), sort="created")
    assert choose_wordless(query, 1_950, 1_000_000).name == "filter_first"
    # Not by another sort.
    for sort in ("recent", "name", "relevance"):
        names = [p.name for p in compile_query(parse_query("until:3d", now=NOW), sort=sort).plans]
        assert "window_created" not in names, sort
