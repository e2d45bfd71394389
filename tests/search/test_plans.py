"""The planner's choice, and SQLite's plan for it, on dense and rare words and filters.

6,000 sessions: "auth" in half of them, "zanzibar" in one, project "tiny" holds 5 sessions and
project "big" half; 90 are active (status:active), the rest ended. What is checked is the
shape of EXPLAIN QUERY PLAN: which side drives the query, and whether the full-text index is
read once as a set or tested row by row (FTS5's ":=" plan: a rowid lookup).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import name_order
from store.db import migrate_sync
from store.migrations import load_migrations
from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP
from store.search import (
    WIDE_FILTER_CAP,
    choose_plan,
    choose_wordless,
    plan_sync,
    run_plan_sync,
    search_sync,
    with_statistics_sync,
)

from .conftest import insert_sessions, make_session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _dense_db(path: Path) -> sqlite3.Connection:
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    rows = []
    for n in range(6000):
        word = "auth" if n % 2 else "other"
        project = "tiny" if n % 1200 == 7 else ("big" if n % 2 else f"p{n % 50}")
        name = f"{project}-{word}-{n}" + ("-zanzibar" if n == 3001 else "")
        stamp = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.{n:06d}Z"
        status = "attached" if n % 200 == 5 else "detached" if n % 200 in (9, 13) else "ended"
        rows.append(make_session(n, name=name, project=project, last_access=stamp, status=status))
    conn.execute("BEGIN")
    insert_sessions(conn, rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    return conn


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """The sessions written after migration 009's build (on an empty database): its
    name-order snapshot holds none of them (a delta of 6,000: name_snapshot is not chosen)."""
    conn = _dense_db(tmp_path_factory.mktemp("plans") / "data.db")
    yield conn
    conn.close()


def _explain(conn: sqlite3.Connection, text: str, sort: str) -> tuple[str, list[str]]:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = plan_sync(conn, query)
    lines = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    # Whatever the plan, the rows are the default plan's.
    expected = [row[0] for row in conn.execute(query.sql, query.params)]
    assert [hit.id for hit in search_sync(conn, query)] == expected
    return plan.name, lines


def _forced(conn: sqlite3.Connection, text: str, sort: str, name: str) -> list[str]:
    """EXPLAIN QUERY PLAN of the plan called ``name`` of ``text``, whatever the planner's choice."""
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = query.plan(name)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]


def _fts(lines: list[str]) -> list[str]:
    return [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]


def _probes(lines: list[str]) -> bool:
    return any(":=" in line for line in _fts(lines))


def _assert_ranged_by_edge(lines: list[str], sort: str) -> None:
    """order_range read by its edge: the sort order's index alone (its range and its edge),
    the matches within the range as one set (no lookup a row), only those rows read."""
    index = {"recent": "last_access", "created": "created_at"}[sort]
    assert lines.count(f"SCAN sessions USING COVERING INDEX ix_sessions_{index}") == 2, lines
    assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    fts = _fts(lines)
    assert fts and all("><" in line for line in fts) and not _probes(lines), lines


