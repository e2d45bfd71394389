"""Relevance's stream of the newest matches, resumed below the planner's sample (eleventh
round): the sample already holds the newest 256 matches' rowids, so those sessions are read by
rowid and FTS5's stream starts below them, instead of intersecting the words' doclists over
the sample's range a second time (`a b c d` at 1 M sessions: 11.4 -> 9.1 ms). Taken only
where the sample spans many rowids (store.search._RESUME_SPAN); here the span is lowered so
that a small database takes it, and every page must be what the whole stream gives.

4,000 sessions: `dense` in 90 % of them, `some` in 40 %, `odd` in 10 %, projects p0-p6,
branches b0-b399.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import store.search
from store.query import compile_query, parse_query
from store.query.compiler import RELEVANCE_WINDOW, CompiledQuery, Plan, resumed_stream
from store.search import plan_sync, prepare_sync, rows_sync

from .conftest import make_session, migrated_database, reference_ids, traced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 4_000
HEAD = "WITH head AS MATERIALIZED"
CHOOSE = store.search.choose_plan


def _words(n: int) -> list[str]:
    hits = (("dense", n % 10 != 4), ("some", n % 5 < 2), ("odd", n % 10 == 3))
    return [word for word, hit in hits if hit]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("resumed") / "data.db"
    rows = [
        make_session(
            n,
            id=f"s{n:05d}",
            name="-".join([*_words(n), "dense" * (n % 3 == 0), str(n)]),
            project=f"p{n % 7}",
            branch=f"b{n % 400}",
            created_at=f"2026-01-01T00:00:00.{n:06d}Z",
            # Ties of last access (the order's second key after the score).
            last_access=f"2026-06-01T00:00:00.{(n * 37) % 97:06d}Z",
            status=("ended", "detached")[n % 9 == 0],
        )
        for n in range(SESSIONS)
    ]
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _run(
    conn: sqlite3.Connection,
    text: str,
    span: int,
    monkeypatch: pytest.MonkeyPatch,
    forced: str | None = None,
    **kw: int,
) -> tuple[list[object], list[str], str]:
    """``text``'s rows by relevance and the statements run, the stream resumed past ``span``;
    ``forced``: the plan the planner's costs are overruled for (at 4,000 sessions bm25 over
    every match is cheap, and FTS5 ranks: the stream is for a million)."""
    monkeypatch.setattr(store.search, "_RESUME_SPAN", span)
    monkeypatch.setattr(store.search, "choose_plan", CHOOSE)
    if forced is not None:
        choose = CHOOSE

        def choose_forced(compiled: CompiledQuery, *args: Any, **kwargs: Any) -> Plan:
            if forced in {plan.name for plan in compiled.plans}:
                return compiled.plan(forced)
            return choose(compiled, *args, **kwargs)

        monkeypatch.setattr(store.search, "choose_plan", choose_forced)
    query = compile_query(parse_query(text, now=NOW), sort="relevance", **kw)
    plan = plan_sync(conn, prepare_sync(conn, query)).name
    rows, statements = traced(conn, lambda: rows_sync(conn, query))
    return rows, statements, plan


@pytest.mark.parametrize(
    ("text", "forced"),
    [
        ("dense some", "newest_scored"),
        ("some dense", "newest_scored"),
        # A filter that drops some of the sample's sessions, and one that drops most.
        ("dense some status:ended", "newest_scored"),
        ("dense some status:detached", "newest_scored"),
        ("dense some -odd", "newest_scored"),
        ("dense some project:p3", "newest_scored"),
        ("dense some project:p3", "phrase_scored"),
        ("dense s", "newest_scored"),
    ],
)
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (7, 30), (50, 440), (20, 495)])
def test_a_resumed_stream_gives_the_whole_streams_page(
    db: sqlite3.Connection,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    forced: str,
    limit: int,
    offset: int,
) -> None:
    page = {"limit": limit, "offset": offset}
    whole, plain, plan = _run(db, text, 10**9, monkeypatch, forced, **page)
    resumed, statements, _ = _run(db, text, 0, monkeypatch, forced, **page)
    assert not any(HEAD in sql for sql in plain)
    if offset + limit <= RELEVANCE_WINDOW:
        assert plan == forced
        if forced == "newest_scored":
            assert any(HEAD in sql for sql in statements)
    else:  # past the window relevance ranks, no stream of it is offered
        assert plan != forced
        assert not any(HEAD in sql for sql in statements)
    # The same sessions, scores and order; and each of them matches the query.
    assert resumed == whole
    assert whole or offset > 0
    ids = reference_ids(db, parse_query(text, now=NOW))
    assert {row[0] for row in resumed} <= ids  # type: ignore[index]


def test_the_planner_resumes_the_stream_only_past_a_wide_span(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `dense some`'s 256 newest matches span ~700 rowids here.
    default = store.search._RESUME_SPAN
    _, statements, _ = _run(db, "dense some", default, monkeypatch, "newest_scored")
    assert not any(HEAD in sql for sql in statements)
    _, statements, _ = _run(db, "dense some", 600, monkeypatch, "newest_scored")
    assert any(HEAD in sql for sql in statements)
    # Few matches: the sample is every one of them (known_scored reads them), none to resume.
    _, statements, plan = _run(db, "odd some", 0, monkeypatch, "newest_scored")
    assert not any(HEAD in sql for sql in statements)
    # Chosen on costs (bm25 over every match, here): no stream at all.
    _, statements, plan = _run(db, "dense some", 0, monkeypatch)
    assert plan == "newest_ranked"
    assert not any(HEAD in sql for sql in statements)


def test_only_a_stream_of_the_newest_matches_is_resumed() -> None:
    query = compile_query(parse_query("dense some", now=NOW), sort="relevance")
    plans = {plan.name: plan for plan in query.plans}
    assert resumed_stream(plans["newest_scored"], "[3, 2]", 2) is not None
    assert resumed_stream(plans["newest_ranked"], "[3, 2]", 2) is None


@pytest.mark.parametrize("text", ["dense some branch:b7", "dense some project:p3 branch:b10"])
def test_the_sample_sessions_are_read_by_rowid_not_through_a_filters_index(
    db: sqlite3.Connection, text: str
) -> None:
    # Left to itself SQLite read the filter's index and tested each row against the sample's
    # rowids (`branch:main cache web worktree:main auth` at 1 M: 400,000 rows, 49 ms).
    query = compile_query(parse_query(text, now=NOW), sort="relevance")
    stream = next(plan for plan in query.plans if plan.name == "newest_scored")
    resumed = resumed_stream(stream, "[3999, 3998]", 3998)
    assert resumed is not None
    lines = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + resumed.sql, resumed.params)]
    assert not any("INDEX ix_sessions" in line for line in lines), lines
