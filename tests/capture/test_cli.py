"""`session show|list` and `status`, called in-process, over a database the writer filled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from store.db import Database
from store.reads import EventRecord, SessionRecord
from store.repositories import EnrichmentRow
from watcher.capture.events import Lifecycle, server_key, session_id
from watcher.capture.writer import SessionWriter, WriterItem
from watcher.cli.main import run
from watcher.service import Service
from watcher.service_config import ServiceConfig
from watcher.session_stats import session_statistics

SERVER = server_key("/tmp/tmux-1000/default", 7, 1)


def ev(event_type: str, tmux_id: str, minute: int, **kw: Any) -> Lifecycle:
    fields: dict[str, Any] = {"name": "work", "status": "detached"} | kw
    return Lifecycle(
        server=SERVER,
        tmux_id=tmux_id,
        event_type=event_type,  # type: ignore[arg-type]
        timestamp=f"2026-11-26T10:{minute:02d}:00.000000Z",
        **fields,
    )


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    path = tmp_path / "data.db"
    items: list[WriterItem] = [
        ev("created", "$1", 0, created_at="2026-11-26T10:00:00.000000Z", directory="/srv/a"),
        ev("window_added", "$1", 1, data={"window_id": "@2"}),
        ev("attached", "$1", 2, status="attached", data={"client": "/dev/pts/1"}),
        ev("detached", "$1", 12, data={"client": "/dev/pts/1"}),
        ev(
            "renamed",
            "$1",
            13,
            name="it's $(x)",
            data={"old_name": "work", "new_name": "it's $(x)"},
        ),
        ev("killed", "$1", 20, name="it's $(x)", status="ended"),
        ev("created", "$2", 30, name="other"),
        EnrichmentRow(
            id=session_id(SERVER, "$2"),
            project="proj",
            worktree="wt",
            branch="main",
            source="git",
        ),
    ]

    async def fill() -> None:
        async with await Database.open(path) as db:
            send, receive = anyio.create_memory_object_stream[WriterItem](100)
            async with send:
                for item in items:
                    send.send_nowait(item)
            await SessionWriter(db).run(receive)

    anyio.run(fill)
    return path


def test_session_show_json(filled: Path, capsys) -> None:
    assert run(["session", "show", "it's $(x)", "--db", str(filled), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["session"]["name"] == "it's $(x)"
    assert out["session"]["status"] == "ended"
    assert [e["event_type"] for e in out["events"]] == [
        "created",
        "window_added",
        "attached",
        "detached",
        "renamed",
        "killed",
    ]
    stats = out["statistics"]
    assert stats["times_attached"] == 1
    assert stats["attached_seconds"] == 600
    assert stats["lifetime_seconds"] == 1200
    assert stats["windows_opened"] == 1


def test_session_show_by_id_prefix_and_text(filled: Path, capsys) -> None:
    sid = session_id(SERVER, "$2")
    assert run(["session", "show", sid[:8], "--db", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "other" in out and "proj" in out and sid in out


def test_session_show_unknown(filled: Path, capsys) -> None:
    assert run(["session", "show", "nope", "--db", str(filled)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: no session") and "Hint:" in err and "Traceback" not in err


def test_session_list_filters(filled: Path, capsys) -> None:
    assert run(["session", "list", "--db", str(filled), "--json"]) == 0
    names = [s["name"] for s in json.loads(capsys.readouterr().out)]
    assert names == ["other", "it's $(x)"]
    assert run(["session", "list", "--db", str(filled), "--json", "--status", "ended"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["it's $(x)"]
    assert run(["session", "list", "--db", str(filled), "--json", "--project", "proj"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["other"]
    args = ["session", "list", "--db", str(filled), "--json", "--status", "alive", "--limit", "1"]
    assert run(args) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)] == ["other"]
    assert run(["session", "list", "--db", str(filled)]) == 0
    assert "NAME" in capsys.readouterr().out
    assert run(["session", "list", "--db", str(filled), "--json", "--limit", "0"]) == 0  # all
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert run(["session", "list", "--db", str(filled), "--limit", "-1"]) == 2


def test_session_list_without_database(tmp_path: Path, capsys) -> None:
    assert run(["session", "list", "--db", str(tmp_path / "none.db")]) == 5
    assert "Error: no database" in capsys.readouterr().err


def test_status_when_nothing_runs(tmp_path: Path, capsys) -> None:
    assert run(["status", "--db", str(tmp_path / "data.db")]) == 1
    assert "not running" in capsys.readouterr().out
    assert run(["status", "--db", str(tmp_path / "data.db"), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["running"] is False


def test_status_of_a_folder_says_it_is_a_folder(tmp_path: Path, capsys) -> None:
    assert run(["status", "--db", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert f"Error: {tmp_path} is a folder, not a database file" in captured.err
    assert "Hint:" in captured.err and "not running" not in captured.out


def test_status_does_not_import_the_service(tmp_path: Path) -> None:
    """`status` reads a JSON file: it must not pay for the service, anyio and aiosqlite."""
    import subprocess
    import sys

    code = (
        "import sys; from watcher.cli.main import run; "
        f"run(['status', '--db', {str(tmp_path / 'data.db')!r}]); "
        "print(sorted(m for m in ('watcher.service', 'aiosqlite', 'anyio', 'msgspec') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.anyio
async def test_status_while_a_watcher_runs(tmp_path: Path, capsys) -> None:
    async def idle(address: str, **_: Any) -> None:
        await anyio.sleep_forever()

    path = tmp_path / "data.db"
    service = Service(path, ServiceConfig(sockets=("/x/a",)), watch_server=idle)
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        with anyio.fail_after(10):
            while not (tmp_path / "data.db.watcher.json").exists():
                await anyio.sleep(0.01)
        assert run(["status", "--db", str(path), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["running"] is True
        assert info["status"]["servers"][0]["socket"] == "/x/a"
        assert run(["status", "--db", str(path)]) == 0
        assert "running (pid" in capsys.readouterr().out
        service.stop()


def test_run_rejects_bad_arguments(tmp_path: Path, capsys) -> None:
    assert run(["run", "--db", str(tmp_path / "d.db"), "--batch-size", "0"]) == 2
    assert run(["run", "--db", str(tmp_path / "d.db"), "-L", "a/b"]) == 6
    assert "Traceback" not in capsys.readouterr().err


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _session(**kw: Any) -> SessionRecord:
    base: dict[str, Any] = {
        "id": "s",
        "name": "n",
        "created_at": "2026-11-26T11:00:00.000000Z",
        "updated_at": "2026-11-26T11:00:00.000000Z",
        "last_access": "2026-11-26T11:00:00.000000Z",
    }
    return SessionRecord(**(base | kw))


def _event(kind: str, minute: int, client: str = "c1") -> EventRecord:
    return EventRecord(
        session_id="s",
        event_type=kind,
        timestamp=f"2026-11-26T11:{minute:02d}:00.000000Z",
        data={"client": client} if kind in ("attached", "detached") else {},
    )


@pytest.mark.parametrize(
    ("events", "ended_at", "attached", "lifetime"),
    [
        ([], None, 0, 3600),
        ([_event("attached", 10)], None, 50 * 60, 3600),  # still attached: until now
        ([_event("attached", 10), _event("detached", 20)], None, 600, 3600),
        # Two clients overlapping count once: 10..30.
        (
            [
                _event("attached", 10, "a"),
                _event("attached", 15, "b"),
                _event("detached", 20, "a"),
                _event("detached", 30, "b"),
            ],
            None,
            1200,
            3600,
        ),
        # Killed while attached: the attach ends with the session.
        ([_event("attached", 10), _event("killed", 40)], "2026-11-26T11:40:00.000000Z", 1800, 2400),
    ],
)
def test_session_statistics(events, ended_at, attached, lifetime) -> None:
    session = _session(ended_at=ended_at, status="ended" if ended_at else "attached")
    stats = session_statistics(session, events, now=NOW)
    assert stats.attached_seconds == attached
    assert stats.lifetime_seconds == lifetime
