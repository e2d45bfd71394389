"""Repositories and transactions on a real database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store.db import Database
from store.models import EventFilter, Session, SessionEvent, SessionFilter
from store.repositories import EventRepository, SessionRepository

pytestmark = pytest.mark.anyio


def ts(day: int, hour: int = 0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000000Z"


def make_session(sid: str, name: str, day: int, **fields: object) -> Session:
    values: dict[str, object] = {
        "id": sid,
        "name": name,
        "created_at": ts(day),
        "updated_at": ts(day),
        "last_access": ts(day, 12),
    }
    values.update(fields)
    return Session(**values)  # type: ignore[arg-type]


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "data.db")
    try:
        yield database
    finally:
        await database.close()


async def seed(db: Database) -> None:
    async with db.transaction() as conn:
        repo = SessionRepository(conn)
        await repo.create(make_session("a", "alpha", 1, project="myapp", branch="main"))
        await repo.create(
            make_session("b", "beta", 2, project="myapp", branch="feat", status="attached")
        )
        await repo.create(
            make_session("c", "Gamma", 3, project="other", worktree="wt", status="ended")
        )
        await repo.create(make_session("d", "alpha", 4, project=None))  # a reused name


async def test_create_get_and_get_by_name(db: Database) -> None:
    await seed(db)
    repo = SessionRepository(db.writer)
    got = await repo.get("b")
    assert got is not None and got.name == "beta" and got.status == "attached"
    assert await repo.get("nope") is None
    latest_alpha = await repo.get_by_name("alpha")
    assert latest_alpha is not None and latest_alpha.id == "d"  # most recently used wins
    assert await repo.get_by_name("missing") is None


async def test_duplicate_id_is_an_integrity_error(db: Database) -> None:
    await seed(db)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await SessionRepository(conn).create(make_session("a", "again", 5))


async def test_update_changes_fields_and_sets_updated_at(db: Database) -> None:
    await seed(db)
    async with db.transaction() as conn:
        repo = SessionRepository(conn)
        updated = await repo.update("a", name="renamed", metadata={"k": [1, 2]}, status="ended")
    assert updated is not None
    assert (updated.name, updated.status, updated.metadata) == ("renamed", "ended", {"k": [1, 2]})
    assert updated.updated_at > ts(1)
    assert await SessionRepository(db.writer).update("nope", name="x") is None
    with pytest.raises(ValueError, match="id"):
        await SessionRepository(db.writer).update("a", id="hijack")


async def test_upsert_keeps_created_at(db: Database) -> None:
    await seed(db)
    async with db.transaction() as conn:
        repo = SessionRepository(conn)
        await repo.upsert(make_session("a", "alpha2", 9, status="ended"))
        await repo.upsert(make_session("z", "zeta", 9))
    a = await SessionRepository(db.writer).get("a")
    assert a is not None and a.name == "alpha2" and a.created_at == ts(1)
    assert await SessionRepository(db.writer).get("z") is not None


async def test_delete_cascades_to_events(db: Database) -> None:
    await seed(db)
    async with db.transaction() as conn:
        await EventRepository(conn).insert(
            SessionEvent(session_id="a", event_type="created", timestamp=ts(1))
        )
        assert await SessionRepository(conn).delete("a") is True
        assert await SessionRepository(conn).delete("a") is False
    assert await EventRepository(db.writer).list_for_session("a") == []


@pytest.mark.parametrize(
    "flt, expected",
    [
        (SessionFilter(), ["d", "c", "b", "a"]),
        (SessionFilter(project="myapp"), ["b", "a"]),
        (SessionFilter(branch="feat"), ["b"]),
        (SessionFilter(worktree="wt"), ["c"]),
        (SessionFilter(status="ended"), ["c"]),
        (SessionFilter(since=ts(2, 12)), ["d", "c", "b"]),
        (SessionFilter(until=ts(2, 12)), ["b", "a"]),
        (SessionFilter(since=ts(2), until=ts(3, 23)), ["c", "b"]),
        (SessionFilter(limit=2), ["d", "c"]),
        (SessionFilter(limit=2, offset=1), ["c", "b"]),
        (SessionFilter(offset=3), ["a"]),
        (SessionFilter(sort="name", descending=False), ["a", "d", "b", "c"]),
        (SessionFilter(sort="created", descending=False), ["a", "b", "c", "d"]),
        (SessionFilter(sort="updated"), ["d", "c", "b", "a"]),
        (SessionFilter(project="nope"), []),
    ],
)
async def test_list_filters_sorts_and_pages(
    db: Database, flt: SessionFilter, expected: list[str]
) -> None:
    await seed(db)
    repo = SessionRepository(db.writer)
    assert [s.id for s in await repo.list(flt)] == expected
    unpaged = SessionFilter(
        **{**{f: getattr(flt, f) for f in flt.__struct_fields__}, "limit": None, "offset": 0}
    )
    assert await repo.count(flt) == len(await repo.list(unpaged))


async def test_filter_values_are_parameters_not_sql(db: Database) -> None:
    await seed(db)
    repo = SessionRepository(db.writer)
    assert await repo.list(SessionFilter(project="x' OR '1'='1")) == []
    assert len(await repo.list()) == 4


async def test_events_single_batch_and_filters(db: Database) -> None:
    await seed(db)
    async with db.transaction() as conn:
        events = EventRepository(conn)
        one = await events.insert(
            SessionEvent(session_id="a", event_type="created", timestamp=ts(1), data={"x": 1})
        )
        assert one.id is not None
        count = await events.insert_batch(
            SessionEvent(
                session_id="ab"[i % 2],
                event_type=("attached", "detached", "renamed")[i % 3],
                timestamp=ts(2, i),
                data={"i": i, "name": "ünïcode 'quotes'"},
            )
            for i in range(12)
        )
        assert count == 12
        assert await events.insert_batch([]) == 0
    events = EventRepository(db.writer)
    a_events = await events.list_for_session("a")
    assert next(e.event_type for e in a_events) == "created"
    assert a_events == sorted(a_events, key=lambda e: (e.timestamp, e.id or 0))
    assert a_events[1].data == {"i": 0, "name": "ünïcode 'quotes'"}
    newest = await events.list(EventFilter(limit=3))
    assert [e.data["i"] for e in newest] == [11, 10, 9]
    attached = await events.list(EventFilter(event_types=["attached"]))
    assert {e.event_type for e in attached} == {"attached"} and len(attached) == 4
    ranged = await events.list(EventFilter(since=ts(2, 3), until=ts(2, 5), session_id="b"))
    assert [e.data["i"] for e in ranged] == [5, 3]
    paged = await events.list(EventFilter(limit=2, offset=2))
    assert [e.data["i"] for e in paged] == [9, 8]


async def test_event_for_unknown_session_is_refused(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await EventRepository(conn).insert(
                SessionEvent(session_id="ghost", event_type="created", timestamp=ts(1))
            )


async def test_transaction_rolls_back_every_write_on_error(db: Database) -> None:
    await seed(db)
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction() as conn:
            await SessionRepository(conn).create(make_session("new", "new", 5))
            await EventRepository(conn).insert_batch(
                [SessionEvent(session_id="new", event_type="created", timestamp=ts(5))]
            )
            await SessionRepository(conn).update("a", name="changed")
            raise RuntimeError("boom")
    repo = SessionRepository(db.writer)
    assert await repo.get("new") is None
    a = await repo.get("a")
    assert a is not None and a.name == "alpha"
    assert await EventRepository(db.writer).list_for_session("new") == []
    # the writer is usable again afterwards
    async with db.transaction() as conn:
        await SessionRepository(conn).create(make_session("after", "after", 6))


async def test_batch_with_one_bad_row_writes_none(db: Database) -> None:
    await seed(db)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await EventRepository(conn).insert_batch(
                [
                    SessionEvent(session_id="a", event_type="created", timestamp=ts(1)),
                    SessionEvent(session_id="ghost", event_type="created", timestamp=ts(1)),
                ]
            )
    assert await EventRepository(db.writer).list_for_session("a") == []


async def test_readers_see_committed_writes_only(db: Database) -> None:
    await seed(db)
    async with db.reader() as reader:
        assert len(await SessionRepository(reader).list()) == 4
        async with db.transaction() as conn:
            await SessionRepository(conn).create(make_session("e", "eps", 5))
            assert len(await SessionRepository(reader).list()) == 4  # not yet committed
        assert len(await SessionRepository(reader).list()) == 5
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.execute("DELETE FROM sessions")


async def test_nested_transactions_are_refused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="nest"):
        async with db.transaction(), db.transaction():
            pass


async def test_pragmas_on_every_connection(db: Database) -> None:
    async with db.reader() as reader:
        for conn in (db.writer, reader):
            async with conn.execute("PRAGMA foreign_keys") as cur:
                assert (await cur.fetchone()) == (1,)
            async with conn.execute("PRAGMA busy_timeout") as cur:
                row = await cur.fetchone()
                assert row is not None and row[0] > 0
            async with conn.execute("PRAGMA journal_mode") as cur:
                assert (await cur.fetchone()) == ("wal",)


async def test_reader_of_a_missing_database_is_a_store_error(tmp_path: Path) -> None:
    from store.db import open_reader
    from store.errors import StoreError

    with pytest.raises(StoreError, match="no database"):
        async with open_reader(tmp_path / "missing.db"):
            pass
    assert not (tmp_path / "missing.db").exists()


async def test_transact_commits_work_in_one_transaction(db: Database) -> None:
    def work(conn: sqlite3.Connection) -> int:
        assert conn.in_transaction
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            "VALUES ('t1', 'one', ?, ?, ?)",
            (ts(1), ts(1), ts(1)),
        )
        return 7

    assert await db.transact(work) == 7
    assert (await SessionRepository(db.writer).get("t1")) is not None
    async with db.writer.execute("SELECT 1") as cur:  # not left inside a transaction
        await cur.fetchone()
    assert not db.writer.in_transaction


async def test_transact_rolls_back_everything_when_work_fails(db: Database) -> None:
    def work(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            "VALUES ('t2', 'two', ?, ?, ?)",
            (ts(1), ts(1), ts(1)),
        )
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await db.transact(work)
    assert (await SessionRepository(db.writer).get("t2")) is None
    assert not db.writer.in_transaction
    # The writer is usable again, also through transaction().
    async with db.transaction() as conn:
        await SessionRepository(conn).create(make_session("t3", "three", 1))
    assert (await SessionRepository(db.writer).get("t3")) is not None


async def test_transact_does_not_nest_with_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError, match="nest"):
        async with db.transaction():
            await db.transact(lambda conn: None)
