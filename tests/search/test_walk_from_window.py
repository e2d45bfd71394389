"""Walks that start at an ``until:`` window's end: by recent the walks of the recent order begin
at the window's end (WALK_FROM_WINDOW), and by created words all negated beside another filter
walk the created order down from it (window_created), where both walked from the newest
session and met none of a window in the past (`until:2025-06-01 dir:/home/user`: 0.2-0.4 s at
1 M sessions; `-api until:2025-06-01 status:ended --sort created`: 3-4 s).

3,000 sessions, rowid n created and last used at minute n (a window in the past is a stretch
of old rowids, as in a real history): "auth" in half, "api" in one of 20, every one under
/code, every 300th alive.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import starts_at_window
from store.search import plan_sync, rows_sync, run_plan_sync

from .conftest import make_session, migrated_database, minute_stamp, until_minute

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZE = 3_000
UNTIL = until_minute(600)  # the oldest fifth


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    rows = []
    for n in range(SIZE):
        words = ["auth" if n % 2 else "other", "api" if n % 20 == 7 else "web"]
        stamp = minute_stamp(n)
        rows.append(
            make_session(
                n,
                name=f"p{n % 7}-{'-'.join(words)}-{n}",
                project=f"proj{n % 4}",
                directory=f"/code/p{n % 9}",
                status="detached" if n % 300 == 0 else "ended",
                created_at=stamp,
                updated_at=stamp,
                last_access=stamp,
            )
        )
    conn = migrated_database(tmp_path_factory.mktemp("from_window") / "data.db", rows)
    yield conn
    conn.close()


def _compiled(text: str, sort: str, **kwargs: Any) -> Any:
    return compile_query(parse_query(text, now=NOW), sort=sort, **kwargs)  # type: ignore[arg-type]


def _default(conn: sqlite3.Connection, query: Any) -> list[Any]:
    return conn.execute(query.sql, query.params).fetchall()


@pytest.mark.parametrize(
    "text", [f"auth {UNTIL} dir:/code", f"{UNTIL} dir:/code", f"-api {UNTIL} dir:/code"]
)
@pytest.mark.parametrize("sort", ["recent", "relevance"])
def test_walks_of_the_recent_order_start_at_the_windows_end(
    db: sqlite3.Connection, text: str, sort: str
) -> None:
    query = _compiled(text, sort)
    walks = [plan for plan in query.plans if plan.name in ("order_walk", "order_range")]
    if sort == "relevance" and not text.startswith(("-", "until")):
        assert not walks  # ranked: the window's own plans
        return
    assert walks
    for plan in walks:
        assert starts_at_window(plan.sql)
        assert plan.walk_budget == 1 and plan.params[0] == minute_stamp(600)
        lines = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
        assert any("ix_sessions_last_access (last_access<?)" in line for line in lines), lines
        # Long enough, the walk is the whole answer.
        assert run_plan_sync(db, plan.with_budget(10**9)) == _default(db, query)


@pytest.mark.parametrize(
    "text",
    [
        f"auth {UNTIL} dir:/code",
        f"{UNTIL} dir:/code",
        f"-api {UNTIL} dir:/code",
        f"-api {UNTIL} status:ended",
        f"-auth -api {UNTIL} status:ended",
        f"-api {UNTIL} project:proj1",
        "auth until:2026-01-01 dir:/code",  # a window's end after every session
    ],
)
@pytest.mark.parametrize("sort", ["recent", "created", "relevance", "name"])
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (5, 40), (3, 700)])
def test_the_rows_are_the_default_plans(
    db: sqlite3.Connection, text: str, sort: str, limit: int, offset: int
) -> None:
    query = _compiled(text, sort, limit=limit, offset=offset)
    expected = _default(db, query)
    assert [row[0] for row in rows_sync(db, query)] == [row[0] for row in expected]
    for plan in query.plans:
        if plan.walk_budget is not None and plan.name in ("order_walk", "order_range"):
            assert run_plan_sync(db, plan.with_budget(10**9)) == expected, plan.name


@pytest.mark.parametrize("text", [f"-api {UNTIL} status:ended", f"-api {UNTIL} dir:/code"])
def test_negated_words_beside_a_filter_walk_the_created_order_from_the_windows_end(
    db: sqlite3.Connection, text: str
) -> None:
    query = _compiled(text, "created")
    plan = query.plan("window_created")
    assert plan.params[0] == minute_stamp(600)
    expected = _default(db, query)
    assert run_plan_sync(db, plan.with_budget(10**9)) == expected
    # Its first walk, as long as the page needs at the window's share, fills the page.
    assert run_plan_sync(db, plan.with_budget(40)) == expected
    assert plan_sync(db, query).name not in ("order_walk", "order_range")
