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
