"""A negated window is a window (eleventh round): `-since:X` (last used before X) compiles to
`until:X` without X itself, and `-until:X` to `since:X` without X, so the window plans read it
from the time index; tested on each row it made a walk of the sort order pass every session
used since X first (`auth -since:1w --sort created` at 1 M sessions: 439 ms, now 0.6).
A session last used exactly at X is on the boundary: `-since:X` leaves it out, `until:X`
alone would keep it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.ast import And, Not, Since, Until
from store.query.compiler import _simplify
from store.search import rows_sync, search_sync

from .conftest import (
    make_session,
    migrated_database,
    minute_stamp,
    reference_ids,
    since_minute,
    until_minute,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 600


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("negated-window") / "data.db"
    rows = [
        make_session(
            n,
            id=f"s{n:05d}",
            name=f"{('auth', 'login', 'auth-login')[n % 3]}-{n}",
            project=f"p{n % 4}",
            # Recorded in one order, last used in another; each minute once.
            created_at=minute_stamp(n),
            last_access=minute_stamp((n * 7) % SESSIONS),
            status="ended",
        )
        for n in range(SESSIONS)
    ]
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def test_the_tree_is_the_window_and_its_ends_exclusion() -> None:
    at = parse_query(since_minute(300), now=NOW)
    assert isinstance(at, Since)
    assert _simplify(Not(at)) == And((Until(at.at), Not(at)))
    until = parse_query(until_minute(300), now=NOW)
    assert isinstance(until, Until)
    assert _simplify(Not(until)) == And((Since(until.at), Not(until)))


QUERIES = [
    f"-{since_minute(300)}",
    f"NOT {since_minute(300)}",
    f"auth -{since_minute(300)}",
    f"auth -{until_minute(300)}",
    f"-{until_minute(300)} project:p1",
    f"auth -{since_minute(500)} -{until_minute(100)}",
    f"auth (-{since_minute(100)} OR project:p2)",
    f"-(auth {since_minute(300)})",
    f"login -{since_minute(300)} {since_minute(200)}",
]


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("sort", ["relevance", "recent", "created", "name"])
def test_a_negated_window_keeps_what_its_negation_says(
    db: sqlite3.Connection, text: str, sort: str
) -> None:
    tree = parse_query(text, now=NOW)
    expected = reference_ids(db, tree)
    assert expected
    whole = compile_query(tree, sort=sort, limit=None)  # type: ignore[arg-type]
    assert {hit.id for hit in search_sync(db, whole)} == expected
    ordered = [row[0] for row in db.execute(whole.sql, whole.params)]
    for limit, offset in ((20, 0), (7, 30)):
        page = compile_query(tree, sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
        assert [row[0] for row in rows_sync(db, page)] == ordered[offset : offset + limit]


@pytest.mark.parametrize("negated", ["since", "until"])
def test_the_session_on_the_boundary_is_left_out(db: sqlite3.Connection, negated: str) -> None:
    # The session last used at minute 301: n = 43 (7 * 43 = 301).
    assert db.execute(
        "SELECT id FROM sessions WHERE last_access = ?", (minute_stamp(301),)
    ).fetchone() == ("s00043",)
    bound = since_minute(301) if negated == "since" else until_minute(301)
    for sort in ("recent", "created", "name", "relevance"):
        query = compile_query(parse_query(f"-{bound}", now=NOW), sort=sort, limit=None)
        ids = {hit.id for hit in search_sync(db, query)}
        assert "s00043" not in ids
        assert len(ids) == (301 if negated == "since" else SESSIONS - 302)
