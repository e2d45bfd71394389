"""``ccmgr-watch import`` into a PostgreSQL URL: the same plan and results as into a SQLite file
(import into SQLite then ``db copy`` = import straight into PostgreSQL), idempotence, --dry-run,
the snapshot of what an import changes, merging with sessions the watcher's writer recorded,
``--export-json`` from a URL and hostile files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.postgres.connect import connect_sync
from store.postgres.db import PgDatabase
from store.reads import EventRecord
from store.repositories import LifecycleRow
from tests.importer.test_hostile import ENTRY_CASES, FILE_CASES
from tests.importer.test_import import FORMS, state_file, tmux_file
from tests.store.ccmgr_ultra_fixture import make_ccmgr_ultra_db
from watcher.cli.main import run

Cli = Callable[..., tuple[int, str, str]]
HOST = "laptop"
NAME = "ccmgr-myproject-main-feature"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], _isolated_home: Path) -> Cli:
    """``ccmgr-watch ARGS`` in process on a machine whose ``watcher.host`` is HOST."""
    config = _isolated_home / ".config" / "ccmgr-ultra"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"watcher:\n    host: {HOST}\n")

    def call(*args: str) -> tuple[int, str, str]:
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connect_sync(url) as conn:
        return conn.execute(sql.encode(), params).fetchall()


SESSIONS = (
    "SELECT id, name, project, worktree, branch, directory, created_at, updated_at, "
    "last_access, metadata::text, status, ended_at, tmux_server, tmux_id, host FROM sessions "
    "ORDER BY id"
)
# `imported` events are stamped with the moment of the import: compared without their time.
EVENTS = (
    "SELECT session_id, event_type, CASE WHEN event_type = 'imported' THEN '' ELSE timestamp "
    "END, data::jsonb::text, host FROM session_events ORDER BY session_id, event_type, 3, 4"
)


def snapshot(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return rows(url, SESSIONS), rows(url, EVENTS)


def canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def normal(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Sessions and events comparable with :func:`file_rows` (JSON decoded)."""
    sessions, events = snapshot(url)
    return (
        [(*r[:9], json.loads(r[9]), *r[10:]) for r in sessions],
        sorted((*e[:3], canonical(e[3]), e[4]) for e in events),
    )


