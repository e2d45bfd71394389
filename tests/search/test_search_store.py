"""store.search on a read-only connection from store.reads, as `ccmgr-watch query` runs it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.errors import CcmgrError, StoreError
from store.query import compile_query, parse_query
from store.reads import list_events, open_reader, resolve_sessions
from store.search import plan_sync, search_sync

from .conftest import insert_sessions, make_session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_search_history_and_resolve(db_path: Path, conn: sqlite3.Connection) -> None:
    insert_sessions(
        conn,
        [
            make_session(1, name="ccmgr-myapp-main", project="myapp"),
            make_session(2, name="notes", project="docs"),
        ],
    )
    conn.execute(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) "
        "VALUES ('s0001', 'created', '2026-11-20T00:00:00.000000Z', '{\"a\": 1}')"
    )
    with closing(open_reader(str(db_path))) as reader:
        hits = search_sync(reader, compile_query(parse_query("myapp", now=NOW)))
        assert [h.id for h in hits] == ["s0001"]
        assert hits[0].score is not None and hits[0].score > 0
        # Words beside an indexed filter: the plan is chosen at run time, by cheap reads.
        filtered = compile_query(parse_query("myapp project:MYAPP", now=NOW))
        assert [p.name for p in filtered.plans] == [
            "newest_ranked",
            "newest_scored",
            "known_scored",
            "phrase_scored",
            "filter_scored",
            "filter_set",
            "filter_ranked",
        ]
        assert [h.id for h in search_sync(reader, filtered)] == ["s0001"]
        unnarrowed = compile_query(parse_query("notes project:docs", now=NOW))
        assert [h.id for h in search_sync(reader, unnarrowed)] == ["s0002"]
        assert search_sync(reader, compile_query(parse_query("zzz project:docs", now=NOW))) == []
        plain = search_sync(reader, compile_query(parse_query("", now=NOW), sort="name"))
        assert [h.name for h in plain] == ["ccmgr-myapp-main", "notes"]
        assert plain[0].score is None
        assert resolve_sessions(reader, "notes") == ("s0002",)
        with pytest.raises(CcmgrError):
            resolve_sessions(reader, "ghost")
        events = list_events(reader, session_ids=("s0001",))
        assert [(e.event_type, e.session_name, e.data) for e in events] == [
            ("created", "ccmgr-myapp-main", {"a": 1})
        ]


def test_search_without_the_index_is_a_store_error(tmp_path: Path) -> None:
    from store.db import migrate_sync

    path = tmp_path / "old.db"
    migrate_sync(path, 1)
    with closing(open_reader(str(path))) as reader, pytest.raises(StoreError, match="search index"):
        search_sync(reader, compile_query(parse_query("x", now=NOW)))


def test_search_chooses_its_plan_by_cheap_reads(db_path: Path, conn: sqlite3.Connection) -> None:
    rows = [make_session(n, name=f"auth-{n}", project="big") for n in range(200)]
    rows += [make_session(n, name=f"auth-s-{n}", project="small") for n in range(200, 203)]
    rows += [make_session(n, name=f"other-{n}", project="big") for n in range(300, 600)]
    insert_sessions(conn, rows)
    few = compile_query(parse_query("auth project:small", now=NOW), limit=None)
    many = compile_query(parse_query("auth project:big", now=NOW), limit=None)
    walk = compile_query(parse_query("auth", now=NOW), sort="recent", limit=5)
    with closing(open_reader(str(db_path))) as reader:
        assert {h.id for h in search_sync(reader, few)} == {"s0200", "s0201", "s0202"}
        assert len(search_sync(reader, many)) == 200
        assert len(search_sync(reader, walk)) == 5
    for query in (few, many, walk):
        assert [h.id for h in search_sync(conn, query)] == [
            row[0] for row in conn.execute(query.sql, query.params)
        ]
    assert plan_sync(conn, few).name == "filter_ranked"
    assert plan_sync(conn, many).name == "newest_ranked"
    # 203 matches: only those within the walk's range read (its ends and edge from the index
    # alone), not a lookup a walked row.
    assert plan_sync(conn, walk).name == "order_range"
