"""``host:`` in the query language, and the HOST column of ``query`` and ``session list``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.ast import Field
from store.search import search_sync
from watcher.cli.main import run as main

from .conftest import insert_sessions, make_session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def hosts(db_path: Path, conn: sqlite3.Connection) -> Path:
    insert_sessions(
        conn,
        [
            make_session(1, name="auth-a", host="laptop"),
            make_session(2, name="auth-b", host="Desk-1"),
            make_session(3, name="auth-c", host=None),
            make_session(4, name="auth-d", host="laptop.example.org"),
        ],
    )
    return db_path


def ids(conn: sqlite3.Connection, text: str) -> set[str]:
    hits = search_sync(conn, compile_query(parse_query(text, now=NOW)))
    return {hit.id for hit in hits}


def test_host_is_a_field_qualifier() -> None:
    assert parse_query("host:laptop", now=NOW) == Field("host", "laptop")
    assert parse_query('HOST:""', now=NOW) == Field("host", "")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("host:laptop", {"s0001"}),
        ("host:LAPTOP", {"s0001"}),
        ("host:desk-1", {"s0002"}),
        ("host:laptop*", {"s0001", "s0004"}),
        ('host:""', {"s0003"}),
        ("-host:laptop", {"s0002", "s0003", "s0004"}),
        ("auth host:desk-1", {"s0002"}),
        ("host:laptop OR host:desk-1", {"s0001", "s0002"}),
        ("host:nowhere", set()),
        ("host:lap_op", set()),  # "_" is not a wildcard
    ],
)
def test_host_qualifier(hosts: Path, conn: sqlite3.Connection, query: str, expected: set[str]):
    assert ids(conn, query) == expected


def test_the_host_column_shows_only_when_there_are_several(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "auth", "--db", str(hosts)]) == 0
    out = capsys.readouterr().out
    assert "HOST" in out.splitlines()[0] and "Desk-1" in out
    assert main(["query", "host:laptop", "--db", str(hosts)]) == 0
    assert "HOST" not in capsys.readouterr().out
    assert main(["session", "list", "--db", str(hosts)]) == 0
    assert "HOST" in capsys.readouterr().out.splitlines()[0]
    assert main(["session", "list", "--db", str(hosts), "--limit", "1"]) == 0
    assert "HOST" not in capsys.readouterr().out
    assert main(["session", "show", "s0002", "--db", str(hosts)]) == 0
    assert "Desk-1" in capsys.readouterr().out


def test_an_unknown_qualifier_hint_names_host(capsys: pytest.CaptureFixture[str]) -> None:
    from store.errors import QueryError

    with pytest.raises(QueryError) as caught:
        parse_query("hots:x", now=NOW)
    assert "host:" in (caught.value.hint or "")
