"""The two ways `stats` reads attached time agree: from sql/007's per-session totals and per-day
hour sums (sessions wholly inside the window and their life), and from the islands of
attached_spans for every session (what it falls back to in a zone whose offset is not a whole
number of hours). Random event logs of several sessions, inserted in random orders, random
windows; then zones with part-hour offsets and with daylight-saving time."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.stats import _activity, activity
from store.timefmt import format_ts
from watcher.activity import report

BASE = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # the night before Europe's DST change
NOW = BASE + timedelta(days=3)
H = 3600.0


def stamp(seconds: float) -> str:
    return format_ts(BASE + timedelta(seconds=seconds))


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    use("UTC")
    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = Path(tmp_path_factory.mktemp("aggregates")) / "data.db"
    migrate_sync(path)
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


def store(conn: sqlite3.Connection, sessions: list[dict[str, Any]], order: Any) -> None:
    conn.execute("DELETE FROM session_events")
    conn.execute("DELETE FROM sessions")
    rows = []
    for i, s in enumerate(sessions):
        sid = f"s{i}"
        conn.execute(
            "INSERT INTO sessions (id, name, project, created_at, updated_at, last_access, "
            "status, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                sid,
                s["project"],
                stamp(s["created"]),
                stamp(s["created"]),
                stamp(s["last_access"]),
                s["status"],
                stamp(s["ended"]) if s["status"] == "ended" else None,
            ),
        )
        for kind, at, client in s["events"]:
            data = json.dumps({"client": client}) if kind in ("attached", "detached") else "{}"
            rows.append((sid, kind, stamp(at), data))
    order.shuffle(rows)
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        rows,
    )


def both(conn: sqlite3.Connection, by: str, lo: float, hi: float) -> tuple[Any, Any]:
    """The report read through the aggregates and the one read from the islands only; the
    aggregates' day sums read both ways (sql/007's rows of the whole sessions, sql/008's sums
    over every session less the others) must give the same report."""
    args: dict[str, Any] = {"by": by, "lo": lo, "hi": hi, "now": NOW.timestamp()}
    fast = _activity(conn, "1", (), aggregates=True, everyone=False, **args)
    everyone = _activity(conn, "1", (), aggregates=True, everyone=True, **args)
    slow = _activity(conn, "1", (), aggregates=False, **args)
    assert fast is not None and slow is not None and everyone is not None
    fast_report = report(fast, by=by, limit=None)
    assert report(everyone, by=by, limit=None) == fast_report
    # Every session read, not only those sql/010 says may be alive in the window.
    wide = _activity(conn, "1", (), aggregates=True, everyone=False, narrow=False, **args)
    assert wide is not None
    close(report(wide, by=by, limit=None), fast_report)
    if lo <= 0 and by == "project":
        # sql/010: the ended sessions summed from stats_ended, the others read as usual. The
        # same numbers (sums in another order: the last microsecond may differ).
        settled = _activity(conn, "1", (), aggregates=True, settled=True, **args)
        assert settled is not None
        close(report(settled, by=by, limit=None), fast_report)
    return fast_report, report(slow, by=by, limit=None)


def ended_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """sql/010's rows as its triggers keep them."""
    return conn.execute("SELECT * FROM stats_ended ORDER BY session_id").fetchall()


