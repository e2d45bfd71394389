"""The store's API on a real database file: the capture writer's batch, and the reads."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from store.db import Database, migrate_sync, reindex, schema_status
from store.errors import CcmgrError, StoreError
from store.reads import (
    EventRecord,
    find_session,
    list_events,
    list_sessions,
    open_reader,
    resolve_sessions,
)
from store.repositories import EnrichmentRow, LifecycleRow

pytestmark = pytest.mark.anyio
SERVER = "/tmp/sock#1@2"


def ts(day: int, hour: int = 0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00.000000Z"


def life(sid: str, name: str, day: int, status: str = "detached", **kw: str) -> LifecycleRow:
    return LifecycleRow(
        id=sid, name=name, timestamp=ts(day, 12), status=status, server=SERVER, tmux_id="$" + sid,
        **kw,
    )  # fmt: skip


def event(sid: str, kind: str, day: int) -> EventRecord:
    return EventRecord(session_id=sid, event_type=kind, timestamp=ts(day), data={"d": day})


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "data.db")
    try:
        yield database
    finally:
        await database.close()


def reader(db: Database) -> sqlite3.Connection:
    return open_reader(str(db.path))


async def seed(db: Database) -> None:
    await db.write_batch(
        [life("s-aaaa1", "alpha", 1), life("s-bbbb2", "beta", 2, status="attached")],
        [event("s-aaaa1", "created", 1), event("s-bbbb2", "created", 2)],
        [EnrichmentRow(id="s-aaaa1", project="myapp", worktree=None, branch="main", source="git")],
    )
    await db.write_batch([life("s-cccc3", "alpha", 3, status="ended", ended_at=ts(3))], [], [])


async def test_a_batch_is_committed_whole_and_read_back(db: Database) -> None:
    await seed(db)
    with closing(reader(db)) as conn:
        assert [s.id for s in list_sessions(conn)] == ["s-cccc3", "s-bbbb2", "s-aaaa1"]
        assert [s.id for s in list_sessions(conn, project="myapp")] == ["s-aaaa1"]
        assert [s.id for s in list_sessions(conn, statuses=("ended",))] == ["s-cccc3"]
        assert [s.id for s in list_sessions(conn, limit=1)] == ["s-cccc3"]
        a = find_session(conn, "s-aaaa1")
        assert (a.project, a.branch, a.metadata) == ("myapp", "main", {"enriched_from": "git"})
        assert find_session(conn, "alpha").id == "s-cccc3"  # the most recently used of a name
        assert resolve_sessions(conn, "alpha") == ("s-aaaa1", "s-cccc3")
        assert find_session(conn, "bbbb").id == "s-bbbb2"  # a prefix, without its s-
        with pytest.raises(CcmgrError, match="no session"):
            find_session(conn, "s-")  # too short to be a prefix
        with pytest.raises(CcmgrError, match="no session"):
            find_session(conn, "nope")
        events = list_events(conn, event_types=("created",))
        assert [(e.session_id, e.session_name) for e in events] == [
            ("s-bbbb2", "beta"),
            ("s-aaaa1", "alpha"),
        ]
        assert [e.session_id for e in list_events(conn, since=ts(2))] == ["s-bbbb2"]
        assert [e.session_id for e in list_events(conn, session_ids=("s-aaaa1",))] == ["s-aaaa1"]


async def test_a_batch_with_one_bad_row_writes_none_and_the_writer_goes_on(db: Database) -> None:
    await seed(db)
    with pytest.raises(sqlite3.IntegrityError):
        bad = [event("s-dddd4", "created", 4), event("ghost", "x", 4)]
        await db.write_batch([life("s-dddd4", "delta", 4)], bad, [])
    with closing(reader(db)) as conn:
        assert [s.id for s in list_sessions(conn)] == ["s-cccc3", "s-bbbb2", "s-aaaa1"]
        assert len(list_events(conn)) == 2
    await db.write_batch([life("s-dddd4", "delta", 4)], [event("s-dddd4", "created", 4)], [])
    with closing(reader(db)) as conn:
        assert len(list_sessions(conn)) == 4


async def test_alive_on_socket_reads_what_the_writer_committed(db: Database) -> None:
    await seed(db)
    alive = await db.alive_on_socket("/tmp/sock")
    assert [s.id for s in alive] == ["s-aaaa1", "s-bbbb2"]  # the ended one is not alive
    assert await db.alive_on_socket("/tmp/other") == []


async def test_calls_on_the_writer_do_not_nest(db: Database) -> None:
    import anyio

    async with anyio.create_task_group() as tg:
        tg.start_soon(db.write_batch, [life("s-eeee5", "e", 5)], [], [])
        await anyio.sleep(0)
        with pytest.raises(RuntimeError, match="nest"):
            await db.alive_on_socket("/tmp/sock")


async def test_readers_read_only_with_the_pragmas(db: Database) -> None:
    await seed(db)
    with closing(reader(db)) as conn:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM sessions")


def test_a_reader_of_a_missing_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database"):
        open_reader(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()


def test_schema_status_and_reindex_are_named_store_functions(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    assert schema_status(path).current == 0 and not path.exists()
    migrate_sync(path)
    state = schema_status(path)
    assert state.ok and state.current == state.latest
    assert reindex(path) == 0


def test_store_imports_nothing_from_watcher() -> None:
    import ast

    root = Path(__file__).resolve().parents[2] / "store"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] == "watcher"], path


def test_the_capture_writers_database_has_one_write() -> None:
    """Only the writer writes, by construction: its Database offers the batch, one read, and
    the name-order snapshot's maintenance (folds, or a rebuild, between batches, on the same
    connection)."""
    public = {name for name in vars(Database) if not name.startswith("_")}
    assert public == {
        *("open", "file_changed", "reopen", "close", "write_batch", "alive_on_socket"),
        *("fold_name_order", "rebuild_name_order"),
    }


def test_every_sql_statement_lives_in_the_store() -> None:
    # The store owns the SQL: watcher/ (capture, CLI, backups) calls store functions and never
    # opens SQLite or runs a statement itself, so a second store is one new module.
    import re

    root = Path(__file__).resolve().parents[2] / "watcher"
    pattern = re.compile(r"sqlite3\.connect\(|\.execute(many|script)?\(")
    offenders = [
        f"{path.relative_to(root.parent)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_a_reader_maps_the_file_and_follows_it_as_another_connection_shrinks_and_grows_it(
    tmp_path: Path,
) -> None:
    # The reader reads through a memory map (store.reads.MMAP_BYTES); a writer that empties
    # the table, vacuums the file to a fraction of its size and checkpoints it, then fills it
    # again, must leave the reader seeing each state exactly (no stale page, no SIGBUS).
    path = tmp_path / "data.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE pad (n INTEGER PRIMARY KEY, body TEXT)")
    fill = (
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO pad (body) SELECT hex(randomblob(200)) FROM n"
    )
    count = "SELECT count(*), sum(length(body)) FROM pad"
    with closing(writer), closing(open_reader(str(path))) as conn:
        assert conn.execute("PRAGMA mmap_size").fetchone()[0] > 0
        writer.execute(fill, (20_000,))
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        big = path.stat().st_size
        assert conn.execute(count).fetchone() == (20_000, 8_000_000)
        writer.execute("DELETE FROM pad")
        writer.execute("VACUUM")
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert path.stat().st_size < big // 4
        assert conn.execute(count).fetchone() == (0, None)
        writer.execute(fill, (5_000,))
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute(count).fetchone() == (5_000, 2_000_000)
