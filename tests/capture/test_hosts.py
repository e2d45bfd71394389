"""Hosts (sql/004): every session and event records the host it was captured on, session
identity stays unique across hosts, and server lifetimes recorded before hosts keep their ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from store.db import Database, migrate_sync
from store.migrations import load_migrations
from watcher.capture.events import CaptureItem, KnownSession, Lifecycle, server_key, session_id
from watcher.capture.server_task import _ServerWatcher
from watcher.capture.tracker import Snapshot
from watcher.capture.writer import AliveQuery, SessionWriter, WriterItem
from watcher.config.rules import valid_host
from watcher.service_config import ServiceConfig, local_host

pytestmark = pytest.mark.anyio

SOCKET = "/tmp/tmux-1000/default"
TS = "2026-11-26T10:00:00.000000Z"


def ev(server: str, tmux_id: str = "$0", event_type: str = "created", **kw: Any) -> Lifecycle:
    fields: dict[str, Any] = {"name": "work", "status": "detached"} | kw
    return Lifecycle(
        server=server,
        tmux_id=tmux_id,
        event_type=event_type,  # type: ignore[arg-type]
        timestamp=TS,
        **fields,
    )


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def feed(writer: SessionWriter, items: list[WriterItem]) -> None:
    send, receive = anyio.create_memory_object_stream[WriterItem](len(items) + 1)
    async with send:
        for item in items:
            send.send_nowait(item)
    await writer.run(receive)


def test_two_hosts_with_the_same_socket_pid_and_start_are_two_servers() -> None:
    laptop = server_key(SOCKET, 100, 1795690000, "laptop")
    desk = server_key(SOCKET, 100, 1795690000, "desk")
    assert laptop == f"{SOCKET}#100@1795690000@laptop"
    assert session_id(laptop, "$0") != session_id(desk, "$0")
    # Without a host the key (and so every id derived from it) is what it was before sql/004.
    assert server_key(SOCKET, 100, 1795690000) == f"{SOCKET}#100@1795690000"


async def test_sessions_and_events_record_the_writers_host(db: Database) -> None:
    await feed(SessionWriter(db, host="laptop"), [ev(server_key(SOCKET, 1, 2, "laptop"))])
    await feed(SessionWriter(db, host="desk"), [ev(server_key(SOCKET, 1, 2, "desk"))])
    assert sorted(rows(db.path, "SELECT host, tmux_id FROM sessions")) == [
        ("desk", "$0"),
        ("laptop", "$0"),
    ]
    assert sorted(rows(db.path, "SELECT host, event_type FROM session_events")) == [
        ("desk", "created"),
        ("laptop", "created"),
    ]


async def test_a_session_recorded_before_hosts_gets_the_host_and_keeps_its_id(
    db: Database,
) -> None:
    legacy = server_key(SOCKET, 1, 2)
    await feed(SessionWriter(db), [ev(legacy)])
    assert rows(db.path, "SELECT id, host FROM sessions") == [(session_id(legacy, "$0"), None)]
    await feed(SessionWriter(db, host="laptop"), [ev(legacy, event_type="attached")])
    assert rows(db.path, "SELECT id, host FROM sessions") == [(session_id(legacy, "$0"), "laptop")]


async def test_reconciliation_reads_only_its_own_hosts_sessions(db: Database) -> None:
    laptop, desk = server_key(SOCKET, 1, 2, "laptop"), server_key(SOCKET, 1, 2, "desk")
    legacy = server_key(SOCKET, 5, 6)
    await feed(SessionWriter(db), [ev(legacy, "$3")])  # before hosts: host NULL
    await feed(SessionWriter(db, host="desk"), [ev(desk, "$0")])
    query = AliveQuery(SOCKET)
    await feed(SessionWriter(db, host="laptop"), [ev(laptop, "$1"), query])
    found = sorted((s.tmux_server, s.tmux_id) for s in await query.wait())
    # The desk's $0 on a socket of the same path is another machine's server: never ended here.
    assert found == sorted([(laptop, "$1"), (legacy, "$3")])


def _watcher(host: str | None) -> _ServerWatcher:
    async def known(_: str) -> list[KnownSession]:
        return []

    send, _receive = anyio.create_memory_object_stream[CaptureItem](1)
    watcher = _ServerWatcher(SOCKET, send, known, None, "tmux")
    watcher.host = host
    return watcher


def known(server: str) -> KnownSession:
    return KnownSession(server=server, tmux_id="$0", name="work", status="detached")


@pytest.mark.parametrize(
    ("recorded", "kept"),
    [
        # A lifetime the store knows by its key without host keeps it: its ids do not change.
        ([server_key(SOCKET, 1, 2)], server_key(SOCKET, 1, 2)),
        # Anything else (nothing recorded, another lifetime, the new key) gets the host's key.
        ([], server_key(SOCKET, 1, 2, "laptop")),
        ([server_key(SOCKET, 9, 9)], server_key(SOCKET, 1, 2, "laptop")),
        ([server_key(SOCKET, 1, 2, "laptop")], server_key(SOCKET, 1, 2, "laptop")),
    ],
)
async def test_a_lifetime_recorded_before_hosts_keeps_its_key(
    recorded: list[str], kept: str
) -> None:
    snapshot = Snapshot(server=server_key(SOCKET, 1, 2, "laptop"), own_client="c")
    chosen = _watcher("laptop")._keep_recorded_key(snapshot, [known(k) for k in recorded])
    assert chosen.server == kept


async def test_without_a_host_the_key_is_left_alone() -> None:
    snapshot = Snapshot(server=server_key(SOCKET, 1, 2), own_client="c")
    assert _watcher(None)._keep_recorded_key(snapshot, [known(snapshot.server)]) is snapshot


def test_the_hosts_migration_goes_up_and_down_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    hosts = next(m.version for m in load_migrations() if m.name == "hosts")
    migrate_sync(path, hosts - 1)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            f"VALUES ('s-1', 'old', '{TS}', '{TS}', '{TS}')"
        )
    migrate_sync(path, hosts)
    assert rows(path, "SELECT id, host FROM sessions") == [("s-1", None)]
    migrate_sync(path, hosts - 1)
    columns = [r[1] for r in rows(path, "PRAGMA table_info(sessions)")]
    assert "host" not in columns and rows(path, "SELECT id FROM sessions") == [("s-1",)]


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("laptop", True),
        ("box-1.example.org", True),
        ("my_host", True),
        ("", False),
        ("a@b", False),
        ("a#b", False),
        ("a b", False),
        ("a/b", False),
        ("x" * 254, False),
        ("héllo", False),
    ],
)
def test_valid_host(host: str, ok: bool) -> None:
    assert valid_host(host) is ok


def test_the_default_host_is_the_machines_hostname_made_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "my box@home")
    assert local_host() == "my-box-home"
    from watcher.config.schema import WatcherConfig

    assert ServiceConfig.from_section(WatcherConfig()).host == "my-box-home"
    assert ServiceConfig.from_section(WatcherConfig(host="desk")).host == "desk"