def file_rows(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """:func:`normal` of a SQLite file, a missing host read as HOST."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        sessions = conn.execute(SESSIONS.replace("metadata::text", "metadata")).fetchall()
        events = conn.execute(EVENTS.replace("data::jsonb::text", "data")).fetchall()
    return (
        [(*r[:9], json.loads(r[9]), *r[10:14], r[14] or HOST) for r in sessions],
        sorted((*e[:3], canonical(e[3]), e[4] or HOST) for e in events),
    )


def fixtures(tmp_path: Path) -> list[str]:
    """The import tests' files: both JSON formats (both timestamp forms) and a ccmgr-ultra
    data.db (one bad row: imported with --skip-bad)."""
    foreign = tmp_path / "ultra.db"
    make_ccmgr_ultra_db(foreign)
    return [
        str(tmux_file(tmp_path / "tmux-sessions.json", *FORMS["rfc3339"])),
        str(state_file(tmp_path / "state.json", FORMS["sqlite"][0])),
        str(foreign),
    ]


def test_the_same_rows_as_importing_into_sqlite_then_db_copy(
    cli: Cli, pg_server: Any, tmp_path: Path
) -> None:
    files = fixtures(tmp_path)
    db = tmp_path / "data.db"
    code, out, err = cli("import", "--db", str(db), *files, "--skip-bad", "--json")
    assert code == 0, err
    via_file = json.loads(out)
    copied, direct = pg_server.new_database(), pg_server.new_database()
    assert cli("db", "copy", str(db), copied, "--host", HOST, "--json")[0] == 0
    code, out, err = cli("import", "--db", direct, *files, "--skip-bad", "--json")
    assert code == 0, err
    report = json.loads(out)
    # The same report (the database named, and where its backup or snapshot went, aside).
    for r in (report, via_file):
        r.pop("database"), r.pop("backup")
    assert report == via_file
    assert report["counts"] == {"added": 5, "merged": 1, "skipped": 0, "events": 3, "bad": 1}
    # Every row as on the file, with this machine's host (a file import records none: `db copy`
    # fills it in, as for any session recorded before hosts were).
    on_file = file_rows(db)
    assert normal(direct) == on_file
    # `db copy` gives the same sessions; of the events it keeps one per session, type and time
    # (its rule), so the second `imported` event of the session two files merged into (both
    # stamped with the import's moment) is not copied.
    copied_rows = normal(copied)
    assert copied_rows[0] == on_file[0]
    from collections import Counter

    missing = Counter(on_file[1]) - Counter(copied_rows[1])
    assert not Counter(copied_rows[1]) - Counter(on_file[1])
    assert [(e[0], e[1]) for e in missing.elements()] == [(NAME, "imported")]
    assert rows(direct, "SELECT DISTINCT host FROM sessions") == [(HOST,)]
    assert rows(direct, "SELECT DISTINCT host FROM session_events") == [(HOST,)]
    # The read commands show the same sessions as on the file.
    shown = []
    for where in (str(db), direct):
        code, out, _ = cli("session", "list", "--json", "--limit", "0", "--db", where)
        assert code == 0
        shown.append(sorted((s["id"], s["name"], s["status"]) for s in json.loads(out)))
    assert shown[0] == shown[1]


def test_twice_adds_nothing_dry_run_writes_nothing_and_a_round_trip_changes_nothing(
    cli: Cli, pg_url: str, tmp_path: Path
) -> None:
    files = fixtures(tmp_path)[:2]
    before = snapshot(pg_url)
    code, out, err = cli("import", "--db", pg_url, *files, "--dry-run")
    assert code == 0, err
    assert "dry run: 4 added" in out and "nothing written to postgresql://" in out
    assert snapshot(pg_url) == before == ([], [])

    code, out, err = cli("import", "--db", pg_url, *files)
    assert code == 0, err
    assert "4 added, 0 merged, 0 unchanged, 0 events, 0 bad in postgresql://" in out
    first = snapshot(pg_url)
    code, out, _ = cli("import", "--db", pg_url, *files, "--json")
    assert json.loads(out)["counts"] == {
        "added": 0,
        "merged": 0,
        "skipped": 4,
        "events": 0,
        "bad": 0,
    }
    assert json.loads(out)["backup"] is None  # nothing changed: no snapshot either
    assert snapshot(pg_url) == first

    # --export-json from the URL: what the same import into a file exports, byte for byte.
    exported = tmp_path / "out" / "pg.json"
    code, out, err = cli("import", "--db", pg_url, "--export-json", str(exported))
    assert code == 0 and f"wrote 4 sessions to {exported}" in out, err
    assert exported.stat().st_mode & 0o777 == 0o600
    db = tmp_path / "data.db"
    assert cli("import", "--db", str(db), *files)[0] == 0
    assert cli("import", "--db", str(db), "--export-json", str(tmp_path / "file.json"))[0] == 0
    assert exported.read_bytes() == (tmp_path / "file.json").read_bytes()
    # Importing the export again changes nothing.
    code, out, _ = cli("import", "--db", pg_url, str(exported))
    assert code == 0 and "0 added, 0 merged, 4 unchanged, 0 events, 0 bad" in out
    assert snapshot(pg_url) == first


async def _record(url: str, name: str, created: str, last: str, host: str) -> str:
    """A session as the watcher's writer records it on PostgreSQL (its row and its event)."""
    from watcher.capture.events import session_id

    server, tmux_id = f"/tmp/tmux-1000/default#4242@1700000000@{host}", "$3"
    sid = session_id(server, tmux_id)
    db = await PgDatabase.open(url)
    try:
        row = LifecycleRow(
            id=sid,
            name=name,
            timestamp=last,
            status="detached",
            server=server,
            tmux_id=tmux_id,
            directory="/home/u/code/myproject",
            created_at=created,
            host=host,
        )
        event = EventRecord(session_id=sid, event_type="created", timestamp=created, host=host)
        await db.write_batch([row], [event], [])
    finally:
        await db.close()
    return sid


@pytest.mark.anyio
async def test_merged_into_what_the_watcher_recorded_on_this_host_only(
    cli: Cli, pg_url: str, tmp_path: Path, _isolated_home: Path
) -> None:
    # The same session name on two machines, both created when the file's session was: the
    # file is this machine's, so it merges into this machine's session only.
    created, last = "2025-06-22T06:03:13.000000Z", "2025-06-22T09:00:00.000000Z"
    other = await _record(pg_url, NAME, created, last, "desk")
    mine = await _record(pg_url, NAME, created, "2025-06-22T06:30:00.000000Z", HOST)
    source = tmux_file(tmp_path / "t.json", FORMS["rfc3339"][0], "2025-06-22T08:00:00Z")
    data = json.loads(source.read_text())
    data[NAME]["directory"] = "/newer/place"
    source.write_text(json.dumps(data))
    desk_before = rows(pg_url, "SELECT * FROM sessions WHERE id = %s", other)
    mine_before = rows(pg_url, SESSIONS.replace("ORDER BY id", "WHERE id = %s"), mine)

    code, out, err = cli("import", "--db", pg_url, str(source), "--json")
    assert code == 0, err
    report = json.loads(out)
    merged = [a for a in report["actions"] if a["name"] == NAME]
    assert [(a["action"], a["into"], a["matched_by"]) for a in merged] == [
        ("merge", mine, "name and creation time")
    ]
    # The file is newer than what this host's watcher saw: its values win, field by field.
    assert rows(
        pg_url,
        "SELECT project, worktree, branch, directory, last_access, status, tmux_id "
        "FROM sessions WHERE id = %s",
        mine,
    ) == [
        (
            "myproject",
            "main",
            "feature",
            "/newer/place",
            "2025-06-22T08:00:00.000000Z",
            "detached",
            "$3",
        )
    ]
    assert rows(pg_url, "SELECT * FROM sessions WHERE id = %s", other) == desk_before
    assert rows(
        pg_url,
        "SELECT event_type, host FROM session_events WHERE session_id = %s ORDER BY id",
        mine,
    ) == [("created", HOST), ("imported", HOST)]
    # The snapshot: this host's session as it was, and what was added.
    saved = Path(report["backup"])
    assert saved.parent == _isolated_home / ".config" / "ccmgr-ultra" / "backups"
    assert saved.stat().st_mode & 0o777 == 0o600
    body = json.loads(saved.read_text())
    assert body["kind"] == "ccmgr-watch import snapshot" and body["files"] == [str(source)]
    assert [s["id"] for s in body["sessions_before"]] == [mine]
    before = body["sessions_before"][0]
    assert (before["directory"], before["last_access"], before["project"]) == (
        mine_before[0][5],
        mine_before[0][8],
        None,
    )
    assert body["sessions_added"] == ["test-session"]
    added = rows(pg_url, "SELECT id FROM session_events WHERE event_type = 'imported' ORDER BY id")
    assert sorted(body["events_added"]) == [r[0] for r in added]
    text = cli("import", "--db", pg_url, str(source))[1]
    assert "0 added, 0 merged, 2 unchanged" in text and "snapshot" not in text


@pytest.mark.parametrize("case", sorted(ENTRY_CASES))
def test_a_hostile_entry_is_exit_4_and_nothing_written(
    cli: Cli, pg_url: str, tmp_path: Path, case: str
) -> None:
    content, expected = ENTRY_CASES[case]
    source = tmp_path / "hostile.json"
    source.write_bytes(content)
    code, _, err = cli("import", "--db", pg_url, str(source))
    assert code == 4, err
    assert expected in err and "Traceback" not in err
    assert snapshot(pg_url) == ([], [])
    code, out, err = cli("import", "--db", pg_url, str(source), "--skip-bad", "--json")
    assert code == 0, err
    assert json.loads(out)["counts"]["added"] == 1
    assert [r[0] for r in rows(pg_url, "SELECT id FROM sessions")] == ["good"]


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_a_hostile_file_is_exit_4_and_nothing_written(
    cli: Cli, pg_url: str, tmp_path: Path, case: str
) -> None:
    content, expected = FILE_CASES[case]
    source = tmp_path / "hostile.json"
    source.write_bytes(content)
    code, _, err = cli("import", "--db", pg_url, str(source))
    assert code == 4, err
    assert expected in err and "Traceback" not in err
    assert snapshot(pg_url) == ([], [])


@pytest.mark.parametrize(
    "metadata",
    [{"x": "a\u0000b"}, {"a\u0000b": 1}, {"deep": [{"x": "\u0000"}]}],
    ids=["value", "key", "nested"],
)
def test_nul_in_metadata_is_exit_4_on_both_stores(
    cli: Cli, pg_url: str, tmp_path: Path, metadata: dict[str, Any]
) -> None:
    """PostgreSQL's jsonb cannot hold U+0000: refused as bad input, as on a file."""
    source = tmp_path / "nul.json"
    good = {"name": "good", "created": "2025-06-22T01:00:00Z"}
    source.write_text(json.dumps({"good": good, "bad": {"name": "bad", "metadata": metadata}}))
    for where in (pg_url, str(tmp_path / "data.db")):
        code, _, err = cli("import", "--db", where, str(source))
        assert code == 4, err
        assert "$.bad.metadata" in err and "NUL" in err and "Traceback" not in err
    assert snapshot(pg_url) == ([], [])


def test_a_url_without_a_server_is_exit_5_without_the_password(cli: Cli, tmp_path: Path) -> None:
    source = tmux_file(tmp_path / "t.json", *FORMS["rfc3339"])
    url = "postgresql://me:s3cret@/nope?host=/nonexistent"
    for argv in (("import", str(source)), ("import", "--export-json", str(tmp_path / "o.json"))):
        code, out, err = cli(*argv, "--db", url)
        assert code == 5 and "s3cret" not in out + err and "Hint:" in err


def test_a_snapshot_that_cannot_be_written_imports_nothing(
    cli: Cli, pg_url: str, tmp_path: Path, _isolated_home: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    config.write_text(f"watcher:\n    host: {HOST}\nbackup:\n    folder: {blocker}\n")
    source = tmux_file(tmp_path / "t.json", *FORMS["rfc3339"])
    code, _, err = cli("import", "--db", pg_url, str(source))
    assert code == 5 and "cannot write the import's snapshot" in err, err
    assert "nothing was imported" in err and "Traceback" not in err
    assert snapshot(pg_url) == ([], [])


@pytest.mark.tmux
@pytest.mark.slow
def test_merged_into_a_session_a_running_watcher_records_on_the_url(
    cli: Cli, pg_url: str, tmp_path: Path
) -> None:
    """A real watcher on the URL records a session; ccmgr-ultra's file names it (created half a
    second later, no tmux identity): the import merges into the watcher's row while the watcher
    runs, and the watcher goes on writing into that row."""
    import time
    from datetime import UTC, datetime, timedelta

    from store.timefmt import format_ts, parse_ts
    from tests.capture.tmuxenv import Tmux, wait_until
    from tests.postgres.test_watchers import HostWatcher

    tmux = Tmux()
    watcher = HostWatcher(pg_url, tmux, HOST, tmp_path / "machine")
    work = tmp_path / "work"
    work.mkdir()
    try:
        tmux.new("base")
        tmux.new(NAME, "-c", str(work))
        watcher.start()
        found = wait_until(
            lambda: rows(
                pg_url,
                "SELECT id, created_at FROM sessions WHERE name = %s AND metadata ? 'tmux_windows'",
                NAME,
            ),
            timeout=30,
            what="the watcher's row",
        )
        sid, created = found[0]
        moment = parse_ts(created) + timedelta(milliseconds=500)
        # The watcher's row must be newer than the file's entry (so its values stay): tmux
        # gives creation in whole seconds, and a watcher that found the session within half a
        # second of that left an older last_access. A window opened after the file's moment
        # makes the watcher write the row again.
        while datetime.now(UTC) <= moment:
            time.sleep(0.05)
        tmux("new-window", "-d", "-t", NAME, "cat")
        wait_until(
            lambda: rows(
                pg_url,
                "SELECT 1 FROM sessions WHERE id = %s AND last_access > %s",
                sid,
                format_ts(moment),
            ),
            timeout=30,
            what="the watcher's row written after the file's moment",
        )
        source = tmp_path / "tmux-sessions.json"
        source.write_text(
            json.dumps(
                {
                    NAME: {
                        "id": NAME,
                        "name": NAME,
                        "directory": "/an/older/place",
                        "created": format_ts(moment),
                        "last_access": format_ts(moment),
                        "metadata": {"key": "value"},
                    },
                    "old-one": {"id": "old-one", "name": "old-one", "created": CREATED_OLD},
                }
            )
        )
        code, out, err = cli("import", "--db", pg_url, str(source), "--json")
        assert code == 0, err
        actions = {a["name"]: a for a in json.loads(out)["actions"]}
        assert (actions[NAME]["action"], actions[NAME]["into"]) == ("merge", sid)
        assert actions[NAME]["matched_by"] == "name and creation time"
        assert actions["old-one"]["action"] == "add"
        ((directory, metadata, status),) = rows(
            pg_url, "SELECT directory, metadata, status FROM sessions WHERE id = %s", sid
        )
        assert directory == str(work) and status == "detached"  # the watcher's values stay
        assert metadata["key"] == "value" and "tmux_windows" in metadata
        again = json.loads(cli("import", "--db", pg_url, str(source), "--json")[1])
        assert again["counts"] == {
            "added": 0,
            "merged": 0,
            "skipped": 2,
            "events": 0,
            "bad": 0,
        }
        # The watcher goes on recording into the same row.
        tmux("rename-session", "-t", NAME, "renamed")
        wait_until(
            lambda: rows(pg_url, "SELECT name FROM sessions WHERE id = %s", sid) == [("renamed",)],
            timeout=30,
            what="the rename in the merged row",
        )
        assert rows(pg_url, "SELECT count(*) FROM sessions") == [(3,)]
        assert rows(pg_url, "SELECT host, status FROM sessions WHERE id = 'old-one'") == [
            (HOST, "ended")
        ]
    finally:
        log = watcher.stop()
        tmux.kill_server()
    assert "Traceback" not in log, log


CREATED_OLD = "2025-06-22T01:00:00Z"


def test_into_a_database_without_the_schema(cli: Cli, pg_server: Any, tmp_path: Path) -> None:
    """A dry run reads a database without the schema as empty (and creates nothing); the import
    creates the schema, then writes."""
    import uuid

    name = f"empty_{uuid.uuid4().hex[:12]}"
    pg_server.execute(f"CREATE DATABASE {name}")
    url = pg_server.url(name)
    source = tmux_file(tmp_path / "t.json", *FORMS["rfc3339"])
    code, out, err = cli("import", "--db", url, str(source), "--dry-run")
    assert code == 0 and "dry run: 2 added" in out, err
    assert rows(url, "SELECT to_regclass('sessions') IS NULL") == [(True,)]
    code, out, err = cli("import", "--db", url, str(source))
    assert code == 0 and "2 added" in out, err
    assert rows(url, "SELECT count(*) FROM sessions") == [(2,)]
