"""Words beside an exact field, by recent (seventh round of issue 11): the field's own index
(the field, then last_access) gives the order, so it is walked newest first, each row tested
(filter_walk) or each rowid against the words' matches as a set (filter_set_walk). Checked:
SQLite reads the field's index in order (no sort), the planner chooses them from its reads as
they are at 1 M sessions, and the planner's choice returns the default plan's rows, page by
page. That every plan agrees on random queries is tests/search/test_property.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP
from store.search import WIDE_FILTER_CAP, choose_plan, plan_sync, rows_sync

from .conftest import make_session, migrated_database
from .test_property import assert_every_plan_agrees

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOP = 1_000_000
# The planner's reads at 1 M sessions (the benchmark's): the newest 256 matches of a word in
# half of them span 512 rowids, of a word in 1 % 25,600.
HALF = (256, TOP - 511, TOP)
ONE_PERCENT = (256, TOP - 25_599, TOP)


@pytest.fixture(scope="module")
def fields(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """2,000 sessions: project `big` holds most, `mid` one in 40, `tiny` three; `auth` in
    half of them, `cache` in one in 50; the newest of `mid` are old (its sessions were used
    long ago), so a walk of the whole recent order meets them late."""
    rows = []
    for n in range(2000):
        project = "tiny" if n in (5, 6, 7) else "mid" if n % 40 == 1 else "big"
        day = 1 + (n % 28 if project != "mid" else n % 5)
        month = 11 if project != "mid" else 1
        word = "cache" if n % 50 == 0 else "auth" if n % 2 else "other"
        rows.append(
            make_session(
                n,
                name=f"{project}-{word}-{n}",
                project=project.upper() if n % 3 == 0 else project,  # NOCASE
                branch="main" if n % 3 else "feat",
                last_access=f"2026-{month:02d}-{day:02d}T{n % 24:02d}:00:00.{n:06d}Z",
            )
        )
    conn = migrated_database(tmp_path_factory.mktemp("fields") / "data.db", rows)
    yield conn
    conn.close()


@pytest.mark.parametrize("name", ["filter_walk", "filter_set_walk"])
def test_the_fields_index_is_walked_in_the_recent_order(
    fields: sqlite3.Connection, name: str
) -> None:
    query = compile_query(parse_query("cache project:big", now=NOW), sort="recent")
    plan = query.plan(name)
    lines = [r[3] for r in fields.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    walk = "SEARCH sessions USING COVERING INDEX ix_sessions_project_nocase (project=?)"
    assert walk in lines, lines
    # Only the page's few rows are sorted (the outer ORDER BY), never the walk.
    assert lines.count("USE TEMP B-TREE FOR ORDER BY") == 1, lines


@pytest.mark.parametrize(
    ("text", "sample", "candidates", "cap", "passing", "expected"),
    [
        # A word in 1 % in a project that holds 10 % of its newest matches: the project's
        # index against the word's 10,000 matches as a set, where the recent order's walk
        # reads ~30,000 index entries. (In 30 %, the two are about as fast since the tenth
        # round, which reads only the walk's range and edge: 3.4 and 4.3 ms at 1 M.)
        ("cache project:myapp", ONE_PERCENT, FILTER_CAP, FILTER_CAP, (30, 256), "filter_set_walk"),
        # A dense word in a project in 0.5 % (counted on: 5,000): the project's rows tested
        # newest first (~90 of them) where the recent order meets 1 in 200 of its rows.
        (
            "auth project:isxecoru",
            HALF,
            5_000,
            WIDE_FILTER_CAP,
            (1, 256),
            "filter_walk",
        ),
        # A dense word in a dense project: the recent order's own walk stays the cheapest.
        ("auth project:myapp", HALF, FILTER_CAP, FILTER_CAP, (77, 256), "order_range"),
    ],
)
def test_the_planner_walks_a_fields_index_where_it_is_cheapest(
    text: str,
    sample: tuple[int, int, int],
    candidates: int,
    cap: int,
    passing: tuple[int, int],
    expected: str,
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    chosen = choose_plan(query, sample, candidates, (TOP - 200, TOP), cap=cap, passing=passing)
    assert chosen.name == expected


@pytest.mark.parametrize(
    "text",
    [
        "cache project:big",
        "auth project:mid",
        "cache project:mid",
        "auth project:tiny",
        "auth -other project:big",
        "cache project:big since:2026-11-10",
        "auth branch:feat",
    ],
)
def test_the_planners_choice_returns_the_default_plans_rows(
    fields: sqlite3.Connection, text: str
) -> None:
    tree = parse_query(text, now=NOW)
    for limit, offset in ((20, 0), (5, 3), (7, 30)):
        query = compile_query(tree, sort="recent", limit=limit, offset=offset)
        expected = fields.execute(query.sql, query.params).fetchall()
        assert rows_sync(fields, query) == expected, (text, plan_sync(fields, query).name)
        # Every plan, forced, with short walks too (exact whenever they fill the page).
        assert_every_plan_agrees(fields, query)
