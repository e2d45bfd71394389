"""The property test of tests/search/test_property.py against PostgreSQL: for random sessions
and random queries, the PostgreSQL compiler returns exactly the sessions the reference evaluator
accepts, and in the same order as the SQLite compiler for every sort but relevance."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.postgres.reads import PgReader
from store.postgres.search import compile_pg, search_pg
from store.query import compile_query, parse_query
from tests.search.conftest import SESSION_FIELDS, insert_sessions
from tests.search.reference import matches
from tests.search.test_property import NOW, TZ, queries, sessions


@pytest.fixture(scope="module")
def pg(pg_server: Any) -> Iterator[Any]:
    reader = PgReader.open(pg_server.new_database())
    reader.conn.execute("SET default_transaction_read_only = off")  # the test loads rows
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("pgprop") / "data.db"
    migrate_sync(path)
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


def insert_pg(reader: PgReader, rows: list[dict[str, Any]]) -> None:
    conn = reader.conn
    conn.execute("TRUNCATE sessions RESTART IDENTITY CASCADE")
    if not rows:
        return
    names = ", ".join(SESSION_FIELDS)
    marks = ", ".join("%s" for _ in SESSION_FIELDS)
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO sessions ({names}) VALUES ({marks})".encode(),
            [tuple(r.get(f) for f in SESSION_FIELDS) for r in rows],
        )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=sessions(), texts=st.lists(queries(), min_size=1, max_size=4))
def test_postgres_agrees_with_the_reference_and_sqlite(
    pg: Any, lite: sqlite3.Connection, rows: list[dict[str, Any]], texts: list[str]
) -> None:
    insert_pg(pg, rows)
    lite.execute("DELETE FROM sessions")
    insert_sessions(lite, rows)
    for text in texts:
        tree = parse_query(text, now=NOW, tz=TZ)
        expected = {r["id"] for r in rows if matches(tree, r)}
        for sort in ("relevance", "recent", "created", "name"):
            sql, params, _ = compile_pg(tree, sort=sort, limit=None)
            got = [hit.id for hit in search_pg(pg, tree, sort=sort, limit=None)]
            assert len(got) == len(set(got)), (text, sort)
            assert set(got) == expected, (text, sort, sql, params)
            if sort != "relevance":
                compiled = compile_query(tree, sort=sort, limit=None)
                order = [r[0] for r in lite.execute(compiled.sql, compiled.params)]
                assert got == order, (text, sort)


def test_pages_are_slices(pg: Any) -> None:
    rows = [
        {
            "id": f"id{n}",
            "name": f"auth {n % 3}",
            "created_at": f"2026-11-{10 + n % 5:02d}T00:00:00.000000Z",
            "updated_at": "2026-11-10T00:00:00.000000Z",
            "last_access": f"2026-11-{10 + n % 7:02d}T00:00:00.000000Z",
            "status": "detached",
        }
        for n in range(30)
    ]
    insert_pg(pg, rows)
    tree = parse_query("auth 1", now=NOW, tz=TZ)
    for sort in ("relevance", "recent", "created", "name"):
        whole = [h.id for h in search_pg(pg, tree, sort=sort, limit=None)]
        # A window smaller than the pages: the pages past it come from the whole order's form.
        small = [
            h.id
            for o in range(0, 30, 7)
            for h in search_pg(pg, tree, sort=sort, limit=7, offset=o, window=10)
        ]
        assert small == [h.id for h in search_pg(pg, tree, sort=sort, limit=None, window=10)]
        pages = [
            h.id for o in range(0, 30, 7) for h in search_pg(pg, tree, sort=sort, limit=7, offset=o)
        ]
        assert pages == whole, sort