def ended_defined(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """The same, from their definition (the view the triggers insert from)."""
    return conn.execute("SELECT * FROM stats_ended_source ORDER BY session_id").fetchall()


_DAY_COLUMNS = ", ".join([f"s{k}" for k in range(24)] + [f"a{k}" for k in range(24)])


def days_all(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """sql/008's per-day sums over every session, as its triggers keep them."""
    return conn.execute(
        f"SELECT day, n, {_DAY_COLUMNS} FROM attached_days_all ORDER BY day"
    ).fetchall()


def days_summed(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """The same, summed from sql/007's per-(day, session) rows."""
    sums = ", ".join(f"sum({c})" for c in _DAY_COLUMNS.split(", "))
    return conn.execute(
        f"SELECT day, count(*), {sums} FROM attached_days GROUP BY day ORDER BY day"
    ).fetchall()


def close(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            close(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-5)
    else:
        assert a == b


_KINDS = st.sampled_from(["attached", "attached", "detached", "detached", "killed", "vanished"])
_EVENT = st.tuples(
    _KINDS, st.integers(-86400, 2 * 86400).map(float), st.sampled_from(["a", "b", "", None])
)
_SESSION = st.fixed_dictionaries(
    {
        "project": st.sampled_from(["web", "api", None]),
        "events": st.lists(_EVENT, max_size=10),
        "status": st.sampled_from(["attached", "detached", "ended"]),
        "created": st.integers(-2 * 86400, 86400).map(float),
        "ended": st.integers(0, 2 * 86400).map(float),
        "last_access": st.integers(0, 2 * 86400).map(float),
    }
)
_BOUND = st.one_of(st.none(), st.integers(-86400, 2 * 86400).map(float))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sessions=st.lists(_SESSION, min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
    by=st.sampled_from(["project", "day", "hour"]),
    since=_BOUND,
    until=_BOUND,
    tz=st.sampled_from(["UTC", "EST+5", "CET-1CEST,M3.5.0,M10.5.0/3"]),
)
def test_aggregates_and_islands_agree(conn, zone, sessions, order, by, since, until, tz) -> None:
    zone(tz)
    store(conn, sessions, order)
    lo = 0.0 if since is None else (BASE + timedelta(seconds=since)).timestamp()
    hi = NOW.timestamp() if until is None else (BASE + timedelta(seconds=until)).timestamp()
    if lo > hi:
        lo, hi = hi, lo
    assert days_all(conn) == days_summed(conn)
    assert ended_rows(conn) == ended_defined(conn)
    fast, slow = both(conn, by, lo, hi)
    if tz.startswith("CET"):
        # The islands place a stretch across the DST change (2026-03-29 01:00 UTC) by the
        # offset at its start; the hour sums by the offset of each hour. Totals agree.
        for part in ("total",):
            close(fast[part], slow[part])
        assert sum(fast["attached_seconds_by_hour"]) == pytest.approx(
            sum(slow["attached_seconds_by_hour"]), abs=1e-4
        )
    else:
        close(fast, slow)


def test_part_hour_zones_read_the_islands(tmp_path, zone) -> None:
    """In Asia/Kolkata (+5:30) and Asia/Kathmandu (+5:45) an attached hour 10:00-11:00 UTC is
    split between two local hours exactly (the UTC-hour sums cannot do that: the islands are
    read instead)."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    sessions = [
        {
            "project": "web",
            "events": [("attached", 14 * H, "a"), ("detached", 15 * H, "a")],
            "status": "ended",
            "created": 0.0,
            "ended": 20 * H,
            "last_access": 20 * H,
        }
    ]
    store(conn, sessions, order=__import__("random").Random(1))
    # 14 h after BASE (20:00 UTC on the 28th) is 10:00 UTC on the 29th.
    for tz, first, minutes in (("IST-5:30", 15, 30), ("NPT-5:45", 15, 15)):
        zone(tz)
        got = activity(conn, "1", (), by="hour", lo=0.0, hi=NOW.timestamp(), now=NOW.timestamp())
        hours = report(got, by="hour", limit=None)["attached_seconds_by_hour"]
        assert hours[first] == minutes * 60.0
        assert hours[first + 1] == H - minutes * 60.0
        assert sum(hours) == H
        assert (
            _activity(
                conn,
                "1",
                (),
                by="hour",
                lo=0.0,
                hi=NOW.timestamp(),
                now=NOW.timestamp(),
                aggregates=True,
            )
            is None
        )  # the aggregates gave up: part-hour offsets
    zone("EST+5")  # whole hours: the aggregates answer
    assert _activity(
        conn, "1", (), by="hour", lo=0.0, hi=NOW.timestamp(), now=NOW.timestamp(), aggregates=True
    )
    conn.close()


def test_daylight_saving_hours_follow_each_hours_offset(tmp_path, zone) -> None:
    """A stretch 00:30-02:30 UTC on 2026-03-29, across Europe's change at 01:00 UTC (CET +1
    to CEST +2): local 01:30-02:00 (CET) then 03:00-04:30 (CEST), from the hour sums."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    start = 4.5 * H  # BASE is 20:00 UTC on the 28th
    sessions = [
        {
            "project": None,
            "events": [("attached", start, "a"), ("detached", start + 2 * H, "a")],
            "status": "ended",
            "created": 0.0,
            "ended": 10 * H,
            "last_access": 10 * H,
        }
    ]
    store(conn, sessions, order=__import__("random").Random(1))
    zone("CET-1CEST,M3.5.0,M10.5.0/3")
    got = activity(conn, "1", (), by="day", lo=0.0, hi=NOW.timestamp(), now=NOW.timestamp())
    hours = report(got, by="day", limit=None)["attached_seconds_by_hour"]
    assert hours[1] == 0.5 * H and hours[3] == H and hours[4] == 0.5 * H
    assert sum(hours) == 2 * H
    conn.close()


def test_down_restores_006_exactly(tmp_path) -> None:
    """007's DOWN leaves the schema 006 made, text for text (its insert trigger included)."""
    from store.migrations import migrate

    def schema(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "AND name <> 'schema_migrations' ORDER BY type, name"
        ).fetchall()

    at_006 = tmp_path / "006.db"
    migrate_sync(at_006, target=6)
    conn = sqlite3.connect(at_006)
    expected = schema(conn)
    conn.close()
    path = tmp_path / "007.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    assert {"attached_totals", "attached_days", "attached_clients"} <= {r[1] for r in schema(conn)}
    migrate(conn, 6)
    assert schema(conn) == expected
    conn.close()


def test_day_sums_over_every_session_follow_each_change(tmp_path) -> None:
    """sql/008's triggers: inserts, same-day updates, a row moved to another day, deletes
    (the last row of a day removes the day)."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sid in ("x", "y"):
        conn.execute(
            "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
            "VALUES (?, ?, ?, ?, ?)",
            (sid, sid, stamp(0), stamp(0), stamp(0)),
        )
    put = "INSERT INTO attached_days (session_id, day, n, s3, a7) VALUES (?, ?, 1, ?, ?)"
    conn.execute(put, ("x", 20000, 5_000_000, 1))
    conn.execute(put, ("y", 20000, 7_000_000, 2))
    conn.execute(put, ("y", 20001, 1_000_000, 0))
    assert days_all(conn) == days_summed(conn)
    conn.execute("UPDATE attached_days SET s3 = s3 + 1, a7 = a7 + 1 WHERE session_id = 'x'")
    assert days_all(conn) == days_summed(conn)
    conn.execute("UPDATE attached_days SET day = 20002 WHERE session_id = 'y' AND day = 20001")
    assert days_all(conn) == days_summed(conn)
    assert [row[0] for row in days_all(conn)] == [20000, 20002]
    conn.execute("DELETE FROM sessions WHERE id = 'y'")  # 007 deletes its day rows
    assert days_all(conn) == days_summed(conn)
    assert days_all(conn)[0][:2] == (20000, 1)
    conn.execute("DELETE FROM attached_days")
    assert days_all(conn) == []
    conn.close()


@settings(max_examples=80, deadline=None)
@given(
    days=st.dictionaries(
        st.integers(20_400, 20_800),  # UTC days around 2026, across both DST changes
        st.lists(st.integers(0, 3_600_000_000), min_size=48, max_size=48),
        max_size=40,
    ),
    tz=st.sampled_from(
        ["UTC", "EST+5", "CET-1CEST,M3.5.0,M10.5.0/3", "AEST-10AEDT,M10.1.0,M4.1.0/3"]
    ),
)
def test_hour_sums_summed_per_day_of_the_week_report_the_same(days, tz) -> None:
    """Without --by day the day rows are summed per (day of the week, hour), days with one
    offset column by column: the same hours of the day, days of the week and attach counts
    as placing every day's hours one by one (in zones with and without daylight saving)."""
    import os

    from store.stats import _local_days
    from watcher.activity import days_of_week, hours_of_day

    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        rows = [(day, ",".join(map(str, values))) for day, values in sorted(days.items())]
        week = _local_days(rows, calendar=False)
        every = _local_days(rows, calendar=True)
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
    assert week is not None and every is not None
    assert len(week[0]) <= 168 and len(week[1]) <= 168
    assert hours_of_day(week[0]) == pytest.approx(hours_of_day(every[0]), abs=1e-5)
    assert days_of_week(week[0]) == pytest.approx(days_of_week(every[0]), abs=1e-5)
    per_hour = [0] * 24
    for _, hour, _, n in every[1]:
        per_hour[hour] += n
    for _, hour, _, n in week[1]:
        per_hour[hour] -= n
    assert per_hour == [0] * 24
