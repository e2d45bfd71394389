"""A since:/until: window beside another indexed filter (ninth round of issue 11): the window
plans bounded to the window's rowids with the other filter tested on each row
(window_scored_by_day with the exact fields' column phrases in its MATCH, window_created,
filter_tested and filter_set_walk by recent over the filter's own index). The planner's
choice from its reads as they are at 1 M sessions, SQLite's plan (EXPLAIN QUERY PLAN), and the
rows, which are the default plan's.

6,000 sessions recorded in time order (rowid n created and last used at minute n), "auth" in
half of them, "zanzibar" in one of 50; a third in project myapp, two in five on branch main,
every 500th alive: a window in the past is a stretch of old rowids, as in a real history (the
property tests check the plans on rows whose times are in no order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.windows import window_bounds
from store.search import (
    WIDE_FILTER_CAP,
    BesideFacts,
    beside_sync,
    choose_plan,
    plan_sync,
    rows_sync,
    run_plan_sync,
    with_statistics_sync,
)

from .conftest import make_session, migrated_database
from .conftest import minute_stamp as _stamp
from .conftest import until_minute as _until

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZE = 6000
# The planner's reads as they are at 1 M sessions (the dense benchmark's data) for `auth
# until:2025-06-01 project:myapp`: the newest 256 matches span 512 rowids; the project's
# sessions in the window reached the count's cap; none of the newest matches pass the window,
# 83 of them the project; the window estimated at 256,890 sessions ending 743,110 rowids below
# the newest, over 188 days.
HALF = (256, 1_000_000 - 511, 1_000_000)
RARE = (256, 1_000_000 - 25_599, 1_000_000)  # a word in 1 % (`cache`)
PAST = BesideFacts(256_890, 743_110, 188, 83, 256)
ENDED = BesideFacts(256_890, 743_110, 188, 255, 256)  # status:ended: nearly every session
NEWEST = BesideFacts(34_928, 0, 26, 83, 256)  # since:2026-11-01: the newest sessions


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("beside") / "data.db"
    rows = []
    for n in range(SIZE):
        word = "auth" if n % 2 else "other"
        name = f"p{n % 7}-{word}-{n}" + (" zanzibar" if n % 50 == 3 else "")
        stamp = _stamp(n)
        rows.append(
            make_session(
                n,
                name=name,
                project="myapp" if n % 3 == 0 else f"proj{n % 3}",
                branch="main" if n % 5 < 2 else "feat/x",
                directory="/code/myapp" if n % 3 == 0 else "/code/other",
                status="detached" if n % 500 == 0 else "ended",
                created_at=stamp,
                updated_at=stamp,
                last_access=stamp,
            )
        )
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _lines(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def _fts(lines: list[str]) -> list[str]:
    return [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]


def _ids(rows: Iterable[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows]


@pytest.mark.parametrize("beside", ["project:myapp", "branch:main", "status:ended"])
def test_a_dense_word_in_a_past_window_beside_a_filter_ranks_the_windows_rowids(
    timed: sqlite3.Connection, beside: str
) -> None:
    """`auth until:2025-06-01 project:myapp` at 1 M streamed the project's matches newest
    first (phrase_scored: ~120,000 of them recorded after the window, 134 ms) before the
    window's; window_scored_by_day streams only the window's rowid range, the project's
    column phrase in the MATCH (FTS5 intersects the doclists), the rest tested on each row."""
    query = compile_query(parse_query(f"auth {_until(2999)} {beside}", now=NOW))
    facts = ENDED if beside.startswith("status") else PAST
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), beside=facts
    )
    assert plan.name == "window_scored_by_day"
    if not beside.startswith("status"):
        column = beside.split(":")[0]
        assert any(f"{{{column}}} : " in str(p) for p in plan.params), plan.params
    lines = _lines(timed, plan.sql, plan.params)
    # The day index's seeks, the matches within the range newest first: no lookup a row, no
    # sort.
    assert any("ix_sessions_access_day" in line for line in lines), lines
    (fts,) = _fts(lines)
    assert ":=" not in fts and ">" in fts.split(":")[-1] and "<" in fts.split(":")[-1], lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    forced = with_statistics_sync(timed, query, plan)
    assert _ids(run_plan_sync(timed, forced)) == _ids(timed.execute(query.sql, query.params))
    # A window open towards now holds the newest matches: the stream from the newest is
    # as short, without the range's reads.
    query = compile_query(parse_query(f"auth since:2026-11-01 {beside}", now=NOW))
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(83, 256), beside=NEWEST
    )
    assert plan.name != "window_scored_by_day"


@pytest.mark.parametrize("beside", ["project:myapp", "status:ended"])
def test_by_recent_the_filters_index_is_read_newest_first_within_the_window(
    timed: sqlite3.Connection, beside: str
) -> None:
    """`auth until:2025-06-01 status:ended --sort recent` walked the recent order from the
    newest (order_range, 0.4 s at 1 M: none of the window for 743,000 rows), then fell back
    to every match; the status index (status, last_access) holds the window's ended sessions
    as one range in the recent order: read newest first, the words tested in Python, it stops
    at the page (filter_tested). A word in 1 % walks that range against the matches as a set
    (filter_set_walk)."""
    text = f"auth {_until(2999)} {beside}"
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    facts = ENDED if beside.startswith("status") else PAST
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), beside=facts
    )
    assert plan.name == "filter_tested"
    index = "ix_sessions_status (status=?" if beside.startswith("status") else "ix_sessions_project"
    lines = _lines(timed, plan.sql, plan.params)
    assert len(lines) == 1 and f"SEARCH sessions USING INDEX {index}" in lines[0], lines
    assert "last_access<?" in lines[0], lines
    expected = _ids(timed.execute(query.sql, query.params))
    assert _ids(run_plan_sync(timed, with_statistics_sync(timed, query, plan))) == expected
    text = f"zanzibar {_until(2999)} {beside}"
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    plan = choose_plan(
        query, RARE, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), beside=facts
    )
    assert plan.name == "filter_set_walk"
    lines = _lines(timed, plan.sql, plan.params)
    assert any("COVERING INDEX " + index.split(" (")[0] in line for line in lines), lines
    assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    expected = _ids(timed.execute(query.sql, query.params))
    assert _ids(run_plan_sync(timed, plan.with_budget(10**9))) == expected


@pytest.mark.parametrize("beside", ["project:myapp", "status:ended", "branch:main"])
def test_by_created_the_created_order_is_walked_down_from_the_windows_end(
    timed: sqlite3.Connection, beside: str
) -> None:
    """`auth until:2025-06-01 status:ended --sort created` walked the created order from the
    newest (order_range, 0.6 s at 1 M); window_created starts at the window's end, the other
    filter tested on each row that holds the words."""
    text = f"auth {_until(2999)} {beside}"
    tree = parse_query(text, now=NOW)
    query = compile_query(tree, sort="created")
    facts = ENDED if beside.startswith("status") else PAST
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), beside=facts
    )
    assert plan.name == "window_created"
    bounds = window_bounds(tree)
    assert bounds is not None and plan.params[0] == bounds[1]
    lines = _lines(timed, plan.sql, plan.params)
    assert any("COVERING INDEX ix_sessions_created_at" in line for line in lines), lines
    assert _fts(lines) and not any(":=" in line for line in _fts(lines)), lines
    expected = _ids(timed.execute(query.sql, query.params))
    assert _ids(run_plan_sync(timed, plan.with_budget(10**9))) == expected


def test_the_planner_reads_the_window_and_the_other_filters_share(
    timed: sqlite3.Connection,
) -> None:
    """beside_sync: the window's estimate from the rowids created before its ends, the rows
    above its end, its days, and how many of the newest matches pass the filter beside it
    (the window left out: none of them are in a past window)."""
    query = compile_query(parse_query(f"auth {_until(2999)} project:myapp", now=NOW))
    facts = query.facts
    assert facts is not None and facts.sample_sql is not None
    sample = timed.execute(facts.sample_sql, facts.sample_params).fetchone()
    read = beside_sync(timed, query, sample)
    assert read is not None
    assert (read.rows, read.above, read.days) == (3000, 3000, 3)
    # Of the newest 256 matches (odd rowids-1), those of myapp: one in three.
    assert 80 <= read.passed <= 90 and read.sampled == 256
    # Nothing beside the window: no such read.
    alone = compile_query(parse_query(f"auth {_until(2999)}", now=NOW))
    assert alone.facts is not None and alone.facts.beside is None
    assert beside_sync(timed, alone, sample) is None
    # Nor for a window open towards now (the newest matches are in it).
    recent = compile_query(parse_query("auth since:2026-11-04 project:myapp", now=NOW))
    assert recent.facts is not None and recent.facts.beside is not None
    assert beside_sync(timed, recent, sample) is None


def test_words_all_negated_take_no_plan_beside_the_window() -> None:
    """Words all negated sample the words the rows must not hold: their plans are another
    round's (filter_tested by created and name); none of these is offered."""
    query = compile_query(parse_query("-auth until:2025-06-01 project:myapp", now=NOW))
    assert query.facts is None or query.facts.beside is None
    assert "window_scored_by_day" not in [p.name for p in query.plans]


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
@pytest.mark.parametrize(
    "words_beside",
    [
        "auth project:myapp",
        "auth branch:main",
        "auth status:ended",
        "zanzibar status:ended",
        "zanzibar project:myapp",
        "a project:myapp",
        "auth project:myapp branch:main",
        "auth status:detached",
        "auth dir:/code/myapp",
        '"p3 auth" status:ended',
    ],
)
def test_the_planners_choice_returns_the_default_plans_rows(
    timed: sqlite3.Connection, sort: str, window: str, words_beside: str
) -> None:
    query = compile_query(parse_query(f"{words_beside} {window}", now=NOW), sort=sort)  # type: ignore[arg-type]
    expected = _ids(timed.execute(query.sql, query.params).fetchall())
    assert _ids(rows_sync(timed, query)) == expected
    for name in ("window_scored_by_day", "window_created", "filter_tested", "filter_set_walk"):
        if any(p.name == name for p in query.plans):
            plan = with_statistics_sync(timed, query, query.plan(name))
            got = _ids(run_plan_sync(timed, plan.with_budget(10**9)))
            assert got == expected, (name, plan_sync(timed, query).name)
