"""Words ORed with filters in a sort order (seventh round of issue 11): ``or_union`` plans each
branch of the OR as a query of its own and sorts their sessions, and the words-in-every-branch
walks (order_walk, order_range over the OR of the words); and an alive status counted before an
exact field. Checked on a real SQLite file: each shape's rows equal the default plan's and the
reference evaluator's, page by page; the planner's choice; what SQLite reads. That every plan
agrees on random queries is tests/search/test_property.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import RESULT_COLUMNS, UNION_CAP
from store.search import plan_sync, rows_sync, run_plan_sync, statement_sync, with_statistics_sync

from .conftest import make_session, migrated_database
from .reference import matches

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _sessions(count: int = 2600) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        word = "auth" if n % 2 else ("login" if n % 3 == 0 else "other")
        status = "attached" if n % 40 == 3 else "detached" if n % 40 == 7 else "ended"
        stamp = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.{n:06d}Z"
        created = f"2025-{1 + n % 12:02d}-{1 + n % 27:02d}T00:00:00.{n:06d}Z"
        rows.append(
            make_session(
                n,
                # Equal names under NOCASE in pairs: the order's tie-break matters.
                name=f"{'P' if n % 2 else 'p'}{n % 5}-{word}-{n // 2}",
                project=f"p{n % 5}",
                branch="main" if n % 3 else f"feat/{word}",
                status=status,
                created_at=created,
                last_access=stamp,
            )
        )
    rows.append(make_session(5000, name="zanzibar", project="far", status="ended"))
    return rows


@pytest.fixture(scope="module")
def db(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sqlite3.Connection, list[dict[str, Any]]]]:
    rows = _sessions()
    conn = migrated_database(tmp_path_factory.mktemp("or") / "data.db", rows)
    yield conn, rows
    conn.close()


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sqlite3.Connection, list[dict[str, Any]]]]:
    """Fewer than SAMPLE_SIZE matches of each word: bm25's IDFs exact in Python too, so the
    scores are FTS5's to the last bit."""
    rows = _sessions(400)
    conn = migrated_database(tmp_path_factory.mktemp("or-small") / "data.db", rows)
    yield conn, rows
    conn.close()


SHAPES = [
    "zanzibar OR (auth status:active)",
    "auth OR (login status:active)",
    "auth OR project:p3",
    "project:p1 OR status:attached",
    "project:p1 OR project:p2 OR branch:feat/login",
    "(login OR project:p4) status:active",
    "(auth OR branch:main) -status:ended project:p2",
    "zanzibar OR nothing-at-all OR (other project:p0)",
]


