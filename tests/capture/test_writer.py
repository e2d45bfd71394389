"""The writer: lifecycle events into sessions and session_events, batched, atomic per batch."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import anyio
import pytest

from store.db import Database
from store.repositories import EnrichmentRow
from watcher.capture.enrich import EnrichRequest
from watcher.capture.events import Lifecycle, server_key, session_id
from watcher.capture.writer import AliveQuery, SessionWriter, WriterItem

pytestmark = pytest.mark.anyio

SERVER = server_key("/tmp/tmux-1000/test", 4242, 1795690000)


def ev(event_type: str, tmux_id: str = "$1", ts: str = "2026-11-26T10:00:00.000000Z", **kw: Any):
    fields: dict[str, Any] = {"name": "work", "status": "detached"} | kw
    return Lifecycle(
        server=fields.pop("server", SERVER),
        tmux_id=tmux_id,
        event_type=event_type,  # type: ignore[arg-type]
        timestamp=ts,
        **fields,
    )


def rows(db: Database, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db.path) as conn:
        return conn.execute(sql, params).fetchall()


async def feed(writer: SessionWriter, items: list[WriterItem]) -> None:
    """Queue every item before the writer starts, then run it until the stream is drained."""
    send, receive = anyio.create_memory_object_stream[WriterItem](len(items) + 1)
    async with send:
        for item in items:
            send.send_nowait(item)
    await writer.run(receive)


async def test_lifecycle_folds_into_the_session_row(db: Database) -> None:
    writer = SessionWriter(db)
    await feed(
        writer,
        [
            ev(
                "created",
                ts="2026-11-26T10:00:00.000000Z",
                created_at="2026-11-26T09:59:59.000000Z",
                directory="/srv/x",
            ),
            ev(
                "renamed",
                ts="2026-11-26T10:01:00.000000Z",
                name="work 2",
                data={"old_name": "work", "new_name": "work 2"},
            ),
            ev(
                "attached",
                ts="2026-11-26T10:02:00.000000Z",
                name="work 2",
                status="attached",
                data={"client": "/dev/pts/3"},
            ),
            ev(
                "detached",
                ts="2026-11-26T10:03:00.000000Z",
                name="work 2",
                data={"client": "/dev/pts/3"},
            ),
        ],
    )
    sid = session_id(SERVER, "$1")
    [row] = rows(
        db,
        "SELECT id, name, status, directory, created_at, last_access, ended_at, tmux_server, "
        "tmux_id FROM sessions",
    )
    assert row == (
        sid,
        "work 2",
        "detached",
        "/srv/x",
        "2026-11-26T09:59:59.000000Z",
        "2026-11-26T10:03:00.000000Z",
        None,
        SERVER,
        "$1",
    )
    events = rows(db, "SELECT event_type, data FROM session_events ORDER BY id")
    assert [e[0] for e in events] == ["created", "renamed", "attached", "detached"]
    assert events[1][1] == '{"old_name":"work","new_name":"work 2"}'
    stats = writer.statistics()
    assert stats.events_written == 4
    assert stats.batches == 1
    assert stats.last_event is not None and stats.last_event["event_type"] == "detached"
    assert stats.last_commit_at is not None


async def test_killed_and_vanished_end_the_session(db: Database) -> None:
    await feed(
        SessionWriter(db),
        [
            ev("created", "$1"),
            ev("created", "$2"),
            ev("killed", "$1", ts="2026-11-26T11:00:00.000000Z", status="ended"),
            # The tracker says ended; the writer trusts the event type too.
            ev("vanished", "$2", ts="2026-11-26T12:00:00.000000Z"),
        ],
    )
    assert rows(db, "SELECT tmux_id, status, ended_at FROM sessions ORDER BY tmux_id") == [
        ("$1", "ended", "2026-11-26T11:00:00.000000Z"),
        ("$2", "ended", "2026-11-26T12:00:00.000000Z"),
    ]


async def test_last_access_never_goes_back_and_directory_is_kept(db: Database) -> None:
    await feed(
        SessionWriter(db),
        [
            ev("created", ts="2026-11-26T10:00:05.000000Z", directory="/a"),
            ev("window_added", ts="2026-11-26T10:00:01.000000Z", data={"window_id": "@2"}),
        ],
    )
    assert rows(db, "SELECT last_access, directory FROM sessions") == [
        ("2026-11-26T10:00:05.000000Z", "/a")
    ]


async def test_batches_grow_with_the_backlog(db: Database) -> None:
    writer = SessionWriter(db, batch_size=10)
    await feed(writer, [ev("created", f"${i}") for i in range(35)])
    stats = writer.statistics()
    assert stats.events_written == 35
    assert stats.batches == 4
    assert stats.largest_batch == 10
    assert rows(db, "SELECT count(*) FROM sessions") == [(35,)]


async def test_a_quiet_stream_commits_each_event_at_once(db: Database) -> None:
    writer = SessionWriter(db)
    send, receive = anyio.create_memory_object_stream[WriterItem](10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run, receive)
        async with send:
            for i in range(3):
                await send.send(ev("created", f"${i}"))
                with anyio.fail_after(5):
                    while writer.statistics().events_written < i + 1:
                        await anyio.sleep(0.001)
                # Committed and visible to another connection before the next event is sent.
                assert rows(db, "SELECT count(*) FROM sessions") == [(i + 1,)]
    assert writer.statistics().batches == 3


async def test_a_flush_interval_gathers_events_that_arrive_later(db: Database) -> None:
    # A long interval and a small batch: the batch commits when full, not when the time is up.
    writer = SessionWriter(db, batch_size=3, flush_interval=60)
    send, receive = anyio.create_memory_object_stream[WriterItem](10)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            async with send:
                for i in range(3):
                    await send.send(ev("created", f"${i}"))
                    await anyio.sleep(0.01)  # each arrives after the writer took the first
                    if i < 2:
                        assert writer.statistics().events_written == 0
                while writer.statistics().events_written < 3:
                    await anyio.sleep(0.001)
    stats = writer.statistics()
    assert (stats.batches, stats.largest_batch) == (1, 3)


async def test_flush_interval_can_change_and_rejects_negatives(db: Database) -> None:
    writer = SessionWriter(db)
    assert writer.flush_interval == 0  # the config schema's default: commit at once
    writer.set_flush_interval(0.25)
    assert writer.flush_interval == 0.25
    with pytest.raises(ValueError, match="negative"):
        writer.set_flush_interval(-1)


async def _install_failing_trigger(db: Database) -> None:
    with closing(sqlite3.connect(db.path, isolation_level=None)) as conn:
        conn.execute(
            "CREATE TRIGGER fail_killed BEFORE INSERT ON session_events "
            "WHEN NEW.event_type = 'killed' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )


async def test_a_failing_batch_is_rolled_back_whole(db: Database) -> None:
    await _install_failing_trigger(db)
    writer = SessionWriter(db)
    with pytest.raises(sqlite3.IntegrityError):
        await writer.write_batch([ev("created", "$1"), ev("created", "$2"), ev("killed", "$1")])
    assert rows(db, "SELECT count(*) FROM sessions") == [(0,)]
    assert rows(db, "SELECT count(*) FROM session_events") == [(0,)]
    assert writer.statistics().events_written == 0
    # The writer connection is usable again afterwards.
    await writer.write_batch([ev("created", "$3")])
    assert rows(db, "SELECT tmux_id FROM sessions") == [("$3",)]


async def test_the_run_loop_keeps_the_good_events_of_a_bad_batch(db: Database) -> None:
    await _install_failing_trigger(db)
    writer = SessionWriter(db)
    await feed(writer, [ev("created", "$1"), ev("killed", "$1"), ev("created", "$2")])
    assert rows(db, "SELECT tmux_id, status FROM sessions ORDER BY tmux_id") == [
        ("$1", "detached"),
        ("$2", "detached"),
    ]
    stats = writer.statistics()
    assert stats.events_written == 2
    assert stats.events_failed == 1
    assert stats.last_error is not None and "boom" in stats.last_error


async def test_alive_query_sees_everything_sent_before_it(db: Database) -> None:
    other_lifetime = server_key("/tmp/tmux-1000/test", 99, 1)
    other_socket = server_key("/tmp/tmux-1000/test2", 4242, 1795690000)
    decoy = server_key("/tmp/tmux-1000/test#x", 1, 1)  # its key starts with "<socket>#" too
    query = AliveQuery("/tmp/tmux-1000/test")
    await feed(
        SessionWriter(db, batch_size=100),
        [
            ev("created", "$1"),
            ev("created", "$2"),
            ev("killed", "$2", status="ended"),
            ev("created", "$7", server=other_lifetime),
            ev("created", "$1", server=other_socket),
            ev("created", "$9", server=decoy),
            query,
            ev("created", "$3"),
        ],
    )
    found = await query.wait()
    assert sorted((s.tmux_server, s.tmux_id) for s in found) == [
        (SERVER, "$1"),
        (other_lifetime, "$7"),
    ]


async def test_enrichment_is_requested_after_commit_and_written_later(db: Database) -> None:
    requests: list[EnrichRequest] = []

    def enrich(request: EnrichRequest) -> None:
        # The session's row is already committed when enrichment is asked for.
        assert rows(db, "SELECT count(*) FROM sessions WHERE id = ?", request.session_id) == [(1,)]
        requests.append(request)

    writer = SessionWriter(db, enrich=enrich)
    sid = session_id(SERVER, "$1")
    await feed(
        writer,
        [
            ev("created", directory="/srv/repo"),
            ev("window_added", data={"window_id": "@1"}),
            ev("renamed", name="ccmgr-p-w-b"),
        ],
    )
    assert requests == [
        EnrichRequest(session_id=sid, name="work", directory="/srv/repo"),
        EnrichRequest(session_id=sid, name="ccmgr-p-w-b", directory="/srv/repo"),
    ]
    await feed(
        writer,
        [
            EnrichmentRow(id=sid, project="repo", worktree="wt", branch="main", source="git"),
            # A guess from the name arriving later does not replace what git said.
            EnrichmentRow(id=sid, project="p", worktree="w", branch="b", source="name"),
        ],
    )
    assert rows(db, "SELECT project, worktree, branch, metadata FROM sessions") == [
        ("repo", "wt", "main", '{"enriched_from":"git"}')
    ]
    assert writer.statistics().enrichments_written == 2


async def test_hostile_names_and_data_are_stored_exactly(db: Database) -> None:
    names = [
        "a b",
        'it\'s "quoted"',
        "$(rm -rf ~)",
        "naïve ☃ 日本",
        "x" * 200,
        "'; DROP TABLE x;--",
    ]
    await feed(
        SessionWriter(db),
        [ev("created", f"${i}", name=n, data={"n": n}) for i, n in enumerate(names)],
    )
    stored = rows(db, "SELECT name FROM sessions ORDER BY CAST(substr(tmux_id, 2) AS INTEGER)")
    assert [r[0] for r in stored] == names


async def test_enrichment_known_at_once_is_written_in_the_same_transaction(db: Database) -> None:
    later: list[EnrichRequest] = []
    asked: list[EnrichRequest] = []

    def enrich_now(request: EnrichRequest) -> tuple[bool, EnrichmentRow | None]:
        asked.append(request)
        if request.directory == "/srv/slow":
            return False, None  # git must be asked: after the commit, as before
        if request.directory == "/srv/plain":
            return True, None  # known: nothing to store
        return True, EnrichmentRow(
            id=request.session_id,
            project="repo",
            worktree="wt",
            branch="main",
            source="git",
        )

    writer = SessionWriter(db, enrich=later.append, enrich_now=enrich_now)
    await feed(
        writer,
        [
            ev("created", "$1", directory="/srv/repo"),
            ev("window_added", "$1", data={"window_id": "@1"}),
            ev("created", "$2", directory="/srv/slow"),
            ev("created", "$3", directory="/srv/plain"),
        ],
    )
    stats = writer.statistics()
    assert stats.batches == 1
    assert stats.enrichments_written == 1
    assert rows(
        db, "SELECT tmux_id, project, worktree, branch, metadata FROM sessions ORDER BY tmux_id"
    ) == [
        ("$1", "repo", "wt", "main", '{"enriched_from":"git"}'),
        ("$2", None, None, None, "{}"),
        ("$3", None, None, None, "{}"),
    ]
    assert [r.directory for r in asked] == ["/srv/repo", "/srv/slow", "/srv/plain"]
    assert later == [
        EnrichRequest(session_id=session_id(SERVER, "$2"), name="work", directory="/srv/slow")
    ]


async def test_a_rename_in_the_same_batch_is_enriched_with_the_known_directory(
    db: Database,
) -> None:
    asked: list[EnrichRequest] = []

    def enrich_now(request: EnrichRequest) -> tuple[bool, EnrichmentRow | None]:
        asked.append(request)
        return False, None

    writer = SessionWriter(db, enrich_now=enrich_now)
    await feed(
        writer,
        [
            ev("created", "$1", directory="/srv/a"),
            ev("renamed", "$1", name="b", data={"old_name": "work", "new_name": "b"}),
            ev("killed", "$1", status="ended"),
            ev("renamed", "$1", name="c", data={"old_name": "b", "new_name": "c"}),
        ],
    )
    sid = session_id(SERVER, "$1")
    assert asked == [
        EnrichRequest(session_id=sid, name="work", directory="/srv/a"),
        EnrichRequest(session_id=sid, name="b", directory="/srv/a"),
        # After its end the session's directory is forgotten, as after a committed end.
        EnrichRequest(session_id=sid, name="c", directory=None),
    ]


async def test_the_search_index_follows_renames_and_directories(db: Database) -> None:
    writer = SessionWriter(db)
    await feed(writer, [ev("created", "$1", name="alpha", directory="/srv/one")])
    await feed(
        writer,
        [
            ev("window_added", "$1", name="alpha", data={"window_id": "@1"}),
            ev("renamed", "$1", name="beta", data={"old_name": "alpha", "new_name": "beta"}),
            ev("attached", "$1", name="beta", directory="/srv/two", status="attached"),
        ],
    )
    await feed(writer, [ev("killed", "$1", name="beta", status="ended")])

    def found(term: str) -> list[tuple[Any, ...]]:
        return rows(
            db,
            "SELECT s.name, s.directory FROM sessions_fts JOIN sessions s "
            "ON s.rowid = sessions_fts.rowid WHERE sessions_fts MATCH ?",
            term,
        )

    assert found("beta") == [("beta", "/srv/two")]
    assert found("two") == [("beta", "/srv/two")]
    assert found("alpha") == []
    assert found("one") == []
    assert rows(db, "SELECT name, directory, status FROM sessions") == [
        ("beta", "/srv/two", "ended")
    ]


# --- database faults: the file deleted or replaced, a full disk (issue 9 §3) ---------------------


async def _wait(predicate: Any, timeout: float = 15) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


def _count(path: Any, sql: str = "SELECT count(*) FROM sessions") -> int:
    try:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return -1


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_deleted_or_replaced_database_file_is_reopened(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from watcher.capture import writer as writer_module

    monkeypatch.setattr(writer_module, "CHECK_INTERVAL", 0.1)
    path = tmp_path / "data.db"
    db = await Database.open(path)
    resyncs: list[int] = []
    writer = SessionWriter(db, on_resync=lambda: resyncs.append(1))
    send, receive = anyio.create_memory_object_stream[WriterItem](100)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run, receive)
            async with send:
                await send.send(ev("created", "$1"))
                await _wait(lambda: _count(path) == 1)
                if how == "replaced":
                    # A backup restored over it: another database, already migrated.
                    other = tmp_path / "restored.db"
                    async with await Database.open(other):
                        pass
                    other.rename(path)
                for suffix in ("" if how == "deleted" else "-none", "-wal", "-shm"):
                    path.with_name(path.name + suffix).unlink(missing_ok=True)
                # Noticed while idle, reopened, and a reconciliation asked for.
                await _wait(lambda: resyncs == [1] and _count(path) == 0)
                await send.send(ev("created", "$2"))
                await _wait(lambda: _count(path) == 1)
    finally:
        await db.close()
    assert rows(db, "SELECT tmux_id FROM sessions") == [("$2",)]
    stats = writer.statistics()
    assert stats.reopened == 1 and stats.failing is None
    assert stats.last_error is not None and how in stats.last_error
    assert stats.last_error_at is not None


async def test_a_full_disk_holds_the_events_and_writes_them_when_space_returns(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fsfaults import fill, small_tmpfs
    from watcher.capture import writer as writer_module

    # A real full file system (a small tmpfs), not a simulated error; a small hold limit so
    # the overflow path runs too.
    monkeypatch.setattr(writer_module, "HOLD_LIMIT", 150)
    with small_tmpfs(tmp_path / "fs", "2m") as fs:
        path = fs / "data.db"
        db = await Database.open(path)
        resyncs: list[int] = []
        changes: list[str | None] = []
        writer: SessionWriter

        def changed() -> None:
            changes.append(writer.statistics().failing)

        writer = SessionWriter(db, on_change=changed, on_resync=lambda: resyncs.append(1))
        send, receive = anyio.create_memory_object_stream[WriterItem](1000)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer.run, receive)
                async with send:
                    await send.send(ev("created", "$0"))
                    await _wait(lambda: _count(path) == 1)
                    filler = fill(fs)
                    for i in range(1, 201):
                        await send.send(ev("created", f"${i}", name="x" * 500))
                    await _wait(lambda: writer.statistics().events_dropped == 50)
                    stats = writer.statistics()
                    # The current problem, right away (not only after the next commit).
                    assert stats.failing is not None and "disk full" in stats.failing
                    assert stats.failing_since is not None and changes and changes[0]
                    assert stats.events_waiting == 150 and stats.events_written == 1
                    assert resyncs == []
                    filler.unlink()
                    await _wait(lambda: writer.statistics().events_written == 151)
        finally:
            await db.close()
        assert _count(path) == 151
    stats = writer.statistics()
    assert stats.failing is None and stats.failing_since is None and stats.events_waiting == 0
    assert stats.last_error is not None and "full" in stats.last_error  # kept as history
    # What did not fit is recovered by reconciling tmux, asked for once writes succeed.
    assert resyncs == [1]
