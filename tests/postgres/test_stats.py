"""``ccmgr-watch stats`` on PostgreSQL: the same numbers, text and JSON as on SQLite.

The hand-worked tests of tests/stats/test_cli.py run here again (imported: pytest collects them
in this module, with this module's ``db`` fixture, a PostgreSQL database holding the same rows
in the same order); the definition's property test runs against PostgreSQL; timestamps are read
as SQLite reads them; the output is identical between the stores after ``db copy``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.postgres.connect import connect_sync
from store.postgres.migrate import migrate_conn
from store.postgres.reads import PgReader
from store.postgres.stats import activity, zone_offsets
from store.stats import FAR_FUTURE, FAR_PAST
from tests.stats import test_cli as hand
from tests.stats.test_cli import (  # noqa: F401  (collected again here, on PostgreSQL)
    test_a_date_window_is_whole_local_days,
    test_a_query_that_selects_nothing,
    test_bad_input_is_a_usage_error,
    test_busiest_hours_and_weekdays,
    test_by_branch_and_worktree,
    test_by_day_with_a_window,
    test_by_hour,
    test_hostile_query_text,
    test_json_shape,
    test_local_hours_follow_the_zone,
    test_narrow_terminal_drops_the_bars,
    test_query_selects_like_query,
    test_session_show_and_stats_agree,
    test_stats_selects_what_query_lists,
    test_table,
    test_totals_and_by_project,
    test_window_by_project_leaves_out_groups_without_activity,
    utc,
)
from tests.stats.test_definition import BASE, NOW, model, stamp
from watcher.cli.main import run

_SESSION_COLUMNS = (
    "id, name, project, worktree, branch, directory, created_at, updated_at, last_access, "
    "metadata, status, ended_at, tmux_server, tmux_id, host"
)
_EVENT_COLUMNS = "id, session_id, event_type, timestamp, data, host"


def copy_rows(path: str, url: str) -> None:
    """Every session and event of the SQLite file into the PostgreSQL database, as they are
    (events with their ids, so (timestamp, id) orders them the same)."""
    lite = sqlite3.connect(path)
    sessions = lite.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY rowid").fetchall()
    events = lite.execute(f"SELECT {_EVENT_COLUMNS} FROM session_events ORDER BY id").fetchall()
    lite.close()
    with connect_sync(url) as conn, conn.cursor() as cur:
        marks = ", ".join(["%s"] * 15)
        cur.executemany(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ({marks})".encode(), sessions
        )
        cur.executemany(
            f"INSERT INTO session_events ({_EVENT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s::json, %s)".encode(),
            events,
        )


def hand_worked(tmp_path: Path) -> str:
    """tests/stats/test_cli.py's five sessions in a SQLite file (its ``db`` fixture's rows)."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sid, name, project, worktree, branch, created, ended in hand.SESSIONS:
        conn.execute(
            "INSERT INTO sessions (id, name, project, worktree, branch, created_at, updated_at, "
            "last_access, status, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'ended', ?)",
            (sid, name, project, worktree, branch, *(hand.ts(t) for t in (created, ended)),
             hand.ts(ended), hand.ts(ended)),
        )  # fmt: skip
    for sid, kind, at, client in hand.EVENTS:
        data = json.dumps({"client": client}) if kind in ("attached", "detached") else "{}"
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            (sid, kind, hand.ts(at), data),
        )
    conn.close()
    return str(path)


@pytest.fixture
def db(tmp_path: Path, utc: None, pg_url: str) -> str:  # noqa: F811
    """tests/stats/test_cli.py's five sessions, in PostgreSQL."""
    copy_rows(hand_worked(tmp_path), pg_url)
    return pg_url


@pytest.fixture
def both(tmp_path: Path, utc: None, pg_url: str) -> tuple[str, str]:  # noqa: F811
    """The same rows in a SQLite file and, through ``db copy``, in PostgreSQL."""
    path = hand_worked(tmp_path)
    assert run(["db", "copy", path, pg_url]) == 0
    return path, pg_url