@pytest.mark.parametrize("text", SHAPES)
@pytest.mark.parametrize("sort", ["recent", "created", "name"])
def test_or_union_pages_are_the_default_plans_pages(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]], text: str, sort: str
) -> None:
    """Every page, near the start, across branch boundaries and past the end, equals the
    default plan's; the whole result is the reference evaluator's. A session both branches
    hold is listed once."""
    conn, rows = db
    tree = parse_query(text, now=NOW)
    whole = compile_query(tree, sort=sort, limit=None)  # type: ignore[arg-type]
    all_ids = [row[0] for row in conn.execute(whole.sql, whole.params)]
    assert set(all_ids) == {r["id"] for r in rows if matches(tree, r)}
    for limit, offset in ((20, 0), (7, 3), (50, 40), (5, len(all_ids) - 2), (3, len(all_ids))):
        page = compile_query(tree, sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
        plan = plan_sync(conn, page)
        # The union, or a short walk of the sort order with the union as its exact fallback
        # (words ANDed beside the OR: store.search._union_or_walk).
        union = plan if plan.fallback is None else plan.fallback
        assert union.name == "or_union", (text, sort)
        got = [row[0] for row in run_plan_sync(conn, union)]
        assert got == all_ids[offset : offset + limit], (text, sort, limit, offset)
        assert [row[0] for row in rows_sync(conn, page)] == got


def test_a_session_in_several_branches_is_listed_once(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    conn, _ = db
    # Every auth session of project p1 is in both branches.
    page = compile_query(parse_query("auth OR project:p1", now=NOW), sort="recent", limit=400)
    ids = [row[0] for row in rows_sync(conn, page)]
    assert len(ids) == len(set(ids)) == 400


def test_the_branches_get_their_own_plans(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    """`zanzibar OR (auth status:active)`: the word alone by its matches, the alive status by
    its own index (migration 011); where the whole query's only plan read every match of
    both words."""
    conn, _ = db
    query = compile_query(parse_query("zanzibar OR (auth status:active)", now=NOW), sort="created")
    first = plan = plan_sync(conn, query)
    if plan.union is None:  # a short walk first, the union its fallback (_union_or_walk)
        assert plan.fallback is not None
        plan = plan.fallback
    assert plan.union is not None
    chosen = [plan_sync(conn, branch).name for branch in plan.union.branches]
    assert chosen[1] == "alive_tested", chosen
    # The merge reads each gathered session by its id, then sorts the few.
    merge = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + plan.sql, ('["s0001"]', 1, 0))]
    assert merge[0] == "SEARCH sessions USING INDEX sqlite_autoindex_sessions_1 (id=?)", merge
    # The statement shown for the query (`statement_sync`) is the walk's, when one is tried
    # first, else the default plan's: the union runs one query per branch.
    if first.union is None:
        assert statement_sync(conn, query) == (first.sql, first.params)
    else:
        assert statement_sync(conn, query) == (query.sql, query.params)
    union_only = compile_query(parse_query("zanzibar OR project:p3", now=NOW), sort="created")
    assert plan_sync(conn, union_only).name == "or_union"  # no word beside the OR
    assert statement_sync(conn, union_only) == (union_only.sql, union_only.params)


def test_or_union_is_offered_only_where_it_is_exact_and_bounded() -> None:
    def names(text: str, **kwargs: Any) -> list[str]:
        return [p.name for p in compile_query(parse_query(text, now=NOW), **kwargs).plans]

    assert "or_union" in names("auth OR project:x", sort="recent")
    assert "or_union" in names("project:a OR project:b")  # no words: sorted by recent
    # Ranked: the window is among the branches' windows, so only a page within it.
    assert "or_union" in names("auth OR project:x")
    assert "or_union" in names("auth OR project:x", limit=10, offset=490)
    assert "or_union" not in names("auth OR project:x", limit=10, offset=491)
    assert "or_union" not in names("auth OR project:x", limit=None)
    # Words alone are one MATCH, which FTS5 unites itself.
    assert "or_union" not in names("auth OR login", sort="recent")
    # Every row (no page), or more sessions than UNION_CAP to gather.
    assert "or_union" not in names("auth OR project:x", sort="recent", limit=None)
    assert "or_union" not in names("auth OR project:x", sort="recent", limit=UNION_CAP // 2 + 1)
    # Two ORs in one AND: distributing them would multiply the branches.
    assert "or_union" not in names("(a OR project:x) (b OR project:y)", sort="recent")
    assert "or_union" in names("(a OR project:x) b status:active", sort="name")


def test_words_in_every_branch_walk_the_sort_order_where_no_union_is_offered(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    """Past UNION_CAP (a deep page) the OR of the words samples the results' density and the
    sort order is walked, each row tested against the whole query; a walk that falls short
    retries, then the default plan: the rows are the default's either way."""
    conn, _ = db
    for text in ("auth OR (login status:active)", "zanzibar OR (auth status:active)"):
        for sort in ("recent", "created", "name"):
            tree = parse_query(text, now=NOW)
            page = compile_query(tree, sort=sort, limit=UNION_CAP, offset=3)
            assert {"order_walk", "order_range"} <= {p.name for p in page.plans}
            assert "or_union" not in {p.name for p in page.plans}
            expected = [row[0] for row in conn.execute(page.sql, page.params)]
            assert [row[0] for row in rows_sync(conn, page)] == expected, (text, sort)
            for name in ("order_walk", "order_range"):
                walk = page.plan(name).with_budget(10**9)
                assert [row[0] for row in conn.execute(walk.sql, walk.params)] == expected


def test_an_alive_status_is_counted_before_an_exact_field(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    """`auth project:p1 status:active`: the alive sessions' index tests the project too, and
    they are few; before, the project's rows were counted (at 1 M sessions a project in 30 %
    of them, too many to count: 0.3 s by every sort but name)."""
    conn, _ = db
    for sort in ("relevance", "recent", "created", "name"):
        query = compile_query(parse_query("auth project:p1 status:active", now=NOW), sort=sort)
        assert query.facts is not None and query.facts.candidates_sql is not None
        assert "INDEXED BY ix_sessions_status " in query.facts.candidates_sql
        plan = plan_sync(conn, query)
        assert plan.name in ("alive_scored", "alive_tested"), (sort, plan.name)
        expected = [row[0] for row in conn.execute(query.sql, query.params)]
        assert [row[0] for row in rows_sync(conn, query)] == expected


@pytest.mark.parametrize("text", SHAPES)
def test_ranked_or_union_pages_are_the_default_plans_pages(
    small: tuple[sqlite3.Connection, list[dict[str, Any]]], text: str
) -> None:
    """Ranked (scores and all), with the window at 500 (every match ranked here) and at 40
    (the newest 40 ranked, the older ones after): each page within the window, run by
    or_union, is the slice of the default plan's whole order."""
    conn, rows = small
    tree = parse_query(text, now=NOW)
    for window in (500, 40):
        whole = compile_query(tree, limit=None, window=window)
        ordered = conn.execute(whole.sql, whole.params).fetchall()
        assert {row[0] for row in ordered} == {r["id"] for r in rows if matches(tree, r)}
        for limit, offset in ((20, 0), (7, 3), (10, 30), (1, 39)):
            page = compile_query(tree, limit=limit, offset=offset, window=window)
            plan = with_statistics_sync(conn, page, page.plan("or_union"))
            assert run_plan_sync(conn, plan) == ordered[offset : offset + limit], (text, window)
            assert rows_sync(conn, page) == ordered[offset : offset + limit]


def test_relevance_of_an_or_with_a_wordless_branch_ranks_the_window(
    small: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    """`auth OR project:p3` ranks its newest matches (by rowid, the order they were recorded
    in) as every other query, best score first (a session of the project without the word
    scores 0, after the matches of it); the older ones follow most recent first. Before the
    seventh round it ranked every match."""
    conn, _ = small
    tree = parse_query("auth OR project:p3", now=NOW)
    query = compile_query(tree, limit=None, window=40)
    ordered = conn.execute(query.sql, query.params).fetchall()
    rowid = {r[1]: r[0] for r in conn.execute("SELECT rowid, id FROM sessions")}
    newest = sorted((rowid[row[0]] for row in ordered), reverse=True)[:40]
    assert {rowid[row[0]] for row in ordered[:40]} == set(newest)
    scores = [row[-1] for row in ordered[:40]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.0
    assert 0.0 in scores  # the project's sessions without the word
    # bm25 over the matches within the window's rowids only (FTS5 seeks to the range), and
    # each session of the window looked up there: never a scan of the matches per session
    # (the LEFT JOIN it replaced took 208 s at 100,000 sessions).
    lines = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + query.sql, query.params)]
    assert any("sessions_fts VIRTUAL TABLE" in line and "><" in line for line in lines), lines
    assert not any(line.startswith("SCAN ranked") for line in lines), lines
    last_access = RESULT_COLUMNS.index("last_access")
    older = [row[last_access] for row in ordered[40:]]
    assert older and older == sorted(older, reverse=True)


def test_ranked_or_union_is_taken_past_a_small_table(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]],
    small: tuple[sqlite3.Connection, list[dict[str, Any]]],
) -> None:
    """Ranked, the union plans each branch and ranks in Python: taken when the table holds
    more than FILTER_CAP sessions; below, the default ranks every match in about a ms."""
    for text in ("auth OR project:p3", "zanzibar OR (auth status:active)"):
        query = compile_query(parse_query(text, now=NOW))
        assert plan_sync(db[0], query).name == "or_union"
        assert plan_sync(small[0], query).name == query.plans[0].name
        # Sorted, no ranking in Python: the union at any size.
        by_recent = compile_query(parse_query(text, now=NOW), sort="recent")
        assert plan_sync(small[0], by_recent).name == "or_union"


@pytest.mark.parametrize("sort", ["recent", "created"])
@pytest.mark.parametrize(
    "text",
    [
        # A branch that matches nothing (auth's sessions are on feat/auth or main) beside a
        # dense one: the union proves the first empty by reading it through; the walk of the
        # whole query fills the page from the top (eleventh round: 0.3-0.7 s -> 0.3 ms at 1 M).
        "auth (branch:feat/login OR branch:main)",
        # Both sparse near the top: the walk falls short, and the union is its fallback.
        "auth (branch:feat/login OR status:attached)",
    ],
)
def test_words_beside_an_or_walk_the_sort_order_first(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]], text: str, sort: str
) -> None:
    conn, rows = db
    tree = parse_query(text, now=NOW)
    whole = compile_query(tree, sort=sort, limit=None)  # type: ignore[arg-type]
    all_ids = [row[0] for row in conn.execute(whole.sql, whole.params)]
    assert set(all_ids) == {r["id"] for r in rows if matches(tree, r)}
    for limit, offset in ((20, 0), (7, 30), (5, len(all_ids) - 2)):
        page = compile_query(tree, sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
        plan = plan_sync(conn, page)
        if offset < 100:  # (past _UNION_WALK rows of the order, the union alone)
            assert plan.name in ("order_walk", "order_range"), plan.name
            assert plan.fallback is not None and plan.fallback.name == "or_union"
        assert [row[0] for row in rows_sync(conn, page)] == all_ids[offset : offset + limit]
    # The dense case's first page is the walk's own: no branch is run.
    if "branch:main" in text:
        page = compile_query(tree, sort=sort)  # type: ignore[arg-type]
        plan = plan_sync(conn, page)
        assert len(run_plan_sync(conn, plan)) == 20


@pytest.mark.parametrize(
    ("text", "sort"),
    [
        # By name a walk of the name order is priced as if the matches spread through A-Z,
        # which names defeat (they start with their project's).
        ("auth (branch:feat/login OR branch:main)", "name"),
        # Beside a phrase of several words the whole query's reads would intersect its
        # positions (~30 ms at 1 M sessions for `"auth login"`), more than the union costs.
        ('"p1 auth" (branch:feat/login OR branch:main)', "recent"),
    ],
)
def test_the_union_is_not_walked_first_by_name_nor_beside_a_phrase(
    db: tuple[sqlite3.Connection, list[dict[str, Any]]], text: str, sort: str
) -> None:
    conn, rows = db
    tree = parse_query(text, now=NOW)
    page = compile_query(tree, sort=sort)  # type: ignore[arg-type]
    assert plan_sync(conn, page).name == "or_union"
    whole = compile_query(tree, sort=sort, limit=None)  # type: ignore[arg-type]
    ordered = [row[0] for row in conn.execute(whole.sql, whole.params)]
    assert ordered and set(ordered) == {r["id"] for r in rows if matches(tree, r)}
    assert [row[0] for row in rows_sync(conn, page)] == ordered[:20]
