"""Words beside an exact field by creation (seventh round of issue 11): created_walk and
created_set walk the field's own index newest *used* first and stop once the page's sessions
were created after the last access reached, reading the sessions last used before they were
created from migration 013's partial index first. Checked on real SQLite files: the page is
the default plan's whatever the data (sessions used long after they were created, used before
they were created, equal creation times, a walk past its budget), SQLite's reads, the
planner's choice from its reads as they are at 1 M sessions, and a database before 013.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store.migrations import load_migrations
from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP
from store.query.windows import EARLY_INDEX as USED_EARLY_INDEX
from store.search import choose_plan, plan_sync, rows_sync, run_plan_sync

from .conftest import make_session, migrated_database
from .test_property import assert_every_plan_agrees

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOP = 1_000_000
HALF = (256, TOP - 511, TOP)
ONE_PERCENT = (256, TOP - 25_599, TOP)
(EARLY_VERSION,) = [m.version for m in load_migrations() if USED_EARLY_INDEX in m.up]


def _stamp(day: int, n: int) -> str:
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{n % 24:02d}:00:00.{n:06d}Z"


def _sessions() -> list[dict[str, Any]]:
    """1,500 sessions in three projects; most live a day or two, every 7th for months (used
    long after it was created), every 97th was last used *before* it was created (an import,
    another host's clock), and creation times repeat (equal ones ordered by rowid)."""
    rows = []
    for n in range(1500):
        created_day = (n * 7) % 300
        life = 150 if n % 7 == 0 else n % 2
        used_day = min(created_day + life, 330)
        created, used = _stamp(created_day, n % 5), _stamp(used_day, n)
        if n % 97 == 0:
            created, used = _stamp(min(created_day + 20, 330), n % 5), _stamp(created_day, n)
        word = "cache" if n % 31 == 0 else "auth" if n % 2 else "other"
        project = "big" if n % 10 else "small"
        rows.append(
            make_session(
                n,
                name=f"{project}-{word}-{n}",
                project=project.upper() if n % 3 == 0 else project,
                created_at=created,
                last_access=used,
            )
        )
    return rows


def _database(path: Path, version: int | None = None) -> sqlite3.Connection:
    return migrated_database(path, _sessions(), version)


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    conn = _database(tmp_path_factory.mktemp("created") / "data.db")
    yield conn
    conn.close()


SHAPES = ["auth project:big", "auth project:small", "cache project:big", "auth -other project:big"]


@pytest.mark.parametrize("text", SHAPES)
@pytest.mark.parametrize("name", ["created_walk", "created_set"])
def test_the_walk_returns_the_default_plans_pages(
    created: sqlite3.Connection, text: str, name: str
) -> None:
    tree = parse_query(text, now=NOW)
    early = created.execute(
        "SELECT count(*) FROM sessions WHERE created_at > last_access AND project = 'big'"
    ).fetchone()
    assert early[0] > 0  # the data has sessions used before they were created
    for limit, offset in ((20, 0), (5, 3), (10, 40), (3, 0), (50, 200)):
        query = compile_query(tree, sort="created", limit=limit, offset=offset)
        expected = created.execute(query.sql, query.params).fetchall()
        plan = query.plan(name)
        assert run_plan_sync(created, plan) == expected, (text, limit, offset)
        # A walk past a small budget gives way to the default plan: the same page.
        assert run_plan_sync(created, plan.with_created_budget(10)) == expected
        assert rows_sync(created, query) == expected


def test_every_plan_agrees(created: sqlite3.Connection) -> None:
    for text in SHAPES:
        query = compile_query(parse_query(text, now=NOW), sort="created", limit=7, offset=2)
        assert {"created_walk", "created_set"} <= {p.name for p in query.plans}
        assert_every_plan_agrees(created, query)


def test_the_walk_reads_the_fields_index_in_order_and_the_early_ones_from_their_own(
    created: sqlite3.Connection,
) -> None:
    query = compile_query(parse_query("auth project:big", now=NOW), sort="created")
    plan = query.plan("created_walk")
    lines = [r[3] for r in created.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert lines == ["SEARCH sessions USING INDEX ix_sessions_project_nocase (project=?)"], lines
    assert plan.created is not None
    early = plan.created
    lines = [
        r[3] for r in created.execute("EXPLAIN QUERY PLAN " + early.early_sql, early.early_params)
    ]
    assert lines == [f"SCAN sessions USING INDEX {USED_EARLY_INDEX}"], lines


@pytest.mark.parametrize(
    ("text", "sample", "candidates", "passing", "expected"),
    [
        # A dense word in a project in 0.5 %: the project's rows newest used first (~500),
        # where the default sorted every match (310 ms at 1 M sessions) and a walk of the
        # created order meets 1 in 200 of the project's rows.
        ("auth project:isxecoru", HALF, 5_000, (1, 256), "created_walk"),
        # A word in 1 % in a project that holds 4 % of its newest matches: the project's
        # index against the word's matches as a set (the created order's walk would read
        # ~75,000 index entries).
        ("cache project:myapp", ONE_PERCENT, FILTER_CAP, (10, 256), "created_set"),
        # In 1 %: the created order's range read by its edge (tenth round: 2.4 ms at 1 M
        # sessions, created_set 3.4; it read every walked row before, 28 ms).
        ("cache project:myapp", ONE_PERCENT, FILTER_CAP, (77, 256), "order_range"),
        # A dense word in a dense project: the created order's own walk stays cheapest.
        ("auth project:myapp", HALF, FILTER_CAP, (77, 256), "order_range"),
    ],
)
def test_the_planner_chooses_the_walk_where_it_is_cheapest(
    text: str,
    sample: tuple[int, int, int],
    candidates: int,
    passing: tuple[int, int],
    expected: str,
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort="created")
    cap = 8_192 if candidates > FILTER_CAP else FILTER_CAP
    chosen = choose_plan(query, sample, candidates, (TOP - 200, TOP), cap=cap, passing=passing)
    assert chosen.name == expected
    if expected.startswith("created"):
        assert chosen.created is not None and chosen.created.budget > 1_000


def test_a_database_before_the_partial_index_keeps_the_other_plans(tmp_path: Path) -> None:
    conn = _database(tmp_path / "data.db", EARLY_VERSION - 1)
    for text in SHAPES:
        query = compile_query(parse_query(text, now=NOW), sort="created")
        assert plan_sync(conn, query).name not in ("created_walk", "created_set")
        assert rows_sync(conn, query) == conn.execute(query.sql, query.params).fetchall()
    conn.close()
