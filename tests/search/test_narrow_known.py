"""Words and an exact field that rarely meet (eleventh round): when hardly any of the words'
newest matches pass the filters, the planner reads the matches that also hold the field's
value as a column phrase (PlanFacts.narrow); fewer than its sample are every match, and
known_first reads them (`webshop project:infra auth` by created at 1 M sessions, no session: a
walk of infra's rows took 121 ms, this 15). A field too large to count is what makes the
planner read how many pass, so here it holds more than FILTER_CAP rows.

6,000 sessions: project px in 40 % (2,400), py in 40 %; `alpha` in half of py's and of the
others, and in px's only in five old sessions; `beta` in a third of px's older half and in
py's newest sessions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import FILTER_CAP, SAMPLE_SIZE
from store.search import plan_sync, prepare_sync, search_sync

from .conftest import migrated_database, reference_ids, spread_session, traced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 6_000
MET = (5, 1_000, 2_001, 3_005, 4_006)  # px's sessions with alpha


def _project(n: int) -> str | None:
    return ("px", "px", "py", "py", None)[n % 5]


def _words(n: int) -> list[str]:
    project = _project(n)
    alpha = n in MET or (project != "px" and n % 2 == 0)
    beta = (project == "px" and n < 3_000 and n % 3 == 0) or (project == "py" and n > 5_000)
    return [word for word, hit in (("alpha", alpha), ("beta", beta)) if hit]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("narrow") / "data.db"
    rows = [spread_session(n, _words(n), SESSIONS, project=_project(n)) for n in range(SESSIONS)]
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _narrow_reads(statements: list[str]) -> list[str]:
    return [sql for sql in statements if 'match \'({project} : "px")' in sql.lower()]


def test_the_data_is_what_the_tests_need(db: sqlite3.Connection) -> None:
    (px,) = db.execute("SELECT count(*) FROM sessions WHERE project = 'px'").fetchone()
    assert px > FILTER_CAP
    met = reference_ids(db, parse_query("beta project:px", now=NOW))
    assert len(met) > SAMPLE_SIZE  # the narrowed read is full: it says nothing


@pytest.mark.parametrize("sort", ["recent", "created", "relevance"])
@pytest.mark.parametrize("text", ["alpha project:px", "alpha project:PX", "alpha project:px -beta"])
def test_words_and_a_field_that_rarely_meet_are_read_where_they_do(
    db: sqlite3.Connection, sort: str, text: str
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    hits, statements = traced(db, lambda: search_sync(db, query))
    expected = reference_ids(db, parse_query(text, now=NOW))
    assert {hit.id for hit in hits} == expected
    assert 0 < len(expected) < 20  # MET, but those with beta
    assert _narrow_reads(statements), statements
    if sort != "relevance":  # ranked, FTS5's bm25 is as cheap here: newest_ranked
        assert plan_sync(db, prepare_sync(db, query)).name == "known_first"


@pytest.mark.parametrize("sort", ["recent", "created", "relevance", "name"])
def test_where_they_meet_often_enough_the_plans_are_as_before(
    db: sqlite3.Connection, sort: str
) -> None:
    # beta's newest matches are py's: none passes, so the narrowed read is made, and holds
    # more than its sample (px's older beta sessions): then it says nothing.
    query = compile_query(parse_query("beta project:px", now=NOW), sort=sort, limit=None)  # type: ignore[arg-type]
    hits = search_sync(db, query)
    assert {hit.id for hit in hits} == reference_ids(db, parse_query("beta project:px", now=NOW))
    paged = compile_query(parse_query("beta project:px", now=NOW), sort=sort)  # type: ignore[arg-type]
    assert search_sync(db, paged) == hits[:20]
    assert plan_sync(db, prepare_sync(db, paged)).name != "known_first"


@pytest.mark.parametrize("text", ["alpha project:py", "alpha", "alpha project:px*", "beta"])
def test_it_is_not_read_where_the_matches_pass_or_no_exact_field_is_beside_them(
    db: sqlite3.Connection, text: str
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    _, statements = traced(db, lambda: search_sync(db, query))
    assert not _narrow_reads(statements)
    assert not any('{project} : "py")' in sql for sql in statements)