def output(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--by", "branch"],
        ["--by", "worktree", "--limit", "2"],
        ["--by", "day"],
        ["--by", "hour"],
        ["webshop"],
        ["--since", "2026-11-23T12:00Z", "--until", "2026-11-24T00:30Z", "--by", "day"],
        ["status:ended -project:myapp", "--by", "hour"],
        ["nosuchword"],
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Australia/Adelaide", "EST+5"])
def test_identical_output_after_db_copy(
    both: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    zone: str,
) -> None:
    """Text and JSON, in zones whole, half an hour (Kolkata, Adelaide with DST) and POSIX."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    monkeypatch.setenv("COLUMNS", "100")
    path, url = both
    for extra in ([], ["--json"]):
        lite = output(capsys, "stats", *args, *extra, "--db", path)
        pg = output(capsys, "stats", *args, *extra, "--db", url)
        if extra:
            lite_data, pg_data = json.loads(lite[1]), json.loads(pg[1])
            del lite_data["now"], pg_data["now"]  # the two runs are a moment apart
            assert pg_data == lite_data
        else:
            assert pg == lite


def test_the_zone_is_read_in_half_hours(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """E is attached 10:00-11:00 UTC on the 10th: 15:30-16:30 in Kolkata (UTC+5:30)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    out = hand.stats(db, capsys, "ccmgr-myapp-y", "--by", "hour")
    hours = out["attached_seconds_by_hour"]
    assert (hours[15], hours[16], sum(hours)) == (1800.0, 1800.0, 3600.0)
    assert [r["key"] for r in out["rows"] if r["created"]] == ["15"]


def test_an_unreachable_server_is_a_store_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = output(
        capsys, "stats", "--db", "postgresql://me:secret@/ccmgr?host=/nonexistent&port=1"
    )
    assert code == 5 and out == "" and err.startswith("Error: cannot connect")
    assert "Hint:" in err and "secret" not in err and "Traceback" not in err


def test_a_missing_schema_says_to_migrate(pg_server: Any, capsys: pytest.CaptureFixture[str]):
    import uuid

    name = f"bare_{uuid.uuid4().hex[:8]}"
    pg_server.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    code, _, err = output(capsys, "stats", "--db", pg_server.url(name))
    assert code == 5 and "db migrate" in err


# --- the definition, against the model, on PostgreSQL ----------------------------------------


@pytest.fixture
def pg(pg_url: str) -> Any:
    reader = PgReader.open(pg_url)
    writer = connect_sync(pg_url)
    yield reader, writer
    reader.close()
    writer.close()


def store_pg(
    writer: Any,
    events: list[tuple[str, Any, Any]],
    *,
    status: str,
    created: float,
    ended: float | None,
    last_access: float,
) -> None:
    """tests/stats/test_definition.py's ``store``, on PostgreSQL."""
    writer.execute(b"DELETE FROM sessions")
    writer.execute(
        b"INSERT INTO sessions (id, name, created_at, updated_at, last_access, status, ended_at) "
        b"VALUES ('s', 'n', %s, %s, %s, %s, %s)",
        (
            stamp(created),
            stamp(created),
            stamp(last_access),
            status,
            None if ended is None else stamp(ended),
        ),
    )
    with writer.cursor() as cur:
        cur.executemany(
            b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
            b"VALUES ('s', %s, %s, %s::json)",
            [
                (
                    kind,
                    at if isinstance(at, str) else stamp(at),
                    json.dumps({"client": client}) if kind in ("attached", "detached") else "{}",
                )
                for kind, at, client in events
            ],
        )


def times_pg(reader: PgReader) -> tuple[float, float, int]:
    """Attached time, lifetime and attaches of session 's' over all time."""
    found = activity(
        reader,
        "sessions.id = %s",
        ["s"],
        by="project",
        lo=FAR_PAST,
        hi=FAR_FUTURE,
        now=NOW.timestamp(),
    )
    total = found.total
    return total.attached_seconds, total.lifetime_total_seconds, total.attaches


_KINDS = st.sampled_from(
    ["attached", "attached", "detached", "detached", "killed", "vanished", "window_added"]
)
_CLIENTS = st.sampled_from(["a", "b", "c", "", None])
_EVENT = st.tuples(_KINDS, st.integers(-600, 4200).map(float), _CLIENTS)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(_EVENT, max_size=14),
    order=st.randoms(use_true_random=False),
    status=st.sampled_from(["attached", "detached", "ended"]),
    created=st.integers(-300, 600).map(float),
    ended=st.integers(0, 4000).map(float),
    last_access=st.integers(0, 4000).map(float),
)
def test_postgres_follows_the_documented_rules(
    pg, events, order, status, created, ended, last_access
) -> None:
    reader, writer = pg
    shuffled = list(events)
    order.shuffle(shuffled)
    end = ended if status == "ended" else None
    store_pg(writer, shuffled, status=status, created=created, ended=end, last_access=last_access)
    attached, lifetime, attaches = times_pg(reader)
    expected = model(shuffled, status=status, created=created, ended=end, last_access=last_access)
    assert attached == pytest.approx(expected, abs=1e-5)
    life_end = end if end is not None else (NOW - BASE).total_seconds()
    assert lifetime == pytest.approx(max(0.0, life_end - created), abs=1e-5)
    assert attaches == sum(1 for kind, *_ in shuffled if kind == "attached")


