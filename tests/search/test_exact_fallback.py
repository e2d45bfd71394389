"""A walk that falls short runs the cheapest exact plan the planner costed, not the default.

40,000 sessions, created in rowid order, last used in a permutation of it; `auth` in half.
Projects "isx-a" and "isx-b" hold the 3,000 oldest sessions (7.5 %: too many to count at once,
few enough once counted on) and 8 of the newest rowids, which hold `auth` too but were created
and last used long ago (sessions imported from another machine). The newest matches say 8 of
256 pass `project:isx*`, so a walk of the sort order is sized for that share; it finds none
of them near the top of the order (they are all old), and the exact plan that tests the
prefix's ~3,000 rows is what runs then, not the default plan that reads every match of `auth`
(0.5 s at 1 M sessions for `auth project:isx*` by created, before the tenth round).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store.query import compile_query, parse_query
from store.search import choose_plan, plan_sync, retry_walk, rows_sync, search_sync

from .conftest import make_session, migrated_database, traced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 40_000
OLD = 3_000
IMPORTED = 8


def _stamp(day: int, n: int) -> str:
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T00:00:00.{n:06d}Z"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("fallback") / "data.db"
    rows = []
    for n in range(SESSIONS):
        imported = n >= SESSIONS - IMPORTED
        old = n < OLD or imported
        used = (n * 7919) % SESSIONS
        rows.append(
            make_session(
                n,
                id=f"s{n:05d}",
                name=f"{'auth' if n % 2 or imported else 'work'}-{n}",
                project=("isx-a", "isx-b")[n % 2] if old else f"p{n % 40}",
                # The old sessions (and the imported ones) before every other one in both
                # orders: a walk from the top of either meets none of them for 37,000 rows.
                created_at=_stamp(0 if old else 1 + n // 1000, n),
                last_access=_stamp(0 if old else 1 + used // 1000, used),
                status="ended",
            )
        )
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _compiled(text: str, sort: str, **kwargs: Any) -> Any:
    return compile_query(parse_query(text, now=NOW), sort=sort, **kwargs)  # type: ignore[arg-type]


def _ran(sql: str, seen: list[str]) -> bool:
    """Whether ``sql`` is among the statements traced (they come with their parameters
    bound: the text before the first one is compared)."""
    head = sql.split("?", 1)[0]
    return any(statement.startswith(head) for statement in seen)


@pytest.mark.parametrize(
    ("sort", "exact"), [("created", "filter_tested"), ("recent", "prefix_tested")]
)
def test_a_walk_that_meets_none_of_a_bunched_prefix_runs_the_exact_plan(
    db: sqlite3.Connection, sort: str, exact: str
) -> None:
    query = _compiled("auth project:isx*", sort)
    plan = plan_sync(db, query)
    assert plan.walk_budget is not None, plan.name
    assert plan.fallback is not None and plan.fallback.name == exact
    expected = [row[0] for row in db.execute(query.sql, query.params)]
    assert len(expected) == 20
    rows, seen = traced(db, lambda: rows_sync(db, query))
    assert [row[0] for row in rows] == expected
    # The walk, then filter_tested: never the default's read of every match of `auth`.
    assert not _ran(query.sql, seen)
    assert _ran(plan.fallback.sql, seen)


def test_by_recent_the_prefix_is_sorted_and_tested_in_order(db: sqlite3.Connection) -> None:
    """prefix_tested: the prefix's ~3,000 entries of its covering index sorted newest used
    first, each tested against the words in that order until the page is in, no row read
    before the page's. (Here the walk of the recent order is cheaper by its estimate: it runs
    first, meets none of them, and falls back to this.)"""
    query = _compiled("auth project:isx*", "recent")
    plan = query.plan("prefix_tested")
    lines = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    field = "SEARCH sessions USING COVERING INDEX ix_sessions_project_nocase (project>? AND"
    assert any(line.startswith(field) for line in lines), lines
    fts = [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]
    assert fts and all(":=" in line for line in fts), lines  # a lookup a tested row
    expected = [row[0] for row in db.execute(query.sql, query.params)]
    assert [row[0] for row in db.execute(plan.sql, plan.params)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "auth project:isx* status:ended",  # another filter: tested on rows, not offered
        "auth -work project:isx*",  # a negated word
        "auth project:isx-a",  # an exact field (its index is in order)
    ],
)
def test_prefix_tested_is_offered_for_words_beside_a_prefix_alone(text: str) -> None:
    names = {plan.name for plan in _compiled(text, "recent").plans}
    assert "prefix_tested" not in names
    assert "prefix_tested" not in {p.name for p in _compiled("auth project:isx*", "created").plans}
    assert "prefix_tested" in {p.name for p in _compiled("auth w* project:isx*", "recent").plans}


@pytest.mark.parametrize("sort", ["recent", "created", "name", "relevance"])
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (5, 1490), (30, 2990)])
def test_every_page_after_a_short_walk_is_the_default_plans(
    db: sqlite3.Connection, sort: str, limit: int, offset: int
) -> None:
    for text in ("auth project:isx*", "auth project:isx-a", "work project:isx* -p1"):
        query = _compiled(text, sort, limit=limit, offset=offset)
        expected = [row[0] for row in db.execute(query.sql, query.params)]
        assert [hit.id for hit in search_sync(db, query)] == expected, (text, sort)
        for plan in query.plans:
            if plan.name == "prefix_tested":
                got = [row[0] for row in db.execute(plan.sql, plan.params)]
                assert got == expected, (text, sort, offset)


def test_the_passing_share_is_read_for_a_prefix_by_every_sort() -> None:
    """The newest matches' share that passes the prefix sizes the walks (it was read only
    beside exact fields: a prefix too large to count was taken to hold most rows, so the
    walk was sized for 93 rows of 1 M sessions)."""
    for sort in ("recent", "created"):
        query = _compiled("auth project:isx*", sort)
        assert query.facts.passing_sql is not None, sort
    # Not by name (the snapshot's plans test the prefix), nor for a window (its own estimate
    # stands there).
    assert _compiled("auth project:isx*", "name").facts.passing_sql is None
    assert _compiled("auth until:2026-02-01", "recent").facts.passing_sql is None


def test_the_fallback_is_the_cheapest_exact_plan_and_bounds_the_retry() -> None:
    """Pure: a walk chosen over a filter of 3,000 counted rows falls back to filter_tested
    (3,000 rows tested) rather than the default (20,000 matches), and its retry may read
    only as much as filter_tested would cost."""
    query = _compiled("auth project:isx*", "created")
    sample = (256, 40_000 - 512, 40_000)
    plan = choose_plan(query, sample, 3_008, None, passing=(8, 256), cap=8_192)
    assert plan.name in ("order_walk", "order_range")
    assert plan.fallback is not None and plan.fallback.name == "filter_tested"
    unbounded = choose_plan(
        query.replace(plans=tuple(p for p in query.plans if p.name != "filter_tested")),
        sample,
        3_008,
        None,
        passing=(8, 256),
        cap=8_192,
    )
    assert unbounded.name == plan.name
    assert plan.retry < unbounded.retry


@pytest.mark.parametrize("offset", [0, 100])
def test_a_long_walk_that_found_nothing_runs_the_exact_plan_at_once(offset: int) -> None:
    """Nothing of the first page in 2,000 rows walked: the exact plan, not a walk 60 times as
    long; a short first walk (60 rows) is retried, and past a first page the walk passed
    some rows, and is retried as before."""
    from store.search import _BLIND_RETRY

    query = _compiled("auth project:isx*", "created", offset=offset)
    exact = query.plan("filter_tested")
    walk = query.plan("order_walk").with_budget(2_000, 10**9).replace(fallback=exact)
    retried = retry_walk(walk, query, 0)
    if offset:
        assert retried.name == "order_walk"
    else:
        assert retried is exact
    # Without a fallback, the default.
    assert retry_walk(walk.replace(fallback=None), query, 0).name == (
        "order_walk" if offset else query.plans[0].name
    )
    short = retry_walk(walk.with_budget(60, 10**9), query, 0)
    assert short.name == "order_walk" and short.walk_budget is not None
    assert short.params[short.walk_budget] <= _BLIND_RETRY


def test_the_planner_takes_prefix_tested_for_a_dense_word_beside_a_small_prefix() -> None:
    """Pure, the reads as they are at 1 M sessions for `auth project:isx*` by recent (7,415
    sessions, 0 of the newest 256 matches in it): sorting the prefix's entries and testing
    them in order (~7 ms) beats a walk of ~8,400 rows of the recent order (11-18)."""
    query = _compiled("auth project:isx*", "recent")
    sample = (256, 1_000_000 - 511, 1_000_000)
    plan = choose_plan(query, sample, 7_415, None, passing=(0, 256), cap=8_192)
    assert plan.name == "prefix_tested"
    # A prefix too large to count: never (it could sort a million entries).
    wide = choose_plan(query, sample, 8_192, None, passing=(0, 256), cap=8_192)
    assert wide.name != "prefix_tested"
