"""An AND that rules out what it asks for matches nothing, and is known to at compile time:
every match of `main` holds a token starting with `m`, so `main -m` is empty (tenth round: FTS5
read both words' whole lists to find nothing, 43 ms at 1 M sessions). The reference evaluator
(tests/search/reference.py, which shares nothing with the compiler but the tokenizer) decides
what each query matches."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import _simplify
from store.search import search_sync

from .conftest import make_session, migrated_database, reference_ids

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NAMES = ["main", "mainline", "main-line", "Mäin x", "w1", "w10 build", "auth login", "m", "x-main"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("excluded") / "data.db"
    rows = [
        make_session(n, id=f"s{n:04d}", name=name, project=("myapp", "mx", None)[n % 3])
        for n, name in enumerate(NAMES * 3)
    ]
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _reference(conn: sqlite3.Connection, text: str) -> set[str]:
    return reference_ids(conn, parse_query(text, now=NOW))


@pytest.mark.parametrize(
    "text",
    [
        "main -m",
        "main -ma",
        "-m main project:myapp",
        '"main line" -l',
        "w1 -w",
        "w1 -W",
        "mäin -ma",
        "x-main -m",
        "(main -m) status:ended",
    ],
)
def test_a_word_ruled_out_by_its_own_negated_prefix_matches_nothing(
    db: sqlite3.Connection, text: str
) -> None:
    assert _reference(db, text) == set()
    for sort in ("relevance", "recent", "created", "name"):
        query = compile_query(parse_query(text, now=NOW), sort=sort)
        assert len(query.plans) == 1  # nothing to plan: the WHERE is false
        assert search_sync(db, query) == []


@pytest.mark.parametrize(
    "text",
    [
        "main -mb",  # `mb` is no prefix of `main`
        'main -"m"',  # a quoted word is a whole token: `main` is not `m`
        "m -main",  # the other way round: `m` matches `mx`
        "main -line",  # another token of the same match: `main` alone has none
        "(main -m) OR w1",  # one branch empty, the other not
        "main -m*x",  # a negated word of two tokens (`m`, `x`): not one prefix
    ],
)
def test_otherwise_the_words_are_searched(db: sqlite3.Connection, text: str) -> None:
    expected = _reference(db, text)
    assert expected
    for sort in ("relevance", "recent", "created", "name"):
        query = compile_query(parse_query(text, now=NOW), sort=sort, limit=None)
        assert {hit.id for hit in search_sync(db, query)} == expected, sort


def test_the_tree_folds_to_false_inside_an_or() -> None:
    tree = _simplify(parse_query("(main -m) OR w1", now=NOW))
    assert type(tree).__name__ == "Term"