@pytest.mark.parametrize("sort", ["recent", "created", "name"])
def test_a_dense_word_walks_the_sort_order_and_probes_each_row(
    dense: sqlite3.Connection, sort: str
) -> None:
    # Here (3,000 matches) putting them all in a set costs about what probing ~90 rows does;
    # by recent and created the walk's range read by its edge costs less than either.
    name, lines = _explain(dense, "auth", sort)
    assert name in (("order_walk", "order_set") if sort == "name" else ("order_range",))
    if sort != "name":
        _assert_ranged_by_edge(lines, sort)
        return
    # In half of 1 M sessions it would cost 150,000 µs: each walked row is probed.
    query = compile_query(parse_query("auth", now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = choose_plan(query, (256, 1_000_000 - 511, 1_000_000), None, (1, 1_000_000))
    assert plan.name == "order_walk"
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    index = {"recent": "last_access", "created": "created_at", "name": "name_nocase"}[sort]
    assert any(f"USING COVERING INDEX ix_sessions_{index}" in line for line in lines), lines
    assert _probes(lines), lines


@pytest.mark.parametrize("sort", ["recent", "created", "name"])
def test_a_word_in_one_percent_walks_the_sort_order_against_its_matches_as_a_set(
    dense: sqlite3.Connection, sort: str
) -> None:
    """order_set: `cache` (1 % of 1 M sessions) by name cost 34 ms sorting its 10,000 matches,
    and a walk testing each row (a row read, a lookup) ~4 µs a row; testing each rowid of
    the sort's index against the matches read once as a set reads no row it does not keep
    (12.5 ms). The planner's reads as they are at 1 M: the newest 256 matches span 25,600."""
    query = compile_query(parse_query("zanzibar", now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = choose_plan(query, (256, 1_000_000 - 25_599, 1_000_000), None, (1, 1_000_000))
    if sort != "name":
        # By recent and created the walk's range read by its edge (tenth round): `cache` at
        # 1 M sessions in 0.6 and 1.1 ms, order_set 2.5 and 4.2.
        assert plan.name == "order_range"
        _assert_ranged_by_edge(_forced(dense, "zanzibar", sort, "order_range"), sort)
        return
    assert plan.name == "order_set"
    assert plan.walk_budget is not None and 1_000 < plan.params[plan.walk_budget] < 10_000
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    index = {"recent": "last_access", "created": "created_at", "name": "name_nocase"}[sort]
    walk = lines.index(f"SCAN sessions USING COVERING INDEX ix_sessions_{index}")
    # The walk reads the index alone; the matches are one set (no lookup a row).
    assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    assert _fts(lines[walk:]) and not _probes(lines), lines
    assert [
        row[0] for row in dense.execute(plan.with_budget(10**9).sql, plan.with_budget(10**9).params)
    ] == [row[0] for row in dense.execute(query.sql, query.params)]


def test_a_dense_word_ranked_streams_the_newest_matches(dense: sqlite3.Connection) -> None:
    name, lines = _explain(dense, "auth", "relevance")
    assert name == "newest_ranked"
    assert _fts(lines) and not _probes(lines), lines
    # The index hands the matches over newest first: no sort between it and the window.
    fts_at = lines.index(_fts(lines)[0])
    assert "USE TEMP B-TREE" not in lines[fts_at + 1], lines


@pytest.mark.parametrize("sort", ["recent", "relevance"])
def test_a_rare_word_reads_its_matches_once(dense: sqlite3.Connection, sort: str) -> None:
    name, lines = _explain(dense, "zanzibar", sort)
    assert name == ("fts_first" if sort == "recent" else "newest_ranked")
    assert _fts(lines) and not _probes(lines), lines
    assert not any("USING COVERING INDEX" in line for line in lines), lines


@pytest.mark.parametrize(
    ("sort", "expected"), [("recent", "filter_first"), ("relevance", "filter_scored")]
)
def test_a_dense_word_with_a_selective_filter_starts_from_the_filter(
    dense: sqlite3.Connection, sort: str, expected: str
) -> None:
    name, lines = _explain(dense, "auth project:tiny", sort)
    assert name == expected
    assert any("INDEX ix_sessions_project_nocase (project=?)" in line for line in lines), lines
    if expected == "filter_scored":
        # The filter's ~5 rows, the word tested and scored in Python: no full-text read at all.
        assert not _fts(lines), lines
    else:
        assert _probes(lines), lines  # ~5 lookups, not a pass over 3,000 matches


def test_a_word_in_one_percent_with_a_selective_filter_meets_its_matches_as_a_set(
    dense: sqlite3.Connection,
) -> None:
    """filter_set: `cache status:active` at 1 M (10,000 matches, 2,041 active) streamed
    matches until 500 passed the filter (26 ms) or read every active row (13 ms); the
    filter's index against the matches read once as a set reads only the ~20 rows in both
    (4 ms). The planner's reads as they are at 1 M: the newest 256 matches span 25,600.
    (Alive sessions have their own index since sql/011, cheaper still: tests/search/
    test_alive.py; a host of as many sessions has not. A project, name, worktree or
    branch is also a column phrase of the MATCH: phrase_scored, below.)"""
    query = compile_query(parse_query("zanzibar host:tiny", now=NOW))
    plan = choose_plan(query, (256, 1_000_000 - 25_599, 1_000_000), 2_041)
    assert plan.name == "filter_set"
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert any("INDEX ix_sessions_host_nocase (host=?)" in line for line in lines), lines
    assert _fts(lines) and not _probes(lines), lines
    # A word in half of them: its doclist costs more than reading the filter's rows.
    plan = choose_plan(query, (256, 1_000_000 - 511, 1_000_000), 2_041)
    assert plan.name == "filter_scored"
    query = compile_query(parse_query("zanzibar status:active", now=NOW))
    plan = query.plan("filter_set")
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert any("INDEX ix_sessions_status (status=?)" in line for line in lines), lines
    # Here, forced: the rows and scores of the default plan.
    for text in ("auth status:active", "zanzibar status:active", "auth -other project:tiny"):
        query = compile_query(parse_query(text, now=NOW))
        forced = with_statistics_sync(dense, query, query.plan("filter_set"))
        assert run_plan_sync(dense, forced) == dense.execute(query.sql, query.params).fetchall()


def test_a_filter_too_large_to_count_is_judged_by_the_newest_matches_it_passes(
    dense: sqlite3.Connection,
) -> None:
    # `auth project:X` at 1 M with X in 0.5 % of the sessions (5,445): the count stops at
    # FILTER_CAP, and streaming the matches newest first reads ~100,000 to find 500 of X's
    # (53 ms). The planner reads how many of the newest 256 matches pass (none), counts X on
    # (up to WIDE_FILTER_CAP) and lets FTS5 intersect the word with X as a column phrase
    # (phrase_scored: ~600 rows read, 5 ms); a host is no column of the full-text index, so
    # there it reads X's rows (filter_scored: ~1,000 of them, 13 ms).
    query = compile_query(parse_query("auth project:tiny", now=NOW))
    host = compile_query(parse_query("auth host:tiny", now=NOW))
    half = (256, 1_000_000 - 511, 1_000_000)
    assert choose_plan(query, half, FILTER_CAP).name == "newest_scored"
    wide = choose_plan(query, half, 5_445, cap=WIDE_FILTER_CAP, passing=(0, 256))
    assert wide.name == "phrase_scored"
    # One stream of FTS5's matches of both, newest first: no lookup per row, no index of the
    # project read; each row still tested against the filter itself.
    assert wide.params[0] == '(("auth"*)) AND ({project} : "tiny")'
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + wide.sql, wide.params)]
    assert _fts(lines) and not _probes(lines), lines
    assert not any("ix_sessions_project" in line for line in lines), lines
    assert "(sessions.project IS ? COLLATE NOCASE)" in wide.sql, wide.sql
    forced = with_statistics_sync(dense, query, wide)
    assert run_plan_sync(dense, forced) == dense.execute(query.sql, query.params).fetchall()
    wide = choose_plan(host, half, 5_445, cap=WIDE_FILTER_CAP, passing=(0, 256))
    assert wide.name == "filter_scored"
    # A project in 30 % of them passes ~80 of 256: streaming fills the window at once.
    # (FTS5's intersection with the project's phrase reads ~1,000 entries of each list and
    # only the window's rows: at 1 M, 5.4 ms where newest_scored's stream took 6.1.)
    assert choose_plan(query, half, FILTER_CAP, passing=(83, 256)).name == "phrase_scored"
    assert choose_plan(host, half, FILTER_CAP, passing=(83, 256)).name == "newest_scored"
    # The planner's own reads: tiny is counted (5 rows); a large filter's pass rate read.
    facts = query.facts
    assert facts is not None and facts.passing_sql is not None
    (passed,) = dense.execute(facts.passing_sql, facts.passing_params).fetchone()
    assert passed == 0
    big = compile_query(parse_query("auth project:big", now=NOW)).facts
    assert big is not None and big.passing_sql is not None
    assert dense.execute(big.passing_sql, big.passing_params).fetchone() == (256,)
    lines = [
        row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + big.passing_sql, big.passing_params)
    ]
    assert not any("ix_sessions_project" in line for line in lines), lines


def test_negated_words_are_judged_by_how_many_of_the_newest_sessions_pass_the_filters(
    dense: sqlite3.Connection,
) -> None:
    # `-auth project:X`: the sample is of auth's matches, none of which passes the NOT; the
    # count with the NOT in it read auth's whole doclist (143 ms at 1 M) to say 0. It counts
    # the newest sessions (by rowid: a range, not the project's index) that pass the project.
    for project, expected in (("big", 128), ("tiny", 0)):
        query = compile_query(parse_query(f"-auth project:{project}", now=NOW), sort="recent")
        facts = query.facts
        assert facts is not None and facts.sample_negated and facts.passing_sql is not None
        assert "sessions_fts" not in facts.passing_sql
        (passed,) = dense.execute(facts.passing_sql, facts.passing_params).fetchone()
        assert passed == expected, project
        lines = [
            row[3]
            for row in dense.execute(
                "EXPLAIN QUERY PLAN " + facts.passing_sql, facts.passing_params
            )
        ]
        assert any("INTEGER PRIMARY KEY (rowid>?)" in line for line in lines), lines
        assert [hit.id for hit in search_sync(dense, query)] == [
            row[0] for row in dense.execute(query.sql, query.params)
        ]


def test_negated_words_are_tested_in_python_on_a_filters_rows(dense: sqlite3.Connection) -> None:
    # `-auth status:active --sort created` probed auth for each active row (~12 µs each, 25 ms
    # at 1 M) or read its whole doclist for the NOT IN; filter_tested reads the rows' texts and
    # tests the NOT in Python: no full-text read at all.
    for text in ("-auth project:tiny", "-auth -other status:active", "-auth project:big"):
        for sort in ("created", "name"):
            query = compile_query(parse_query(text, now=NOW), sort=sort)
            plan = query.plan("filter_tested")
            assert "sessions_fts" not in plan.sql, plan.sql
            forced = with_statistics_sync(dense, query, plan)
            expected = dense.execute(query.sql, query.params).fetchall()
            assert run_plan_sync(dense, forced) == expected, (text, sort)


def test_not_ended_is_the_indexed_filter_active(dense: sqlite3.Connection) -> None:
    # `-status:ended` streamed every match of `auth` (0.2 % alive at 1 M: 152 ms); as
    # status:active its index picks the few rows.
    name, lines = _explain(dense, "auth -status:ended", "relevance")
    assert name == "alive_scored"
    assert any("COVERING INDEX ix_sessions_alive" in line for line in lines), lines
    name, lines = _explain(dense, "-status:ended", "recent")
    assert name == "filter_first"


def test_bm25_statistics_are_costed_per_word(dense: sqlite3.Connection) -> None:
    # `a b` at 1 M: each word in most sessions, both in few. FTS5's bm25 reads both words'
    # whole doclists (20 ms); the query's own sample (few matches) made that look cheap.
    query = compile_query(parse_query("auth other", now=NOW))
    few = (40, None, 1_000_000)
    assert choose_plan(query, few, None).name == "newest_ranked"
    dense_words = [(256, 1_000_000 - 511, 1_000_000)] * 2
    assert choose_plan(query, few, None, None, dense_words).name == "newest_scored"


def test_a_word_in_half_of_a_million_sessions_is_ranked_in_python(
    dense: sqlite3.Connection,
) -> None:
    # The planner's reads as they are at 1 M sessions: the newest 256 matches span 512 rowids.
    query = compile_query(parse_query("auth", now=NOW))
    plan = choose_plan(query, (256, 1_000_000 - 511, 1_000_000), None)
    assert plan.name == "newest_scored"
    lines = [row[3] for row in dense.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    # The matches streamed newest first, no lookup per row, no sort: bm25 is Python's.
    assert _fts(lines) and not _probes(lines), lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert "bm25" not in plan.sql
    # Where bm25's statistics cost little (3,000 matches), FTS5 ranks.
    assert plan_sync(dense, query).name == "newest_ranked"


@pytest.mark.parametrize("sort", ["recent", "relevance"])
def test_a_selective_word_with_a_dense_filter_starts_from_the_word(
    dense: sqlite3.Connection, sort: str
) -> None:
    name, lines = _explain(dense, "zanzibar project:big", sort)
    assert not _probes(lines), lines
    assert not any("ix_sessions_project_nocase" in line for line in lines), lines
    if sort == "relevance":
        # bm25 over its one match, exact (newest_ranked: cheap here).
        assert name == "newest_ranked"
        assert _fts(lines), lines
        return
    # Its one match is all of the planner's sample: its rowid read by key (since the ninth
    # round; before, the matches read as a set: fts_first).
    assert name == "known_first"
    assert not _fts(lines), lines
    assert any("json_each" in line for line in lines), lines


def test_a_walk_that_falls_short_still_returns_every_row(dense: sqlite3.Connection) -> None:
    # "auth" is dense, but among names A-Z the matches of "big auth" come late: a walk sized
    # by the estimate falls short, and the exact plan answers.
    query = compile_query(parse_query("auth p1*", now=NOW), sort="name", limit=50)
    expected = [row[0] for row in dense.execute(query.sql, query.params)]
    assert [hit.id for hit in search_sync(dense, query)] == expected


@pytest.mark.parametrize("sort", ["created"])
def test_a_filter_alone_that_keeps_many_rows_walks_the_sort_order(
    dense: sqlite3.Connection, sort: str
) -> None:
    name, lines = _explain(dense, "project:big", sort)
    assert name == "order_walk"
    assert any("USING COVERING INDEX ix_sessions_created_at" in line for line in lines), lines
    # A filter that keeps few rows: its index, then a sort of those rows.
    name, lines = _explain(dense, "project:tiny", sort)
    assert name == "filter_first"
    # (project, last_access) or (project, name): either holds the project's rows together.
    assert any("INDEX ix_sessions_project_" in line and "(project=?)" in line for line in lines), (
        lines
    )


def test_a_filter_alone_sorted_by_name_reads_its_own_name_order(
    dense: sqlite3.Connection,
) -> None:
    # Project "big" holds half the sessions, and its names ("big-...") come after "p..."-less
    # ones only by chance here; its (project, name) index gives its rows A-Z from the first.
    name, lines = _explain(dense, "project:big", "name")
    assert name == "filter_walk"
    assert any("INDEX ix_sessions_project_name (project=?)" in line for line in lines), lines
    # Only ties of equal names are sorted, not every row of the project.
    assert any("RIGHT PART OF ORDER BY" in line for line in lines), lines
    # A filter that keeps fewer rows than a walk would read: its index, then sorted.
    name, lines = _explain(dense, "project:tiny", "name")
    assert name == "filter_first"
    assert any("INDEX ix_sessions_project_nocase (project=?)" in line for line in lines), lines


@pytest.mark.parametrize(
    ("text", "sort", "expected", "index"),
    [
        ("status:active", "name", "filter_walk", "INDEX ix_sessions_status_name (status=?)"),
        ("status:active", "recent", "filter_first", "INDEX ix_sessions_status (status=?)"),
        ("status:active", "relevance", "filter_first", "INDEX ix_sessions_status (status=?)"),
        ("status:active", "created", "filter_first", "INDEX ix_sessions_status (status=?)"),
        ("status:ended", "name", "filter_walk", "INDEX ix_sessions_status_name (status=?)"),
        ("status:ended", "recent", "filter_first", "INDEX ix_sessions_status (status=?)"),
        ("status:ended", "created", "order_walk", "COVERING INDEX ix_sessions_created_at"),
        ("project:big", "recent", "filter_first", "INDEX ix_sessions_project_nocase (project=?)"),
    ],
)
def test_a_status_alone_is_read_from_its_own_index_not_tested_along_the_sort_order(
    dense: sqlite3.Connection, text: str, sort: str, expected: str, index: str
) -> None:
    """sqlite_stat1 says a status holds a third of the rows (its average), so SQLite's own
    choice for `status:active` (1.5 % here, 0.2 % of the benchmark's 1 M sessions) scanned the
    sort order's index testing every row's status: 0.1-0.5 s at 1 M. The planner counts the
    filter's rows in its index instead: few are read from it (and sorted; by recent in order),
    many walked in the sort's order (by name: the (status, name) index, one run a value)."""
    name, lines = _explain(dense, text, sort)
    assert name == expected
    assert any(index in line for line in lines), lines
    assert not any("ix_sessions_name_nocase" in line for line in lines), lines
    read = [i for i, line in enumerate(lines) if index in line]
    if text == "status:active" and sort == "name":
        # attached and detached: two runs of the index, each read only up to the page.
        assert len(read) == 2, lines
    if sort != "created" and (text != "status:active" or sort == "name"):
        # Each run of the index is in the sort's order: at most ties are sorted (then the few
        # rows walked), not every row of the filter. (By recent, `status:active`'s two values
        # are sorted as SQLite reads them, but it stops each once the page is full: it has
        # the order's every column, last_access and rowid.)
        assert all(lines[i + 1 : i + 2] != ["USE TEMP B-TREE FOR ORDER BY"] for i in read), lines


def test_a_dense_word_with_a_dense_filter_sorted_by_name_walks_the_filters_names(
    dense: sqlite3.Connection,
) -> None:
    name, lines = _explain(dense, "auth project:big", "name")
    assert name == "filter_walk"
    assert any("INDEX ix_sessions_project_name (project=?)" in line for line in lines), lines
    assert _probes(lines), lines  # each walked row tested by one lookup
    # A selective filter: its few rows tested in Python (below).
    assert _explain(dense, "auth project:tiny", "name")[0] == "filter_tested"


@pytest.mark.parametrize(
    ("text", "sort", "index"),
    [
        ("auth project:tiny", "name", "INDEX ix_sessions_project_name (project=?)"),
        ("auth project:tiny", "created", "INDEX ix_sessions_project_nocase (project=?)"),
        ("auth -other status:active", "created", "INDEX ix_sessions_status (status=?)"),
        ("auth status:active", "name", "INDEX ix_sessions_status_name (status=?)"),
    ],
)
def test_a_dense_word_with_a_selective_filter_is_tested_on_the_rows_own_text(
    dense: sqlite3.Connection, text: str, sort: str, index: str
) -> None:
    """filter_tested: the filter's few rows from its index, the words tested in Python on
    their text (one FTS5 lookup a row cost ~20 µs for a dense word at 1 M sessions: `auth
    status:active --sort created` 46 ms, now 10). By name, a (filter, name) index hands them
    over in order (only equal names sorted; status:active's two runs merged as they come), so
    reading stops at the page (`auth status:active --sort name`: 30 ms, now 1.1)."""
    name, lines = _explain(dense, text, sort)
    if "status:active" in text:
        # The alive sessions' own index may be cheaper still (below); the plan as it reads.
        assert name in ("filter_tested", "alive_tested")
        lines = _forced(dense, text, sort, "filter_tested")
    elif sort == "created":
        # By creation the field's own index walked newest used first may be cheaper still
        # (tests/search/test_created_walk.py: 1.1 against 2.2 ms of CPU at 1 M sessions).
        assert name in ("filter_tested", "created_walk")
        lines = _forced(dense, text, sort, "filter_tested")
    else:
        assert name == "filter_tested"
    assert not _fts(lines), lines  # no full-text read at all
    if "status_name" in index:
        # attached and detached: two reads in name order, merged as they stream.
        run = [f"SEARCH sessions USING {index}", "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"]
        assert lines == ["MERGE (UNION ALL)", "LEFT", *run, "RIGHT", *run], lines
        return
    assert lines[0].startswith(f"SEARCH sessions USING {index}"), lines
    if "project_name" in index:
        assert lines[1:] == ["USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"], lines


@pytest.mark.parametrize(
    "plan_name, text, sort",
    [
        ("order_walk", "auth project:big", "recent"),
        ("order_walk", "a project:big", "recent"),
        ("order_walk", "auth project:tiny", "recent"),
        ("order_range", "auth project:big", "recent"),
        ("order_range", "a project:big", "recent"),
        ("order_range", "auth project:tiny", "recent"),
        ("filter_walk", "auth project:big branch:main", "name"),
        ("filter_walk", "project:big branch:main", "name"),
    ],
)
@pytest.mark.parametrize("analyzed", [False, True])
def test_a_walk_with_a_filter_is_driven_by_the_walked_rows(
    tmp_path: Path, plan_name: str, text: str, sort: str, analyzed: bool
) -> None:
    """The walked rowids drive the outer loop. Left to itself SQLite read a filter's whole
    index and tested each row against the walk (the picker's `project:myapp a`: 9 ms instead
    of 0.2 at 100 k sessions; `auth project:myapp branch:main --sort name`: 4 s of CPU instead
    of 0.7 at 1 M), always so without sqlite_stat1 (a user's database has none)."""
    path = tmp_path / "walk.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    insert_sessions(
        conn,
        [
            make_session(
                n,
                name=f"x-{'auth' if n % 2 else 'other'}-{n}",
                project=p,
                branch="main" if n % 3 else "dev",
            )
            for n in range(600)
            for p in ["tiny" if n % 120 == 7 else ("big" if n % 2 else f"p{n % 50}")]
        ],
    )
    conn.execute("COMMIT")
    if analyzed:
        conn.execute("ANALYZE")
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    (plan,) = [plan for plan in query.plans if plan.name == plan_name]
    params = (64, *plan.params[1:]) if plan_name != "filter_walk" else plan.params
    lines = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + plan.sql, params)]
    conn.close()
    assert "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)" in lines[0], lines
    assert not any(
        index in line
        for line in lines[:1]
        for index in ("ix_sessions_project", "ix_sessions_branch")
    ), lines


