"""ANDed words: the rarest first in the MATCH (prepare_sync), and an AND matching fewer rows than
the planner's sample read from that sample's rowids (known_first).

4,000 sessions: "auth" in half of them, "api" in a fifth, "cache" in one of 40 (each on its
own cycle, so "cache api auth" holds a few), project "big" in half, branch "main" in half;
times run against the rowid so that no order is the rowid's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import KNOWN_ROWIDS, SAMPLE_SIZE
from store.search import (
    plan_sync,
    prepare_sync,
    rows_sync,
    run_plan_sync,
    search_sync,
    with_statistics_sync,
)

from .conftest import make_session, migrated_database, traced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 4_000


def _name(n: int) -> str:
    words = ["auth" if n % 2 else "other", "api" if n % 5 == 1 else "web"]
    if n % 40 == 3:
        words.append("cache")
    return "-".join([f"s{n}", *words])


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("rarest") / "data.db"
    rows = []
    for n in range(SESSIONS):
        used = (n * 2_741) % SESSIONS
        rows.append(
            make_session(
                n,
                id=f"s{n:05d}",
                name=_name(n),
                project="big" if n % 2 else f"p{n % 9}",
                # Half on main, the rest each on its own branch: sqlite_stat1 makes the branch
                # index look selective (two rows a value), as at 1 M sessions.
                branch="main" if n % 4 < 2 else f"feat/{n}",
                created_at=f"2026-01-01T00:00:00.{SESSIONS - n:06d}Z",
                last_access=f"2026-06-01T00:00:00.{used:06d}Z",
                status="attached" if n % 7 == 0 else "ended",
            )
        )
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _compiled(text: str, sort: str, **kwargs: Any) -> Any:
    return compile_query(parse_query(text, now=NOW), sort=sort, **kwargs)  # type: ignore[arg-type]


def _match_of(query: Any) -> str:
    assert query.facts is not None
    return str(query.facts.sample_params[0])


def _default(conn: sqlite3.Connection, query: Any) -> list[Any]:
    return conn.execute(query.sql, query.params).fetchall()


def _matches(conn: sqlite3.Connection, match: str) -> int:
    (count,) = conn.execute(
        "SELECT count(*) FROM sessions_fts WHERE sessions_fts MATCH ?", (match,)
    ).fetchone()
    return int(count)


@pytest.mark.parametrize("sort", ["recent", "created", "name"])
def test_the_rarest_word_leads_the_match(db: sqlite3.Connection, sort: str) -> None:
    query = _compiled("auth api cache", sort)
    assert query.facts.parts == ('"auth"*', '"api"*', '"cache"*')
    prepared = prepare_sync(db, query)
    assert _match_of(prepared) == '("cache"*) AND ("api"*) AND ("auth"*)'
    assert prepared.source is None  # prepared once
    assert prepare_sync(db, prepared) is prepared
    assert rows_sync(db, query) == _default(db, query)


@pytest.mark.parametrize("text", ["auth api cache", "auth api", "auth api cache project:big"])
def test_relevance_ranks_alike_in_every_plan_with_the_rarest_first(
    db: sqlite3.Connection, text: str
) -> None:
    """bm25 sums over the phrases in the MATCH's order, FTS5's and Python's alike: ranked,
    only the planner's reads take the rarest first, and every plan returns the default's rows
    and scores."""
    query = _compiled(text, "relevance")
    prepared = prepare_sync(db, query)
    assert _match_of(prepared).startswith('("cache"*)' if "cache" in text else '("api"*)')
    # The words as typed (the scores to the last bit), but known_scored's MATCH (it reads
    # the rowids of its matches, a set) and newest_scored's (its newest matches, scored in
    # Python in the typed order: tenth round).
    known = ("known_scored", "newest_scored")
    assert [p for p in prepared.plans if p.name not in known] == [
        p for p in query.plans if p.name not in known
    ]
    for name in known:
        if name in [p.name for p in query.plans]:
            assert prepared.plan(name).params[0] == _match_of(prepared)
            assert prepared.plan(name).scoring == query.plan(name).scoring
    if _matches(db, _match_of(query)) >= SAMPLE_SIZE:
        return  # Python's scores use estimated IDFs there (docs/search.md): nothing to compare
    expected = _default(db, query)
    for plan in prepared.plans:
        if plan.walk_budget is not None:
            continue
        ranked = with_statistics_sync(db, prepared, plan)
        assert run_plan_sync(db, ranked) == expected, plan.name
    assert rows_sync(db, query) == expected


def test_words_in_their_order_already_are_compiled_once(db: sqlite3.Connection) -> None:
    query = _compiled("cache api auth", "recent")
    prepared = prepare_sync(db, query)
    assert _match_of(prepared) == _match_of(query)
    assert prepared.plans == query.plans


@pytest.mark.parametrize(
    "text",
    [
        "auth api cache",
        "auth api cache project:big",
        "auth api cache branch:main",
        "auth api cache -status:ended",
        "auth cache -api status:attached",
        'auth "api cache"',
        "cache api -project:big",
    ],
)
@pytest.mark.parametrize("sort", ["recent", "created", "name"])
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (3, 2), (5, 200)])
def test_few_matches_are_read_from_the_samples_rowids(
    db: sqlite3.Connection, text: str, sort: str, limit: int, offset: int
) -> None:
    query = _compiled(text, sort, limit=limit, offset=offset)
    prepared = prepare_sync(db, query)
    assert _matches(db, _match_of(prepared)) < SAMPLE_SIZE
    plan = plan_sync(db, query)
    assert plan.name == "known_first"
    assert KNOWN_ROWIDS in plan.sql and plan.params[0].startswith("[")
    lines = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]
    assert not any("sessions_fts" in line for line in lines), lines  # intersected once only
    # The rowids drive (read by key), not a filter's index tested against them.
    assert not any(" INDEX ix_" in line for line in lines), lines
    expected = _default(db, query)
    assert run_plan_sync(db, plan) == expected
    assert [hit.id for hit in search_sync(db, query)] == [row[0] for row in expected]
    # As compiled (what a test forcing every plan runs) it reads the MATCH itself.
    assert run_plan_sync(db, prepared.plan("known_first")) == expected


@pytest.mark.parametrize(
    "text", ["auth api cache", "auth api cache project:big", "auth cache -api status:attached"]
)
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (3, 2), (5, 200)])
def test_few_matches_ranked_are_scored_from_the_samples_rowids(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, text: str, limit: int, offset: int
) -> None:
    """Where the planner takes newest_scored (at 1 M sessions; here bm25 over every match is
    cheap: newest_ranked), known_scored takes its place: the same ranking of the same rows,
    read by rowid from the planner's sample instead of intersected again."""
    import store.search

    query = _compiled(text, "relevance", limit=limit, offset=offset)
    expected = _default(db, query)
    assert [row[0] for row in rows_sync(db, query)] == [row[0] for row in expected]
    newest = with_statistics_sync(db, query, query.plan("newest_scored"))

    def scored(compiled: Any, *args: Any, **kwargs: Any) -> Any:
        return compiled.plan("newest_scored")

    monkeypatch.setattr(store.search, "choose_plan", scored)
    plan = plan_sync(db, query)
    assert plan.name == "known_scored"
    assert KNOWN_ROWIDS in plan.sql and plan.params[0].startswith("[")
    assert plan.scoring == newest.scoring  # the same statistics
    assert run_plan_sync(db, plan) == run_plan_sync(db, newest) == expected


