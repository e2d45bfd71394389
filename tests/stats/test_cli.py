"""``ccmgr-watch stats`` on a fixed event log, against numbers worked out by hand.

The log (UTC; 2026-11-23 is a Monday), five sessions, all ended:

- A webshop/main, 23rd 09:00-17:00 (8 h): c1 09:30-10:30; c1 13:00-14:00 and c2 13:30-14:30
  (one span 13:00-14:30); c1 from 16:00 until killed at 17:00. Attached 3 h 30 m, 4 attaches.
- B webshop/feat/x, 23rd 22:00 - 24th 02:00 (4 h): c1 from 23:00, again at 23:30 (a duplicate),
  a client-less detach at 01:00; c3 from 01:30 until it vanished at 02:00. 2 h 30 m, 3 attaches.
- C myapp/main, 25th 10:00-12:00 (2 h): a detach of a client never attached at 10:10; c1
  10:20-10:50; c1 11:00-11:30, the attach written after its detach. 1 h, 2 attaches.
- D scratch (no project), 25th 20:00-20:30, never attached.
- E myapp/feat/y, 10th 10:00-11:00, attached all along (until killed). 1 h, 1 attach.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_sync
from watcher.cli.main import run

H = 3600.0

SESSIONS = [
    # id, name, project, worktree, branch, created, ended
    ("s-a", "ccmgr-webshop-main", "webshop", "main", "main", "23T09:00", "23T17:00"),
    ("s-b", "ccmgr-webshop-x", "webshop", "x", "feat/x", "23T22:00", "24T02:00"),
    ("s-c", "ccmgr-myapp-main", "myapp", "main", "main", "25T10:00", "25T12:00"),
    ("s-d", "scratch", None, None, None, "25T20:00", "25T20:30"),
    ("s-e", "ccmgr-myapp-y", "myapp", "y", "feat/y", "10T10:00", "10T11:00"),
]
EVENTS = [  # in the order written (ids ascending)
    ("s-a", "created", "23T09:00", None),
    ("s-a", "attached", "23T09:30", "c1"),
    ("s-a", "detached", "23T10:30", "c1"),
    ("s-a", "attached", "23T13:00", "c1"),
    ("s-a", "attached", "23T13:30", "c2"),
    ("s-a", "window_added", "23T13:40", None),
    ("s-a", "detached", "23T14:00", "c1"),
    ("s-a", "detached", "23T14:30", "c2"),
    ("s-a", "attached", "23T16:00", "c1"),
    ("s-a", "killed", "23T17:00", None),
    ("s-b", "created", "23T22:00", None),
    ("s-b", "attached", "23T23:00", "c1"),
    ("s-b", "attached", "23T23:30", "c1"),
    ("s-b", "detached", "24T01:00", None),
    ("s-b", "attached", "24T01:30", "c3"),
    ("s-b", "vanished", "24T02:00", None),
    ("s-c", "created", "25T10:00", None),
    ("s-c", "detached", "25T10:10", "c9"),
    ("s-c", "attached", "25T10:20", "c1"),
    ("s-c", "detached", "25T10:50", "c1"),
    ("s-c", "detached", "25T11:30", "c1"),
    ("s-c", "attached", "25T11:00", "c1"),
    ("s-c", "killed", "25T12:00", None),
    ("s-d", "created", "25T20:00", None),
    ("s-d", "killed", "25T20:30", None),
    ("s-e", "created", "10T10:00", None),
    ("s-e", "attached", "10T10:00", "c1"),
    ("s-e", "killed", "10T11:00", None),
]


def ts(short: str) -> str:
    return f"2026-11-{short}:00.000000Z"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC (hours and days are local)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def db(tmp_path: Path, utc: None) -> str:
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sid, name, project, worktree, branch, created, ended in SESSIONS:
        conn.execute(
            "INSERT INTO sessions (id, name, project, worktree, branch, created_at, updated_at, "
            "last_access, status, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ended', ?)",
            (sid, name, project, worktree, branch, ts(created), ts(ended), ts(ended), ts(ended)),
        )
    for sid, kind, at, client in EVENTS:
        data = json.dumps({"client": client}) if kind in ("attached", "detached") else "{}"
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            (sid, kind, ts(at), data),
        )
    conn.close()
    return str(path)


def stats(db: str, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert run(["stats", *args, "--json", "--db", db]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def brief(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row.get("key"),
        row["sessions"],
        row["created"],
        row["attaches"],
        row["attached_seconds"],
        row["lifetime_count"],
        row["lifetime_total_seconds"],
        row["lifetime_median_seconds"],
    )


def test_totals_and_by_project(db, capsys) -> None:
    out = stats(db, capsys)
    total = out["total"]
    # 3.5 h + 2.5 h + 1 h + 0 + 1 h; lifetimes 8 h, 4 h, 2 h, 30 m, 1 h.
    assert brief(total) == (None, 5, 5, 10, 8 * H, 5, 15.5 * H, 2 * H)
    assert total["lifetime_mean_seconds"] == 15.5 * H / 5
    assert [brief(r) for r in out["rows"]] == [
        ("webshop", 2, 2, 7, 6 * H, 2, 12 * H, 6 * H),
        ("myapp", 2, 2, 3, 2 * H, 2, 3 * H, 1.5 * H),
        (None, 1, 1, 0, 0.0, 1, 0.5 * H, 0.5 * H),
    ]
    assert out["rows_omitted"] == 0


def test_by_branch_and_worktree(db, capsys) -> None:
    rows = stats(db, capsys, "--by", "branch")["rows"]
    assert [(r["key"], r["attached_seconds"], r["attaches"]) for r in rows] == [
        ("main", 4.5 * H, 6),
        ("feat/x", 2.5 * H, 3),
        ("feat/y", 1 * H, 1),
        (None, 0.0, 0),
    ]
    rows = stats(db, capsys, "--by", "worktree")["rows"]
    assert [(r["key"], r["sessions"]) for r in rows] == [
        ("main", 2),
        ("x", 1),
        ("y", 1),
        (None, 1),
    ]


def test_busiest_hours_and_weekdays(db, capsys) -> None:
    out = stats(db, capsys)
    hours = out["attached_seconds_by_hour"]
    expected = [0.0] * 24
    for hour, minutes in {
        9: 30,
        10: 120,
        11: 30,
        13: 60,
        14: 30,
        16: 60,
        23: 60,
        0: 60,
        1: 30,
    }.items():
        expected[hour] = minutes * 60.0
    assert hours == expected
    assert out["attached_seconds_by_weekday"] == {
        "Mon": 4.5 * H,  # A 3.5 h, B 23:00-24:00
        "Tue": 2.5 * H,  # B 00:00-01:00 and 01:30-02:00, E 1 h (the 10th)
        "Wed": 1 * H,
        "Thu": 0.0,
        "Fri": 0.0,
        "Sat": 0.0,
        "Sun": 0.0,
    }


def test_by_hour(db, capsys) -> None:
    rows = stats(db, capsys, "--by", "hour")["rows"]
    assert len(rows) == 24
    by_key = {r["key"]: r for r in rows}
    assert (by_key["10"]["created"], by_key["10"]["attaches"]) == (2, 2)  # C and E
    assert by_key["10"]["attached_seconds"] == 2 * H
    assert by_key["10"]["lifetime_median_seconds"] == 1.5 * H  # C 2 h, E 1 h
    assert by_key["22"]["created"] == 1 and by_key["22"]["attached_seconds"] == 0.0
    assert by_key["00"]["attached_seconds"] == 1 * H
    assert all(r["sessions"] is None for r in rows)


def test_by_day_with_a_window(db, capsys) -> None:
    out = stats(
        db, capsys, "--by", "day", "--since", "2026-11-23T12:00Z", "--until", "2026-11-24T00:30Z"
    )
    # A: 13:00-14:30 and 16:00-17:00; B: 23:00-00:30 (clipped). B is the one created inside.
    assert brief(out["total"]) == (None, 2, 1, 5, 4 * H, 1, 4 * H, 4 * H)
    assert [
        (r["key"], r["attached_seconds"], r["created"], r["attaches"]) for r in out["rows"]
    ] == [
        ("2026-11-23", 3.5 * H, 1, 5),
        ("2026-11-24", 0.5 * H, 0, 0),
    ]
    assert out["since"] == "2026-11-23T12:00:00.000000Z"
    assert out["until"] == "2026-11-24T00:30:00.000000Z"


def test_window_by_project_leaves_out_groups_without_activity(db, capsys) -> None:
    out = stats(db, capsys, "--since", "2026-11-23T12:00Z", "--until", "2026-11-24T00:30Z")
    assert [brief(r) for r in out["rows"]] == [("webshop", 2, 1, 5, 4 * H, 1, 4 * H, 4 * H)]


def test_a_date_window_is_whole_local_days(db, capsys) -> None:
    out = stats(db, capsys, "--since", "2026-11-25", "--until", "2026-11-25")
    assert brief(out["total"]) == (None, 2, 2, 2, 1 * H, 2, 2.5 * H, 1.25 * H)


def test_query_selects_like_query(db, capsys) -> None:
    out = stats(db, capsys, "project:myapp")
    assert out["query"] == "project:myapp"
    assert brief(out["total"])[1:5] == (2, 2, 3, 2 * H)
    assert run(["stats", "--json", "--db", db, "--", "webshop", "-branch:main"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert brief(out["total"])[1:5] == (1, 1, 3, 2.5 * H)
    assert run(["query", "--json", "--db", db, "--", "webshop", "-branch:main"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == ["s-b"]


def test_a_query_that_selects_nothing(db, capsys) -> None:
    out = stats(db, capsys, "nosuchword")
    assert brief(out["total"]) == (None, 0, 0, 0, 0.0, 0, 0.0, None)
    assert out["rows"] == [] and out["attached_seconds_by_hour"] == [0.0] * 24
    assert run(["stats", "nosuchword", "--db", db]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "No sessions match" in captured.err


def test_json_shape(db, capsys) -> None:
    out = stats(db, capsys, "--by", "day")
    assert list(out) == [
        "query",
        "by",
        "since",
        "until",
        "now",
        "total",
        "rows",
        "rows_omitted",
        "attached_seconds_by_hour",
        "attached_seconds_by_weekday",
    ]
    keys = [
        "sessions",
        "created",
        "attaches",
        "attached_seconds",
        "lifetime_count",
        "lifetime_total_seconds",
        "lifetime_mean_seconds",
        "lifetime_median_seconds",
    ]
    assert list(out["total"]) == keys
    assert all(list(row) == ["key", *keys] for row in out["rows"])
    assert out["by"] == "day" and out["query"] == "" and out["since"] is None
    # Every day from the first to the last with activity, oldest first, at most 31.
    assert out["rows"][-1]["key"] == "2026-11-25"
    assert len(out["rows"]) == 16 and out["rows_omitted"] == 0
    limited = stats(db, capsys, "--by", "day", "--limit", "2")
    assert [r["key"] for r in limited["rows"]] == ["2026-11-24", "2026-11-25"]
    assert limited["rows_omitted"] == 14


def test_session_show_and_stats_agree(db, capsys) -> None:
    for sid, name, *_ in SESSIONS:
        assert run(["session", "show", sid, "--json", "--db", db]) == 0
        shown = json.loads(capsys.readouterr().out)["statistics"]
        total = stats(db, capsys, f"name:{name}")["total"]
        assert total["attached_seconds"] == shown["attached_seconds"]
        assert total["lifetime_total_seconds"] == shown["lifetime_seconds"]
        assert total["attaches"] == shown["times_attached"]


def test_table(db, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert run(["stats", "--db", db]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "5 sessions, 5 created, 10 attaches, attached 8h 00m, median lifetime 2h 00m"
    header = next(line for line in lines if line.startswith("PROJECT"))
    assert header.split() == [
        "PROJECT",
        "SESSIONS",
        "CREATED",
        "ATTACHES",
        "ATTACHED",
        "MEDIAN",
        "LIFE",
    ]
    webshop = next(line for line in lines if line.startswith("webshop"))
    myapp = next(line for line in lines if line.startswith("myapp"))
    # Bars scale with attached time: webshop's is the longest, myapp's a third of it.
    assert webshop.endswith("#" * 30) or webshop.endswith("█" * 30)
    assert len(myapp.split()[-1]) == 10
    assert all(len(line) <= 100 for line in lines)
    assert any(line.startswith("hours") and "busiest: 10-11" in line for line in lines)
    assert any(line.startswith("weekdays") and "Mon (4h 30m)" in line for line in lines)


def test_narrow_terminal_drops_the_bars(db, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    assert run(["stats", "--by", "branch", "--db", db]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("main")]
    assert table and "#" not in table[0] and "█" not in table[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["auth (project:x"], "unbalanced '('"),
        (['"unterminated'], "Error:"),
        (["project:"], "Error:"),
        (["--since", "garbage"], "--since: cannot read 'garbage' as a time"),
        (["--until", "99999 days ago"], "--until:"),
        (["--since", "2026-11-25", "--until", "2026-11-20"], "is after --until"),
        (["--by", "year"], "invalid choice"),
        (["--limit", "-1"], "Error:"),
        (["--since", "2026-02-30"], "not a valid date"),
    ],
)
def test_bad_input_is_a_usage_error(db, capsys, args, message) -> None:
    assert run(["stats", *args, "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error:") and message in err and "Hint:" in err
    assert "Traceback" not in err


def test_hostile_query_text(db, capsys) -> None:
    for text in ["x" * 100_000, "\x00'; DROP TABLE sessions; --", "%_\\*", "name:*'\"*"]:
        code = run(["stats", "--json", "--db", db, "--", text])
        captured = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in captured.err
        if code == 0:  # it selects what `query` selects
            assert run(["query", "--limit", "0", "--json", "--db", db, "--", text]) == 0
            found = json.loads(capsys.readouterr().out)
            assert json.loads(captured.out)["total"]["sessions"] == len(found)
    assert stats(db, capsys)["total"]["sessions"] == 5  # nothing was harmed


def test_missing_database(tmp_path, capsys) -> None:
    assert run(["stats", "--db", str(tmp_path / "none.db")]) == 5
    assert capsys.readouterr().err.startswith("Error: no database")


def test_help(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["stats", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for option in ("--by", "--since", "--until", "--limit", "--json", "QUERY"):
        assert option in out


def test_local_hours_follow_the_zone(db, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TZ", "EST+5")  # a fixed zone five hours behind UTC, no DST
    time.tzset()
    out = stats(db, capsys, "ccmgr-myapp-y")  # E: 10:00-11:00 UTC = 05:00-06:00 local
    hours = out["attached_seconds_by_hour"]
    assert hours[5] == H and sum(hours) == H


@pytest.mark.parametrize(
    "text",
    [
        "webshop",
        "main",
        "status:ended",
        "-project:webshop",
        "name:ccmgr-*",
        "until:2026-11-24",
        "(webshop OR myapp) -branch:main",
        "nosuchword OR scratch",
    ],
)
def test_stats_selects_what_query_lists(db, capsys, text) -> None:
    assert run(["query", "--limit", "0", "--json", "--db", db, "--", text]) == 0
    listed = {s["id"] for s in json.loads(capsys.readouterr().out)}
    assert run(["stats", "--json", "--by", "branch", "--db", db, "--", text]) == 0
    out = json.loads(capsys.readouterr().out)
    # No window: every selected session was alive at some moment up to now.
    assert out["total"]["sessions"] == len(listed)
    assert sum(row["sessions"] for row in out["rows"]) == len(listed)
