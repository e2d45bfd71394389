"""store.search's async functions on a real reader connection (as the service would use them)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.db import Database, open_reader
from store.errors import CcmgrError, StoreError
from store.query import compile_query, parse_query
from store.search import (
    HistoryQuery,
    history,
    plan_sync,
    resolve_session,
    search,
    search_sync,
)

from .conftest import insert_sessions, make_session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.anyio
async def test_search_history_and_resolve(db_path: Path, conn: sqlite3.Connection) -> None:
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
    async with await Database.open(db_path) as db, db.reader() as reader:
        hits = await search(reader, compile_query(parse_query("myapp", now=NOW)))
        assert [h.id for h in hits] == ["s0001"]
        assert hits[0].score is not None and hits[0].score > 0
        # Words beside an indexed filter: the plan is chosen at run time, by cheap reads.
        filtered = compile_query(parse_query("myapp project:MYAPP", now=NOW))
        assert [p.name for p in filtered.plans] == [
            "newest_ranked",
            "newest_scored",
            "filter_scored",
            "filter_ranked",
        ]
        assert [h.id for h in await search(reader, filtered)] == ["s0001"]
        unnarrowed = compile_query(parse_query("notes project:docs", now=NOW))
        assert [h.id for h in await search(reader, unnarrowed)] == ["s0002"]
        assert await search(reader, compile_query(parse_query("zzz project:docs", now=NOW))) == []
        plain = await search(reader, compile_query(parse_query("", now=NOW), sort="name"))
        assert [h.name for h in plain] == ["ccmgr-myapp-main", "notes"]
        assert plain[0].score is None
        assert await resolve_session(reader, "notes") == ("s0002",)
        with pytest.raises(CcmgrError):
            await resolve_session(reader, "ghost")
        events = await history(reader, HistoryQuery(session_ids=("s0001",)))
        assert [(e.event_type, e.session_name, e.data) for e in events] == [
            ("created", "ccmgr-myapp-main", {"a": 1})
        ]


@pytest.mark.anyio
async def test_search_without_the_index_is_a_store_error(tmp_path: Path) -> None:
    from store.db import migrate_sync

    path = tmp_path / "old.db"
    migrate_sync(path, 1)
    async with open_reader(path) as reader:
        with pytest.raises(StoreError, match="search index"):
            await search(reader, compile_query(parse_query("x", now=NOW)))


@pytest.mark.anyio
async def test_search_chooses_the_same_plan_sync_and_async(
    db_path: Path, conn: sqlite3.Connection
) -> None:
    rows = [make_session(n, name=f"auth-{n}", project="big") for n in range(200)]
    rows += [make_session(n, name=f"auth-s-{n}", project="small") for n in range(200, 203)]
    rows += [make_session(n, name=f"other-{n}", project="big") for n in range(300, 600)]
    insert_sessions(conn, rows)
    few = compile_query(parse_query("auth project:small", now=NOW), limit=None)
    many = compile_query(parse_query("auth project:big", now=NOW), limit=None)
    walk = compile_query(parse_query("auth", now=NOW), sort="recent", limit=5)
    async with open_reader(db_path) as reader:
        assert {h.id for h in await search(reader, few)} == {"s0200", "s0201", "s0202"}
        assert len(await search(reader, many)) == 200
        assert len(await search(reader, walk)) == 5
    for query in (few, many, walk):
        assert [h.id for h in search_sync(conn, query)] == [
            row[0] for row in conn.execute(query.sql, query.params)
        ]
    assert plan_sync(conn, few).name == "filter_ranked"
    assert plan_sync(conn, many).name == "newest_ranked"
    assert plan_sync(conn, walk).name == "fts_first"  # 203 matches: read at once, cheaper
