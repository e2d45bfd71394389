"""``ccmgr-watch import``: both JSON formats, both timestamp forms, data.db, round trip, merge,
idempotence, --dry-run, backups, the places ccmgr-ultra keeps its files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from store.db import Database, migrate_sync
from store.reads import EventRecord
from store.repositories import LifecycleRow
from tests.importer.conftest import digest, rows, snapshot
from tests.store.ccmgr_ultra_fixture import make_ccmgr_ultra_db

Cli = Callable[..., tuple[int, str, str]]

# Go's RFC 3339 (what encoding/json writes) and the SQLite text forms its sqlite driver writes.
FORMS = {
    "rfc3339": ("2025-06-21T23:03:13.256298-07:00", "2025-06-22T10:00:00+02:00"),
    "sqlite": ("2025-06-21 23:03:13.256298-07:00", "2025-06-22 08:00:00"),
}
CREATED = "2025-06-22T06:03:13.256298Z"
LAST = "2025-06-22T08:00:00.000000Z"


def tmux_file(path: Path, created: str, last: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "ccmgr-myproject-main-feature": {
                    "id": "ccmgr-myproject-main-feature",
                    "name": "ccmgr-myproject-main-feature",
                    "project": "myproject",
                    "worktree": "main",
                    "branch": "feature",
                    "directory": "/home/u/code/myproject",
                    "created": created,
                    "last_access": last,
                    "last_state": 2,
                    "environment": {"KEY": "value"},
                    "metadata": {"key": "value"},
                },
                "test-session": {
                    "id": "test-session",
                    "name": "test-session",
                    "created": "0001-01-01T00:00:00Z",
                    "last_access": last,
                    "last_state": 0,
                    "environment": {},
                    "metadata": None,
                },
            },
            indent=2,
        )
    )
    return path


def state_file(path: Path, created: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "sessions": [
                    {"id": "u-1", "name": "with id", "project": "p", "created_at": created},
                    {"name": "without id", "directory": "/srv", "created_at": created},
                ]
            }
        )
    )
    return path


@pytest.mark.parametrize("form", sorted(FORMS))
def test_tmux_sessions_json_in_both_timestamp_forms(cli: Cli, tmp_path: Path, form: str) -> None:
    created, last = FORMS[form]
    source = tmux_file(tmp_path / "anything.txt", created, last)  # the content says what it is
    db = tmp_path / "data.db"
    code, out, err = cli("import", "--db", str(db), str(source))
    assert code == 0, err
    assert "tmux-sessions.json, 2 sessions" in out and "2 added" in out
    got = rows(
        db,
        "SELECT id, name, project, worktree, branch, directory, created_at, last_access, "
        "status, metadata FROM sessions ORDER BY id",
    )
    assert got[0][:9] == (
        "ccmgr-myproject-main-feature",
        "ccmgr-myproject-main-feature",
        "myproject",
        "main",
        "feature",
        "/home/u/code/myproject",
        CREATED,
        LAST,
        "ended",
    )
    assert json.loads(got[0][9]) == {
        "key": "value",
        "ccmgr_ultra": {"environment": {"KEY": "value"}, "last_state": 2},
    }
    # Go's zero time means "not set": the creation time falls back to the last access.
    assert got[1][0] == "test-session" and got[1][6] == LAST and json.loads(got[1][9]) == {}
    events = rows(db, "SELECT session_id, event_type, data FROM session_events ORDER BY id")
    assert [(e[0], e[1]) for e in events] == [
        ("ccmgr-myproject-main-feature", "imported"),
        ("test-session", "imported"),
    ]
    assert json.loads(events[0][2]) == {
        "file": str(source),
        "format": "tmux-sessions.json",
        "action": "added",
    }


@pytest.mark.parametrize("form", sorted(FORMS))
def test_state_json_in_both_timestamp_forms(cli: Cli, tmp_path: Path, form: str) -> None:
    created, _ = FORMS[form]
    source = state_file(tmp_path / "state.json", created)
    db = tmp_path / "data.db"
    code, out, err = cli("import", "--db", str(db), str(source), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["files"] == [
        {"file": str(source), "format": "state.json", "sessions": 2, "bad": 0}
    ]
    got = rows(db, "SELECT id, name, project, directory, created_at FROM sessions ORDER BY name")
    assert got[0][0] == "u-1" and got[0][1:] == ("with id", "p", None, CREATED)
    assert got[1][0].startswith("json-") and got[1][1:] == ("without id", None, "/srv", CREATED)
    # The id made for a session without one is stable: a second import finds it again.
    code, out, _ = cli("import", "--db", str(db), str(source), "--json")
    assert json.loads(out)["counts"] == {
        "added": 0,
        "merged": 0,
        "skipped": 2,
        "events": 0,
        "bad": 0,
    }


def test_importing_twice_adds_nothing_and_dry_run_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    a = tmux_file(tmp_path / "tmux-sessions.json", *FORMS["rfc3339"])
    b = state_file(tmp_path / "state.json", FORMS["sqlite"][0])
    migrate_sync(db)
    before = digest(db, Path(f"{db}-wal"))
    code, out, err = cli("import", "--db", str(db), str(a), str(b), "--dry-run")
    assert code == 0, err
    assert "would add" in out and "dry run: 4 added" in out and "nothing written" in out
    assert digest(db, Path(f"{db}-wal")) == before
    assert rows(db, "SELECT count(*) FROM sessions") == [(0,)]

    assert cli("import", "--db", str(db), str(a), str(b))[0] == 0
    first = snapshot(db)
    assert len(first[0]) == 4 and len(first[1]) == 4
    code, out, _ = cli("import", "--db", str(db), str(a), str(b))
    assert code == 0 and "0 added, 0 merged, 4 unchanged, 0 events" in out
    assert snapshot(db) == first
    assert "backup" not in out  # nothing to change: no backup either


def test_a_backup_is_made_first_and_its_place_said(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    migrate_sync(db)
    source = tmux_file(tmp_path / "x.json", *FORMS["rfc3339"])
    code, out, err = cli("import", "--db", str(db), str(source), "--json")
    assert code == 0, err
    backup = Path(json.loads(out)["backup"])
    assert backup.is_file() and backup.name.startswith("ccmgr-watch-")
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    listed = json.loads(out)
    assert [e["note"] for e in listed] == ["before ccmgr-watch import"]
    assert listed[0]["totals"]["sessions"] == 0  # taken before the import wrote


def test_round_trip_import_export_import_adds_nothing(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    a = tmux_file(tmp_path / "tmux-sessions.json", *FORMS["rfc3339"])
    b = state_file(tmp_path / "state.json", FORMS["sqlite"][0])
    assert cli("import", "--db", str(db), str(a), str(b))[0] == 0
    exported = tmp_path / "out" / "tmux-sessions.json"
    code, out, err = cli("import", "--db", str(db), "--export-json", str(exported))
    assert code == 0, err
    assert f"wrote 4 sessions to {exported}" in out
    assert exported.stat().st_mode & 0o777 == 0o600
    data = json.loads(exported.read_text())
    entry = data["ccmgr-myproject-main-feature"]
    assert list(entry) == [
        "id",
        "name",
        "project",
        "worktree",
        "branch",
        "directory",
        "created",
        "last_access",
        "last_state",
        "environment",
        "metadata",
    ]
    assert entry["created"] == "2025-06-22T06:03:13.256298Z" and entry["last_state"] == 2
    assert entry["last_access"] == "2025-06-22T08:00:00Z"
    assert entry["environment"] == {"KEY": "value"}
    before = snapshot(db)
    code, out, _ = cli("import", "--db", str(db), str(exported))
    assert code == 0 and "0 added, 0 merged, 4 unchanged, 0 events, 0 bad" in out
    assert snapshot(db) == before
    # Into a fresh database the export brings back the same sessions.
    other = tmp_path / "other.db"
    assert cli("import", "--db", str(other), str(exported))[0] == 0
    cols = "id, name, project, worktree, branch, directory, created_at, last_access, metadata"
    assert rows(other, f"SELECT {cols} FROM sessions ORDER BY id") == rows(
        db, f"SELECT {cols} FROM sessions ORDER BY id"
    )


def test_export_is_what_go_would_write(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    source = tmp_path / "s.json"
    source.write_text(
        json.dumps({"a<b>&c": {"name": "a<b>&c", "created": "2025-06-22T01:00:00.5Z"}})
    )
    assert cli("import", "--db", str(db), str(source))[0] == 0
    out = tmp_path / "o.json"
    assert cli("import", "--db", str(db), "--export-json", str(out))[0] == 0
    text = out.read_text()
    assert text.startswith('{\n  "a\\u003cb\\u003e\\u0026c": {\n    "id": ')
    assert '"created": "2025-06-22T01:00:00.5Z"' in text


def test_a_ccmgr_ultra_data_db_at_another_path(cli: Cli, tmp_path: Path) -> None:
    foreign = tmp_path / "elsewhere" / "ultra.db"
    foreign.parent.mkdir()
    make_ccmgr_ultra_db(foreign)
    before = digest(foreign)
    db = tmp_path / "data.db"
    # One row of the fixture holds "not a date" and broken JSON: a located error, nothing written.
    code, _, err = cli("import", "--db", str(db), str(foreign))
    assert code == 4
    assert f"Error: {foreign}: sessions row 3 (id 'broken-values') created_at: not a" in err
    assert not db.exists()
    code, out, err = cli("import", "--db", str(db), str(foreign), "--skip-bad", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["files"][0]["format"] == "data.db"
    assert report["counts"] == {"added": 2, "merged": 0, "skipped": 0, "events": 3, "bad": 1}
    assert report["problems"][0]["where"].startswith("sessions row 3")
    got = rows(
        db, "SELECT session_id, event_type, timestamp FROM session_events ORDER BY session_id, id"
    )
    assert ("ccmgr-myproject-main-feature", "session_start", CREATED) in got
    assert (
        "7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11",
        "migrated",
        "2025-06-20T10:00:00.000000Z",
    ) in got
    assert sum(1 for g in got if g[1] == "imported") == 2
    assert digest(foreign) == before  # read from a copy
    again = cli("import", "--db", str(db), str(foreign), "--skip-bad", "--json")
    assert json.loads(again[1])["counts"]["added"] == 0
    assert json.loads(again[1])["counts"]["events"] == 0


async def _record(db: Path, name: str, created: str, last: str) -> str:
    """Write a session as the watcher does: a lifecycle row and its event through the writer."""
    from watcher.capture.events import session_id

    server, tmux_id = "/tmp/tmux-1000/default#4242@1700000000", "$3"
    sid = session_id(server, tmux_id)
    async with await Database.open(db) as conn:
        row = LifecycleRow(
            id=sid,
            name=name,
            timestamp=last,
            status="detached",
            server=server,
            tmux_id=tmux_id,
            directory="/home/u/code/myproject",
            created_at=created,
        )
        event = EventRecord(session_id=sid, event_type="created", timestamp=created)
        await conn.write_batch([row], [event], [])
    return sid


@pytest.mark.anyio
async def test_a_session_the_watcher_recorded_is_merged_never_duplicated(
    cli: Cli, tmp_path: Path
) -> None:
    db = tmp_path / "data.db"
    name = "ccmgr-myproject-main-feature"
    # tmux says the session was created at 06:03:13 (whole seconds); the watcher saw it last
    # at 09:00. ccmgr-ultra's file has it created 0.26 s later, with older values, plus a
    # project the watcher has not found yet.
    sid = await _record(db, name, "2025-06-22T06:03:13.000000Z", "2025-06-22T09:00:00.000000Z")
    source = tmux_file(tmp_path / "tmux-sessions.json", *FORMS["rfc3339"])
    data = json.loads(source.read_text())
    data[name]["directory"] = "/somewhere/else"
    source.write_text(json.dumps(data))
    code, out, err = cli("import", "--db", str(db), str(source), "--json")
    assert code == 0, err
    report = json.loads(out)
    merged = [a for a in report["actions"] if a["name"] == name]
    assert merged[0]["action"] == "merge" and merged[0]["into"] == sid
    assert merged[0]["matched_by"] == "name and creation time"
    got = rows(
        db,
        "SELECT id, project, worktree, branch, directory, created_at, last_access, status, "
        "tmux_id FROM sessions WHERE name = ?",
        name,
    )
    # One session: the file filled what was empty; what the watcher recorded stayed.
    assert got == [
        (
            sid,
            "myproject",
            "main",
            "feature",
            "/home/u/code/myproject",
            "2025-06-22T06:03:13.000000Z",
            "2025-06-22T09:00:00.000000Z",
            "detached",
            "$3",
        )
    ]
    kinds = rows(db, "SELECT event_type FROM session_events WHERE session_id = ?", sid)
    assert kinds == [("created",), ("imported",)]
    # The export carries the tmux identity; importing it matches by that, changing nothing.
    out_file = tmp_path / "export.json"
    assert cli("import", "--db", str(db), "--export-json", str(out_file))[0] == 0
    before = snapshot(db)
    code, out, _ = cli("import", "--db", str(db), str(out_file), "--json")
    actions = {a["name"]: a for a in json.loads(out)["actions"]}
    assert actions[name]["matched_by"] == "tmux identity" and actions[name]["action"] == "skip"
    assert snapshot(db) == before


@pytest.mark.anyio
async def test_a_newer_file_wins_field_by_field(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "data.db"
    name = "ccmgr-myproject-main-feature"
    sid = await _record(db, name, "2025-06-22T06:03:13.000000Z", "2025-06-22T06:30:00.000000Z")
    source = tmux_file(tmp_path / "t.json", FORMS["rfc3339"][0], "2025-06-22T08:00:00Z")
    data = json.loads(source.read_text())
    data[name]["directory"] = "/newer/place"
    source.write_text(json.dumps(data))
    assert cli("import", "--db", str(db), str(source))[0] == 0
    got = rows(db, "SELECT directory, last_access, status FROM sessions WHERE id = ?", sid)
    assert got == [("/newer/place", "2025-06-22T08:00:00.000000Z", "detached")]


def test_without_a_path_the_places_ccmgr_ultra_uses(
    cli: Cli, tmp_path: Path, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    (xdg / "ccmgr-ultra").mkdir(parents=True)
    tmux_file(xdg / "ccmgr-ultra" / "tmux-sessions.json", *FORMS["rfc3339"])
    state_file(xdg / "ccmgr-ultra" / "state.json", FORMS["rfc3339"][0])
    legacy = _isolated_home / ".ccmgr-ultra"
    legacy.mkdir()
    (legacy / "state.json").write_text('{"sessions": [{"name": "from home"}]}')
    work = tmp_path / "work"
    work.mkdir()
    (work / "state.json").write_text('{"sessions": [{"name": "from cwd"}]}')
    monkeypatch.chdir(work)
    db = tmp_path / "data.db"
    code, out, err = cli("import", "--db", str(db), "--json")
    assert code == 0, err
    files = [f["file"] for f in json.loads(out)["files"]]
    assert files == [
        str(xdg / "ccmgr-ultra" / "tmux-sessions.json"),
        str(xdg / "ccmgr-ultra" / "state.json"),
        str(legacy / "state.json"),
        str(work / "state.json"),
    ]
    # tmux.state_file from the config is where the first one is looked for.
    custom = tmp_path / "custom.json"
    tmux_file(custom, *FORMS["sqlite"])
    (xdg / "ccmgr-ultra" / "config.yaml").write_text(f"tmux:\n    state_file: {custom}\n")
    code, out, _ = cli("import", "--db", str(db), "--json", "--dry-run")
    assert json.loads(out)["files"][0]["file"] == str(custom)


def test_nothing_to_import(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("import", "--db", str(tmp_path / "d.db"))
    assert code == 0 and "no ccmgr-ultra state files found" in out
    assert not (tmp_path / "d.db").exists()


def test_export_json_usage_mistakes(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("import", "x.json", "--export-json", str(tmp_path / "o.json"))
    assert code == 2 and "Hint:" in err
    code, _, err = cli("import", "--db", str(tmp_path / "d.db"), "--export-json", str(tmp_path))
    assert code == 2 and "is a folder" in err
    code, _, err = cli("import", "--db", str(tmp_path / "none.db"), "--export-json", "o.json")
    assert code == 5 and "no database" in err
