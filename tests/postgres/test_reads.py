"""The read commands on PostgreSQL: the same records and output as on SQLite for the same rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from store.postgres.connect import connect_sync
from store.postgres.reads import to_postgres
from watcher.cli.main import run

TS = "2026-11-{:02d}T10:00:00.000000Z"
SESSIONS = [
    ("s-aaaa000000000001", "auth-api", "myapp", "main", "/home/u/code/myapp", 20, "laptop"),
    ("s-bbbb000000000002", "auth-web", "myapp", "feat/x", "/home/u/code/myapp/web", 21, "desk"),
    ("s-cccc000000000003", "notes", None, None, None, 22, "laptop"),
]
EVENTS = [
    ("s-aaaa000000000001", "created", 20, {}),
    ("s-aaaa000000000001", "renamed", 21, {"old_name": "a", "new_name": "auth-api"}),
    ("s-bbbb000000000002", "created", 21, {}),
    ("s-cccc000000000003", "attached", 22, {"client": "/dev/pts/1"}),
]
COLUMNS = "id, name, project, branch, directory, created_at, updated_at, last_access, host"


def _session_rows() -> list[tuple[Any, ...]]:
    return [
        (sid, name, project, branch, directory, TS.format(d), TS.format(d), TS.format(d), host)
        for sid, name, project, branch, directory, d, host in SESSIONS
    ]


@pytest.fixture
def both(pg_url: str, tmp_path: Path) -> tuple[str, str]:
    """The same sessions and events in a PostgreSQL database and a SQLite file."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    with sqlite3.connect(path) as lite:
        lite.executemany(
            f"INSERT INTO sessions ({COLUMNS}) VALUES ({', '.join('?' * 9)})", _session_rows()
        )
        lite.executemany(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            [(s, t, TS.format(d), json.dumps(data)) for s, t, d, data in EVENTS],
        )
    with connect_sync(pg_url) as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO sessions ({COLUMNS}) VALUES ({', '.join(['%s'] * 9)})".encode(),
            _session_rows(),
        )
        cur.executemany(
            b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
            b"VALUES (%s, %s, %s, %s::json)",
            [(s, t, TS.format(d), json.dumps(data)) for s, t, d, data in EVENTS],
        )
    return pg_url, str(path)


def out_of(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ["session", "list", "--json"],
        ["session", "list", "--json", "--project", "myapp", "--limit", "1"],
        ["session", "list"],
        ["session", "show", "auth-web", "--json"],
        ["session", "show", "s-aaaa", "--json"],
        ["session", "history", "--json"],
        ["session", "history", "auth-api", "--type", "renamed", "--json"],
        ["session", "history", "--limit", "0", "--json"],
        ["query", "auth", "--sort", "recent", "--json"],
        ["query", "host:laptop", "--json"],
        ["query", "dir:/home/u/code/myapp -host:desk", "--json"],
        ["query", "auth", "--sort", "name"],
        ["session", "show", "nothing"],
        ["session", "show", "s-"],
    ],
)
def test_postgres_answers_as_sqlite(
    both: tuple[str, str], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    url, path = both
    on_pg = out_of(capsys, *argv, "--db", url)
    on_lite = out_of(capsys, *argv, "--db", path)
    if "show" in argv and "--json" in argv:
        # "statistics" counts the time since the last event: the two runs are a moment apart.
        for result in (on_pg, on_lite):
            assert result[0] == 0
        pg_show, lite_show = json.loads(on_pg[1]), json.loads(on_lite[1])
        assert pg_show["session"] == lite_show["session"]
        assert [e | {"id": 0} for e in pg_show["events"]] == [
            e | {"id": 0} for e in lite_show["events"]
        ]
        return
    assert on_pg == on_lite


def test_a_missing_schema_says_to_migrate(pg_server: Any, capsys: pytest.CaptureFixture[str]):
    import uuid

    name = f"bare_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    code, _, err = out_of(capsys, "session", "list", "--db", pg_server.url(name))
    assert code == 5 and "db migrate" in err


def test_placeholders_inside_quotes_are_left_alone() -> None:
    assert to_postgres("SELECT '?' WHERE a = ? ORDER BY x, rowid DESC") == (
        b"SELECT '?' WHERE a = %s ORDER BY x, seq DESC"
    )


def test_searches_are_never_prepared(pg_url: str) -> None:
    """A long-lived reader (the picker) runs the same search shape many times: the server must
    plan each with its parameters, never switch to a generic plan of a prepared statement."""
    from datetime import UTC, datetime

    from store.postgres.reads import PgReader
    from store.postgres.search import search_pg
    from store.query import parse_query

    reader = PgReader.open(pg_url)
    try:
        for _ in range(12):
            search_pg(reader, parse_query("auth login", now=datetime.now(UTC)), limit=20)
        prepared = reader.conn.execute(b"SELECT count(*) FROM pg_prepared_statements")
        assert prepared.fetchone() == (0,)
    finally:
        reader.close()