def test_unreadable_timestamps_leave_their_event_out(pg) -> None:
    reader, writer = pg
    store_pg(
        writer,
        [("attached", 300.0, "a"), ("detached", "garbage", "a"), ("vanished", 1500.0, None)],
        status="ended",
        created=0.0,
        ended=1500.0,
        last_access=1500.0,
    )
    assert times_pg(reader) == (1200.0, 1500.0, 1)


# --- timestamps read as SQLite reads them ----------------------------------------------------

_DIGITS = st.text("0123456789", min_size=2, max_size=2)
_STAMPS = st.one_of(
    st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 30)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ").rjust(27, "0")
    ),
    st.builds(
        lambda y, mo, d, sep, h, mi, s, frac, tz, trail: (
            f"{y:04d}-{mo}-{d}{sep}{h}:{mi}{s}{frac}{tz}{trail}"
        ),
        st.integers(0, 9999),
        _DIGITS,
        _DIGITS,
        st.sampled_from(["T", " ", "  ", "TT", "T ", "x"]),
        _DIGITS,
        _DIGITS,
        st.sampled_from(["", ":00", ":59", ":60", ":7"]),
        st.sampled_from(["", ".5", ".123456", ".1234567", ".", ".x"]),
        st.sampled_from(["", "Z", "z", " Z", "+01:00", "-05:30", "+14:00", "+15:00", "+0100"]),
        st.sampled_from(["", " ", "x"]),
    ),
    st.sampled_from(["", "garbage", "2026-11-23", "2026-11", "-0001-01-01", "2026-13-01"]),
    st.text(max_size=30),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stamps=st.lists(_STAMPS, min_size=1, max_size=20))
