"""``ccmgr-watch db copy``: SQLite to PostgreSQL and back, idempotent, hosts filled in."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from store.postgres.connect import connect_sync
from watcher.cli.main import run

TS = "2026-11-{:02d}T10:00:00.000000Z"


def filled(path: Path, sessions: int = 7) -> Path:
    migrate_sync(path)
    with sqlite3.connect(path) as conn:
        for n in range(sessions):
            conn.execute(
                "INSERT INTO sessions (id, name, project, metadata, created_at, updated_at, "
                "last_access, status, host) VALUES (?, ?, ?, ?, ?, ?, ?, 'detached', ?)",
                (
                    f"s-{n:016x}",
                    f"auth-{n}",
                    "myapp" if n % 2 else None,
                    json.dumps({"enriched_from": "git"}) if n == 1 else "{}",
                    TS.format(10 + n),
                    TS.format(10 + n),
                    TS.format(10 + n),
                    None if n < 3 else "old-box",
                ),
            )
            for kind in ("created", "attached"):
                conn.execute(
                    "INSERT INTO session_events (session_id, event_type, timestamp, data) "
                    "VALUES (?, ?, ?, ?)",
                    (f"s-{n:016x}", kind, TS.format(10 + n), json.dumps({"client": "/dev/pts/1"})),
                )
    return path


def copy(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert run(["db", "copy", *argv, "--json"]) == 0
    counts: dict[str, Any] = json.loads(capsys.readouterr().out)
    return counts


def test_sqlite_to_postgresql_and_back(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = filled(tmp_path / "laptop.db")
    first = copy(capsys, str(source), pg_url, "--host", "laptop")
    assert (first["sessions"], first["events_read"], first["events_added"]) == (7, 14, 14)
    again = copy(capsys, str(source), pg_url, "--host", "laptop")
    assert again["events_added"] == 0  # idempotent
    with connect_sync(pg_url) as conn:
        hosts = conn.execute(b"SELECT host, count(*) FROM sessions GROUP BY 1 ORDER BY 1")
        assert hosts.fetchall() == [("laptop", 3), ("old-box", 4)]
        meta = conn.execute(b"SELECT metadata FROM sessions WHERE name = 'auth-1'").fetchone()
        assert meta == ({"enriched_from": "git"},)
        assert conn.execute(b"SELECT count(*) FROM session_events").fetchone() == (14,)
    # The same answers from both stores (the copy's hosts aside).
    assert run(["query", "auth myapp", "--sort", "recent", "--json", "--db", pg_url]) == 0
    on_pg = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in on_pg] == [f"s-{n:016x}" for n in (5, 3, 1)]
    # And back into a new file.
    home = tmp_path / "home.db"
    back = copy(capsys, pg_url, str(home))
    assert back["sessions"] == 7 and back["events_added"] == 14
    assert run(["session", "list", "--json", "--limit", "0", "--db", str(home)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {s["host"] for s in listed} == {"laptop", "old-box"} and len(listed) == 7


def test_copy_refuses_the_same_database_and_hides_passwords(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = filled(tmp_path / "a.db", 1)
    assert run(["db", "copy", str(source), str(source)]) == 2
    assert "same database" in capsys.readouterr().err
    bad = "postgresql://me:s3cret@/nodb?host=/nonexistent"
    assert run(["db", "copy", str(source), bad]) == 5
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "s3cret" not in err and "me:***@" in err


def test_a_source_older_than_hosts_is_copied_with_the_given_host(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.migrations import load_migrations

    old = tmp_path / "old.db"
    hosts = next(m.version for m in load_migrations() if m.name == "hosts")
    migrate_sync(old, hosts - 1)
    with sqlite3.connect(old) as conn:
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            f"VALUES ('s-1', 'old', '{TS.format(1)}', '{TS.format(1)}', '{TS.format(1)}')"
        )
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp) "
            f"VALUES ('s-1', 'created', '{TS.format(1)}')"
        )
    counts = copy(capsys, str(old), pg_url, "--host", "attic")
    assert (counts["sessions"], counts["events_added"]) == (1, 1)
    with connect_sync(pg_url) as conn:
        assert conn.execute(b"SELECT host FROM sessions").fetchall() == [("attic",)]
        assert conn.execute(b"SELECT host FROM session_events").fetchall() == [("attic",)]
    # The source was only read: still at its old schema.
    with sqlite3.connect(old) as conn:
        assert "host" not in {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}


def test_copy_in_many_chunks_merges_updates_and_duplicates_both_ways(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 3 rows: every chunk is staged and merged on its own; a session renamed later in
    SOURCE wins, an event SOURCE holds twice lands once, progress counts both phases."""
    import store.copy
    from store.copy import copy_store

    monkeypatch.setattr(store.copy, "CHUNK", 3)
    source = filled(tmp_path / "laptop.db", 8)
    with sqlite3.connect(source) as conn:
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "SELECT session_id, event_type, timestamp, data FROM session_events WHERE id = 1"
        )
    seen: list[tuple[str, int, int]] = []
    first = copy_store(
        str(source), pg_url, host="laptop", progress=lambda *a: seen.append(a)
    ).as_dict()
    assert first == {"sessions": 8, "events_read": 17, "events_added": 16}
    assert seen[:3] == [("sessions", 3, 8), ("sessions", 6, 8), ("sessions", 8, 8)]
    assert seen[3:] == [("events", n, 17) for n in (3, 6, 9, 12, 15, 17)]
    # Later, SOURCE renames one session (a newer updated_at): the next copy takes it, adds no
    # event, and keeps SOURCE's order as DEST's insertion order.
    with sqlite3.connect(source) as conn:
        conn.execute(
            "UPDATE sessions SET name = 'renamed', updated_at = ? WHERE id = ?",
            (TS.format(28), f"s-{4:016x}"),
        )
    again = copy_store(str(source), pg_url, host="laptop").as_dict()
    assert again["events_added"] == 0
    with connect_sync(pg_url) as conn:
        names = conn.execute(b"SELECT name FROM sessions ORDER BY seq").fetchall()
        assert [n for (n,) in names] == [f"auth-{n}" if n != 4 else "renamed" for n in range(8)]
        assert conn.execute(b"SELECT count(*) FROM session_events").fetchone() == (16,)
    # Back to SQLite in chunks too, twice: the same rows, nothing doubled.
    home = tmp_path / "home.db"
    for expected in (16, 0):
        back = copy_store(pg_url, str(home), host="desk").as_dict()
        assert (back["sessions"], back["events_read"], back["events_added"]) == (8, 16, expected)
    with sqlite3.connect(home) as conn:
        rows = conn.execute("SELECT name, host FROM sessions ORDER BY rowid").fetchall()
        assert [r[0] for r in rows] == [n for (n,) in names]
        assert {r[1] for r in rows} == {"laptop", "old-box"}
        events = conn.execute(
            "SELECT count(*), count(DISTINCT session_id || event_type || timestamp) "
            "FROM session_events"
        ).fetchone()
        assert events == (16, 16)


def test_an_interrupted_copy_completes_when_run_again(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that fails after some chunks leaves whole chunks (each is one transaction);
    running it again completes it."""
    import store.copy
    from store.copy import copy_store

    monkeypatch.setattr(store.copy, "CHUNK", 2)
    source = filled(tmp_path / "laptop.db", 5)

    def fail_on_events(what: str, done: int, total: int) -> None:
        if what == "events" and done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(str(source), pg_url, host="laptop", progress=fail_on_events)
    with connect_sync(pg_url) as conn:
        assert conn.execute(b"SELECT count(*) FROM sessions").fetchone() == (5,)
        assert conn.execute(b"SELECT count(*) FROM session_events").fetchone() == (4,)
    rest = copy_store(str(source), pg_url, host="laptop").as_dict()
    assert (rest["events_read"], rest["events_added"]) == (10, 6)
