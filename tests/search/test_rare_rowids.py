"""Several words ANDed, one of them dense: the rarer words' few matches read, then looked up in
the dense one, one rowid at a time (tenth round): FTS5's own AND advances every word's list,
and a dense word's is long (`auth api cache d` at 1 M sessions: 16 ms for 22 matches, this way
6 ms).

6,000 sessions: `dense` in 70 % of them, `rare` in 1 % (60: 40 of them with `dense`), `odd` in
10 %, `mid` in 30 %.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.search import plan_sync, prepare_sync, search_sync

from .conftest import migrated_database, spread_session, traced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 6_000


def _words(n: int) -> list[str]:
    return [
        word
        for word, hit in (
            ("dense", n % 10 < 7),
            ("rare", n % 150 == 3 or n % 300 == 78),
            ("odd", n % 10 == 3),
            ("mid", n % 10 in (1, 3, 5)),
        )
        if hit
    ]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("rare") / "data.db"
    rows = [spread_session(n, _words(n), SESSIONS, project=f"p{n % 7}") for n in range(SESSIONS)]
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _full_match_read(seen: list[str], words: list[str]) -> bool:
    """Whether FTS5 was asked for the AND of every word (in any order)."""
    return any("MATCH" in s and all(f'"{w}"' in s for w in words) and " AND " in s for s in seen)


@pytest.mark.parametrize("sort", ["recent", "created", "name", "relevance"])
@pytest.mark.parametrize("text", ["dense rare", "rare dense odd", "dense rare project:p3"])
def test_the_dense_word_is_looked_up_in_the_rarer_words_matches(
    db: sqlite3.Connection, text: str, sort: str
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    expected = [row[0] for row in db.execute(query.sql, query.params)]
    assert expected
    hits, seen = traced(db, lambda: search_sync(db, query))
    assert [hit.id for hit in hits] == expected
    words = [w for w in text.split() if ":" not in w]
    # The planner's read of every match: the rarer words', then the lookups.
    assert any("json_each" in s and '"dense"' in s for s in seen)
    if sort != "relevance":
        # Unranked, those rowids are the plan's (ranked, bm25 over so few matches is
        # exact and cheap here: the default reads them itself).
        assert not _full_match_read(seen, words), [s for s in seen if "MATCH" in s]


def test_the_plan_reads_the_few_rowids_found(db: sqlite3.Connection) -> None:
    query = compile_query(parse_query("dense rare", now=NOW), sort="created")
    plan = plan_sync(db, query)
    assert plan.name == "known_first"
    (rowids, *_) = plan.params
    expected = db.execute(
        "SELECT count(*) FROM sessions_fts WHERE sessions_fts MATCH 'dense AND rare'"
    ).fetchone()[0]
    assert len(rowids.strip("[]").split(",")) == expected == 40


@pytest.mark.parametrize(
    "text",
    [
        # No dense word: the MATCH as it is.
        "rare odd",
        # The rarer words match too many (mid and odd: 600): the MATCH as it is.
        "dense mid odd",
        # A negated word: the MATCH as it is.
        "dense rare -odd",
    ],
)
def test_otherwise_the_match_is_read_as_it_is(db: sqlite3.Connection, text: str) -> None:
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    expected = [row[0] for row in db.execute(query.sql, query.params)]
    hits, seen = traced(db, lambda: search_sync(db, query))
    assert [hit.id for hit in hits] == expected
    assert not any("json_each(" in s and "EXISTS" in s for s in seen)
    assert prepare_sync(db, query).facts is not None