@pytest.mark.parametrize("sort", ["recent", "created", "name", "relevance"])
def test_many_matches_take_the_other_plans(db: sqlite3.Connection, sort: str) -> None:
    query = _compiled("auth api", sort)
    assert _matches(db, '"auth"* AND "api"*') >= SAMPLE_SIZE
    assert plan_sync(db, query).name not in ("known_first", "known_scored")
    assert rows_sync(db, query) == _default(db, query)


@pytest.mark.parametrize(
    "text",
    [
        "(auth OR project:big) api",  # a conjunct with a word that is not a MATCH of its own
        "auth",  # one word: its sample is the query's, nothing to reorder
        "-auth -api",  # words all negated
    ],
)
def test_no_known_first_where_the_match_is_not_the_words_whole(
    db: sqlite3.Connection, text: str
) -> None:
    query = _compiled(text, "recent")
    assert "known_first" not in [plan.name for plan in query.plans]
    assert rows_sync(db, query) == _default(db, query)


def test_the_words_samples_are_read_once(db: sqlite3.Connection) -> None:
    """The ranking's IDFs reuse each word's density sample that put the rarest first."""
    query = _compiled("auth api cache", "relevance")
    _, statements = traced(db, lambda: plan_sync(db, query))
    for word in ('"auth"*', '"api"*', '"cache"*'):
        reads = [s for s in statements if s.startswith("SELECT count(*)") and f"'{word}'" in s]
        assert len(reads) == 1, (word, statements)