def test_timestamps_read_as_sqlite_reads_them(pg_url: str, stamps: list[str]) -> None:
    """ccmgr_epoch (sql/postgresql/002) = SQLite's unixepoch(t) + CAST(substr(t, 20, 7) AS REAL)
    for every text that starts with a date, NULL where SQLite gives NULL."""
    lite = sqlite3.connect(":memory:")
    stamps = [s.replace("\x00", "") for s in stamps]
    expected = [
        lite.execute("SELECT unixepoch(?1) + CAST(substr(?1, 20, 7) AS REAL)", (text,)).fetchone()[
            0
        ]
        for text in stamps
    ]
    with connect_sync(pg_url) as conn:
        sql = "SELECT ccmgr_epoch(t.v) FROM unnest(%s::text[]) WITH ORDINALITY AS t (v, i) "
        got = [row[0] for row in conn.execute((sql + "ORDER BY t.i").encode(), (stamps,))]
    for text, want, have in zip(stamps, expected, got, strict=True):
        if not re.match(r"-?[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            # SQLite also reads a bare time, a Julian day number and 'now', which no
            # ccmgr-watch path stores: unreadable on PostgreSQL (docs/postgresql.md).
            assert have is None, text
        elif want is None:
            assert have is None, text
        else:
            assert have == pytest.approx(want, abs=1e-6), text


def test_zone_offsets_find_every_change(
    utc: None,  # noqa: F811  (puts the process's zone back afterwards)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Australia/Adelaide")  # +10:30 in summer, +9:30 in winter
    time.tzset()
    lo = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    hi = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    moments, offsets = zone_offsets(lo, hi)
    assert offsets == [10.5 * 3600, 9.5 * 3600, 10.5 * 3600]
    for moment, before, after in zip(moments[1:], offsets[:-1], offsets[1:], strict=True):
        assert time.localtime(moment - 1).tm_gmtoff == before
        assert time.localtime(moment).tm_gmtoff == after
    assert moments[1] == datetime(2025, 4, 5, 16, 30, tzinfo=UTC).timestamp()
    assert zone_offsets(lo, lo + timedelta(days=3).total_seconds())[1] == [10.5 * 3600]


# --- the stored spans (sql/postgresql/002_attached_spans.sql), in any insertion order -----------


def spans_rows(writer: Any) -> list[tuple[Any, ...]]:
    return writer.execute(  # type: ignore[no-any-return]
        b"SELECT session_id, span_start, span_end, attaches, last_attach FROM attached_spans "
        b"ORDER BY session_id, span_start"
    ).fetchall()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(_EVENT, max_size=14),
    order=st.randoms(use_true_random=False),
    status=st.sampled_from(["attached", "detached", "ended"]),
    created=st.integers(-300, 600).map(float),
    dropped=st.sets(st.integers(0, 13), max_size=4),
    split=st.integers(0, 14),
)
def test_stored_spans_follow_the_rules_in_any_insertion_order(
    pg, events, order, status, created, dropped, split
) -> None:
    """The insert trigger's partial derivation (row by row, and for many rows in one
    statement, as `db copy` writes them) gives the same islands as a full derivation (the
    update trigger) and as the migration's backfill; the delete trigger keeps them right; the
    attached time read from them follows the model."""
    reader, writer = pg
    shuffled = list(events)
    order.shuffle(shuffled)
    end = 3600.0 if status == "ended" else None
    # The first `split` events one statement each (the watcher), the rest in one statement.
    store_pg(
        writer, shuffled[:split], status=status, created=created, ended=end, last_access=3000.0
    )
    rest = [
        (kind, at if isinstance(at, str) else stamp(at),
         json.dumps({"client": client}) if kind in ("attached", "detached") else "{}")
        for kind, at, client in shuffled[split:]
    ]  # fmt: skip
    writer.execute(
        b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
        b"SELECT 's', k, t, d::json FROM unnest(%s::text[], %s::text[], %s::text[]) AS r (k, t, d)",
        ([r[0] for r in rest], [r[1] for r in rest], [r[2] for r in rest]),
    )
    incremental = spans_rows(writer)
    expected = model(shuffled, status=status, created=created, ended=end, last_access=3000.0)
    assert times_pg(reader)[0] == pytest.approx(expected, abs=1e-5)
    readable = [e for e in shuffled if e[0] == "attached" and not isinstance(e[1], str)]
    assert sum(row[3] for row in incremental) == len(readable)
    writer.execute(b"UPDATE session_events SET data = data")
    assert spans_rows(writer) == incremental
    migrate_conn(writer, 1)
    migrate_conn(writer)
    assert spans_rows(writer) == incremental
    ids = [row[0] for row in writer.execute(b"SELECT id FROM session_events ORDER BY id")]
    inserted = shuffled[:split] + shuffled[split:]
    gone = [ids[i] for i in sorted(dropped) if i < len(ids)]
    writer.execute(b"DELETE FROM session_events WHERE id = ANY(%s)", (gone,))
    kept = [e for i, e in enumerate(inserted) if i >= len(ids) or ids[i] not in gone]
    expected = model(kept, status=status, created=created, ended=end, last_access=3000.0)
    assert times_pg(reader)[0] == pytest.approx(expected, abs=1e-5)
    writer.execute(b"DELETE FROM sessions")
    assert spans_rows(writer) == []


def test_the_statistics_read_spans_and_events_through_indexes(pg) -> None:
    """EXPLAIN: attached_spans by its primary key, events by ix_session_events_attach."""
    from store.postgres.stats import activity_sql
    from store.postgres.stats import zone_offsets as offsets

    _reader, writer = pg
    store_pg(writer, [("attached", 10.0, "a")], status="ended", created=0.0, ended=60.0,
             last_access=60.0)  # fmt: skip
    writer.execute(b"SET enable_seqscan = off")  # a tiny table: judge the plan, not its cost
    moments, offs = offsets(0.0, 1e9)
    sql = "EXPLAIN " + activity_sql("sessions.id = %s", by="day")
    plan = "\n".join(
        row[0] for row in writer.execute(sql.encode(), [1e9, 0.0, 1e9, moments, offs, "s"])
    )
    assert "attached_spans_pkey" in plan
    assert "ix_session_events_attach" in plan
    assert "Seq Scan on session_events" not in plan