def test_a_database_without_the_name_order_indexes_keeps_the_default(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    (before,) = [m.version - 1 for m in load_migrations() if m.name == "search_name_order"]
    migrate_sync(path, before)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    insert_sessions(
        conn, [make_session(n, name=f"big-{n}", project="big") for n in range(FILTER_CAP + 10)]
    )
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    insert_sessions(
        conn, [make_session(n, name=f"big-tiny-{n}", project="tiny") for n in range(9000, 9005)]
    )
    conn.execute("COMMIT")
    query = compile_query(parse_query("project:big", now=NOW), sort="name")
    assert query.plans[1].name == "filter_walk"
    assert plan_sync(conn, query).name == "fts_first"
    assert [hit.name for hit in search_sync(conn, query)] == sorted(
        f"big-{n}" for n in range(FILTER_CAP + 10)
    )[:20]
    # filter_tested would read the (project, name) index too.
    query = compile_query(parse_query("big project:tiny", now=NOW), sort="name")
    assert query.facts is not None and query.facts.sample_sql is not None
    sample = conn.execute(query.facts.sample_sql, query.facts.sample_params).fetchone()
    assert choose_plan(query, sample, 5).name == "filter_tested"  # where it has the index
    assert plan_sync(conn, query).name != "filter_tested"
    assert [hit.name for hit in search_sync(conn, query)] == [
        f"big-tiny-{n}" for n in range(9000, 9005)
    ]
    conn.close()


def test_a_few_rows_spread_through_many_by_created_are_left_to_sqlites_scan() -> None:
    """`status:active --sort created`: its 197 rows of 100 k read and sorted (filter_first,
    0.4 ms, where SQLite scanned 10,000 rows of the created order: 6.4 ms); but 2,041 rows of
    1 M, each read wherever it is, cost more (6.2 ms) than SQLite's scan of ~10,000 rows that
    lie near each other (3.7 ms): then its own plan."""
    query = compile_query(parse_query("status:active", now=NOW), sort="created")
    assert choose_wordless(query, 197, 100_000).name == "filter_first"
    assert choose_wordless(query, 2_041, 1_000_000).name == "fts_first"
    # Many rows: the walk of the created order, whoever has them.
    assert choose_wordless(query, FILTER_CAP, 1_000_000).name == "order_walk"
    # With another condition the filter's share is not the page's: its rows, sorted.
    other = compile_query(parse_query("status:active dir:/a", now=NOW), sort="created")
    assert choose_wordless(other, 2_041, 1_000_000).name == "filter_first"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """The same sessions with the name-order snapshot built (as migration 009 or `db
    reindex` leave it): an empty delta."""
    conn = _dense_db(tmp_path_factory.mktemp("built") / "data.db")
    conn.execute("BEGIN IMMEDIATE")
    name_order.rebuild(conn)
    conn.execute("COMMIT")
    yield conn
    conn.close()


@pytest.mark.parametrize(
    "text", ["auth", "big", "other", '"big auth"', "auth project:big branch:main", "auth -zanzibar"]
)
def test_a_dense_word_by_name_streams_the_snapshots_matches_in_name_order(
    built: sqlite3.Connection, text: str
) -> None:
    """name_snapshot: the snapshot's rowid is the rank in name order, so its matches come A-Z
    (no sort: `myapp --sort name` sorted 300,000 matches at 1 M, or walked the name index up
    to "ccmgr-myapp-"); each is read by rowid (rank, then session), none tested by lookup."""
    query = compile_query(parse_query(text, now=NOW), sort="name")
    plan = plan_sync(built, query)
    assert plan.name == "name_snapshot", plan.name
    lines = [row[3] for row in built.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert lines[0].startswith("SCAN sessions_name_fts VIRTUAL TABLE"), lines
    assert "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)" in lines, lines
    assert "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)" in lines, lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert not _fts(lines), lines  # sessions_fts is not read by the walk
    if "project:" in text:
        # The exact filters' values are column phrases of its MATCH: the walk skips the rows
        # they reject (a project's names come in one late stretch of A-Z).
        assert "{project} : " in plan.params[0] and "{branch} : " in plan.params[0]
    steps = plan.name_walk
    assert steps is not None
    sql, params = name_order.delta_statement(steps, "big-auth-5")
    delta = [row[3] for row in built.execute("EXPLAIN QUERY PLAN " + sql, params)]
    # The delta drives from its matches (a rowid range of sessions_fts, the dirty rows), never
    # from a filter's index (`branch:main` alone: 40 % of the rows).
    assert delta[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", delta
    # The dirty sessions drive their part, each session then read by rowid: no scan of the
    # built sessions (rowid < ?) testing each against the dirty table.
    assert "SEARCH d USING INTEGER PRIMARY KEY (rowid<?)" in delta, delta
    assert "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)" in delta, delta
    assert not any(
        line.startswith("SCAN")
        and "sessions_name_build" not in line
        and "VIRTUAL TABLE" not in line
        for line in delta
    ), delta
    expected = [row[0] for row in built.execute(query.sql, query.params)]
    assert [hit.id for hit in search_sync(built, query)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zanzibar", ("fts_first",)),  # one match: read it
        # A filter the walk cannot skip: its 90 rows, from the table or the alive index.
        ("auth status:active", ("filter_tested", "alive_tested")),
    ],
)
def test_the_snapshot_is_left_where_another_plan_is_cheaper(
    built: sqlite3.Connection, text: str, expected: tuple[str, ...]
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort="name")
    assert any(plan.name == "name_snapshot" for plan in query.plans)
    assert plan_sync(built, query).name in expected


def test_the_planner_weighs_the_snapshots_delta() -> None:
    """At 1 M sessions (the newest 256 matches of `myapp` span 850 rowids): a fresh snapshot
    wins; 500,000 sessions inserted since its build (their matches read and sorted each
    query) and the walks of round 4 are cheaper again."""
    query = compile_query(parse_query("myapp", now=NOW), sort="name")
    sample = (256, 1_000_000 - 849, 1_000_000)
    assert choose_plan(query, sample, None, (1, 1_000_000), snapshot=(0, 0)).name == "name_snapshot"
    assert (
        choose_plan(query, sample, None, (1, 1_000_000), snapshot=(2_000, 50)).name
        == "name_snapshot"
    )
    assert (
        choose_plan(query, sample, None, (1, 1_000_000), snapshot=(500_000, 0)).name
        != "name_snapshot"
    )
    assert choose_plan(query, sample, None, (1, 1_000_000), snapshot=None).name != "name_snapshot"
    # Two dense filters: filter_walk's estimate (the words and the other filter spread evenly
    # through the project's names) said 1.2 ms where it took 0.6 s; the snapshot is taken.
    query = compile_query(parse_query("auth project:myapp branch:main", now=NOW), sort="name")
    sample = (256, 1_000_000 - 511, 1_000_000)
    assert choose_plan(query, sample, FILTER_CAP, None, snapshot=(1_000, 0)).name == "name_snapshot"
    assert choose_plan(query, sample, FILTER_CAP, None, snapshot=None).name == "filter_walk"


@pytest.mark.parametrize(
    "text",
    [
        "-auth",
        "-auth -zanzibar",
        "NOT (auth OR p1)",
        "-auth status:ended",
        "-auth -status:attached",
    ],
)
def test_negated_words_by_name_merge_the_snapshots_ranks_with_their_matches(
    built: sqlite3.Connection, text: str
) -> None:
    """name_except (the ninth round): names start with their project's, so the sessions
    without a word can come after a long stretch with it (`big-auth-…` first here; `-a` at
    1 M sessions: 13,086 rows, each tested by lookup, ~150 ms). The snapshot's ranks and the
    words' matches are merged instead, both read in rank order, no lookup and no sort; the
    sessions that come out are read by rank, a chunk at a time; the delta drives from the
    sessions inserted since the build (a rowid range) and the dirty ones."""
    query = compile_query(parse_query(text, now=NOW), sort="name")
    plan = plan_sync(built, query)
    assert plan.name == "name_except", plan.name
    lines = [row[3] for row in built.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert lines[0] == "MERGE (EXCEPT)", lines
    assert "SCAN sessions_name_rank" in lines, lines
    assert any(line.startswith("SCAN sessions_name_fts VIRTUAL TABLE") for line in lines), lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert not _fts(lines), lines
    steps = plan.name_walk
    assert steps is not None and steps.lookup_sql is not None
    lookup = [
        row[3]
        for row in built.execute(
            "EXPLAIN QUERY PLAN " + steps.lookup_sql, ("[1, 2]", *steps.lookup_params)
        )
    ]
    assert "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)" in lookup, lookup
    assert "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)" in lookup, lookup
    sql, params = name_order.delta_statement(steps, "big-auth-5")
    delta = [row[3] for row in built.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert "SEARCH i USING INTEGER PRIMARY KEY (rowid>?)" in delta, delta
    assert "SEARCH d USING INTEGER PRIMARY KEY (rowid<?)" in delta, delta
    assert not any(
        line.startswith("SCAN") and "sessions_name_build" not in line and "VIRTUAL" not in line
        for line in delta
    ), delta
    expected = [row[0] for row in built.execute(query.sql, query.params)]
    assert [hit.id for hit in search_sync(built, query)] == expected


@pytest.mark.parametrize("text", ["-auth project:big", "-auth -zanzibar project:big branch:main"])
def test_negated_words_beside_an_exact_field_by_name_walk_its_phrases_not_the_words(
    built: sqlite3.Connection, text: str
) -> None:
    """The field's values as the snapshot's column phrases, NOT the words: FTS5 streams the
    phrases' rows without the words, in name order (`-a project:myapp` at 1 M: the walk of
    myapp's name order tested each row by lookup, ~0.4 s)."""
    query = compile_query(parse_query(text, now=NOW), sort="name")
    plan = plan_sync(built, query)
    assert plan.name == "name_snapshot", plan.name
    assert ") NOT (" in plan.params[0] and "{project} : " in plan.params[0], plan.params
    lines = [row[3] for row in built.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert lines[0].startswith("SCAN sessions_name_fts VIRTUAL TABLE"), lines
    assert not _fts(lines), lines  # the NOT is in the MATCH, not a NOT IN of sessions_fts
    expected = [row[0] for row in built.execute(query.sql, query.params)]
    assert [hit.id for hit in search_sync(built, query)] == expected


def test_the_planner_takes_the_merge_for_negated_words_by_name() -> None:
    """At 1 M sessions (`a*` in 55 % of them: its newest 256 matches span 465 rowids): the
    merge over the walks of the name index (which test each row by lookup, and whose
    estimate, the sessions without the words spread evenly through A-Z, names defeat); not
    without a built snapshot; and not for a few alive sessions, whose rows are tested."""
    query = compile_query(parse_query("-a", now=NOW), sort="name")
    sample = (256, 1_000_000 - 464, 1_000_000)
    assert choose_plan(query, sample, None, (1, 1_000_000), snapshot=(0, 0)).name == "name_except"
    assert choose_plan(query, sample, None, (1, 1_000_000), snapshot=None).name != "name_except"
    alive = compile_query(parse_query("-a status:active", now=NOW), sort="name")
    assert choose_plan(alive, sample, 2_041, None, snapshot=(0, 0)).name == "filter_tested"


def test_negated_words_beside_a_field_by_created_are_tested_on_its_rows_newest_used_first() -> None:
    """`-auth -login project:x --sort created`, x in 0.5 % of 1 M sessions (counted on:
    5,445): created_walk reads x's rows newest used first, the words tested in Python (no
    sessions_fts), where a walk of the created order met few of them and fell back to
    reading every match (~40 ms)."""
    query = compile_query(parse_query("-auth -login project:x", now=NOW), sort="created")
    sample = (256, 1_000_000 - 600, 1_000_000)
    plan = choose_plan(query, sample, 5_445, cap=WIDE_FILTER_CAP, passing=(0, 256))
    assert plan.name == "created_walk", plan.name
    assert "sessions_fts" not in plan.sql
    assert plan.created is not None and "sessions_fts" not in plan.created.early_sql
    assert [p.name for p in query.plans].count("created_set") == 0  # its set: every match


def test_the_set_of_negated_words_is_their_matches() -> None:
    """order_set's set holds the matches of the words (`rowid NOT IN (…)`), however few
    sessions are without them: `-a -b -c` at 100,000 sessions (98 % hold one) was priced as a
    set of 2,000 and read 98,000 matches (3 doclists) into it, 20–40 ms; order_range reads
    only the walked rows' stretch of them."""
    query = compile_query(parse_query("-a -b -c", now=NOW), sort="recent")
    sample = (256, 100_000 - 260, 100_000)
    plan = choose_plan(query, sample, None, (100_000 - 2_000, 100_000))
    assert plan.name == "order_range", plan.name
    # A rare negated word: the set is small, order_set stays the cheapest.
    rare = compile_query(parse_query("-zanzibar", now=NOW), sort="recent")
    assert choose_plan(rare, (1, 5, 100_000), None, (100_000 - 40, 100_000)).name == "order_set"


@pytest.mark.parametrize(("found", "passed"), [(0, 50), (4, 104)])
def test_a_walk_short_of_a_later_page_retries_at_the_density_it_passed(
    found: int, passed: int
) -> None:
    """A walk that fell short of `--limit 20 --offset 100` returned the rows past the offset:
    none means it passed up to 100 (taken as 50), some means it passed all 100 and those. It
    was taken as passing none, so a second page always fell to the default plan (0.5 s for
    `project:myapp --sort created --offset 100` at 1 M sessions)."""
    from store.search import retry_walk

    query = compile_query(parse_query("project:big", now=NOW), sort="created", offset=100)
    walk = query.plan("order_walk").with_budget(170, 5_000)
    assert walk.params[-2:] == (20, 100)
    retried = retry_walk(walk, query, found)
    assert retried.name == "order_walk" and retried.walk_budget is not None
    # 170 rows walked for the 120 needed, of which `passed` passed.
    assert retried.params[retried.walk_budget] == int(170 * 120 / passed * 1.5) + 32
    # Past the retry's bound: the default plan.
    assert retry_walk(walk.with_budget(170, 100), query, found).name == "fts_first"
