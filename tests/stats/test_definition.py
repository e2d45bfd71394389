"""The one definition of attached time and lifetime (docs/stats.md), computed twice: in SQL for
many sessions (store.stats, `ccmgr-watch stats`) and step by step in Python from one session's
events (watcher.session_stats, `session show`). Fixed cases hold both to hand-worked numbers;
random event logs hold them to each other."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.migrations import migrate
from store.reads import events_of, find_session
from store.stats import session_times
from store.timefmt import format_ts
from watcher.session_stats import session_statistics

BASE = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
NOW = BASE + timedelta(hours=1)


def stamp(seconds: float) -> str:
    return format_ts(BASE + timedelta(seconds=seconds))


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = Path(tmp_path_factory.mktemp("definition")) / "data.db"
    migrate_sync(path)
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


def store(
    conn: sqlite3.Connection,
    events: list[tuple[str, Any, Any]],
    *,
    status: str = "ended",
    created: float = 0.0,
    ended: float | None = 3600.0,
    last_access: float = 3600.0,
) -> None:
    """One session 's' with ``events`` (kind, seconds after BASE or raw text, client), in the
    order given (ids ascending)."""
    conn.execute("DELETE FROM session_events")
    conn.execute("DELETE FROM sessions")
    conn.execute(
        "INSERT INTO sessions (id, name, created_at, updated_at, last_access, status, ended_at) "
        "VALUES ('s', 'n', ?, ?, ?, ?, ?)",
        (
            stamp(created),
            stamp(created),
            stamp(last_access),
            status,
            None if ended is None else stamp(ended),
        ),
    )
    for kind, at, client in events:
        data = json.dumps({"client": client}) if kind in ("attached", "detached") else "{}"
        conn.execute(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES ('s', ?, ?, ?)",
            (kind, at if isinstance(at, str) else stamp(at), data),
        )


def times(conn: sqlite3.Connection) -> tuple[float, float | None]:
    """Both computations' (attached, lifetime); they must agree."""
    in_sql = session_times(conn, "s", now=NOW.timestamp())
    stats = session_statistics(find_session(conn, "s"), events_of(conn, "s"), now=NOW)
    assert in_sql[0] == pytest.approx(stats.attached_seconds, abs=1e-5)
    assert in_sql[1] == stats.lifetime_seconds or in_sql[1] == pytest.approx(
        stats.lifetime_seconds, abs=1e-5
    )
    return in_sql


M = 60.0


@pytest.mark.parametrize(
    ("events", "status", "ended", "attached", "lifetime"),
    [
        ([], "ended", 3600.0, 0, 3600),
        ([], "detached", None, 0, 3600),  # alive: lifetime until now
        # Still attached now: the open attach lasts until now.
        ([("attached", 10 * M, "c1")], "attached", None, 50 * M, 3600),
        # Alive but detached, the detach never recorded: until its last change (60 min).
        ([("attached", 10 * M, "c1")], "detached", None, 50 * M, 3600),
        ([("attached", 10 * M, "c1"), ("detached", 20 * M, "c1")], "ended", 3600.0, 600, 3600),
        # Two clients overlapping count once: 10..30.
        (
            [
                ("attached", 10 * M, "a"),
                ("attached", 15 * M, "b"),
                ("detached", 20 * M, "a"),
                ("detached", 30 * M, "b"),
            ],
            "ended",
            3600.0,
            20 * M,
            3600,
        ),
        # Killed while attached: the attach ends with the session.
        ([("attached", 10 * M, "c1"), ("killed", 40 * M, None)], "ended", 40 * M, 30 * M, 40 * M),
        # A duplicate attach of the same client changes nothing; its detach ends it.
        (
            [("attached", 10 * M, "c"), ("attached", 20 * M, "c"), ("detached", 30 * M, "c")],
            "ended",
            3600.0,
            20 * M,
            3600,
        ),
        # A detach without a client (after a watcher gap) detaches everyone.
        (
            [("attached", 10 * M, "a"), ("attached", 15 * M, "b"), ("detached", 25 * M, None)],
            "ended",
            3600.0,
            15 * M,
            3600,
        ),
        # A detach of a client that never attached changes nothing.
        ([("attached", 10 * M, "a"), ("detached", 20 * M, "z")], "ended", 50 * M, 40 * M, 50 * M),
        # Out of order: the attach was written after its detach; time order decides.
        ([("detached", 30 * M, "a"), ("attached", 10 * M, "a")], "ended", 3600.0, 20 * M, 3600),
        # vanished ends attaches like killed; an unreadable timestamp leaves its event out.
        (
            [("attached", 5 * M, "a"), ("detached", "garbage", "a"), ("vanished", 25 * M, None)],
            "ended",
            25 * M,
            20 * M,
            25 * M,
        ),
        # An attach before the session was created counts from its creation.
        ([("attached", -10 * M, "a"), ("detached", 10 * M, "a")], "ended", 3600.0, 10 * M, 3600),
    ],
)
def test_fixed_cases(conn, events, status, ended, attached, lifetime) -> None:
    store(conn, events, status=status, ended=ended)
    assert times(conn) == (attached, lifetime)


def test_no_readable_created_at_has_no_lifetime(conn) -> None:
    store(conn, [("attached", 10 * M, "a"), ("detached", 20 * M, "a")])
    conn.execute("UPDATE sessions SET created_at = 'not a time'")
    assert times(conn) == (600, None)


def test_microseconds_are_kept(conn) -> None:
    store(conn, [("attached", 1.25, "a"), ("detached", 2.000001, "a")])
    assert times(conn) == (0.750001, 3600)


# --- random event logs against the documented rules ------------------------------------------


def model(
    events: list[tuple[str, Any, Any]],
    *,
    status: str,
    created: float,
    ended: float | None,
    last_access: float,
) -> float:
    """docs/stats.md's rules, step by step: a set of attached clients in (time, id) order."""
    now = (NOW - BASE).total_seconds()
    cap = (
        (ended if ended is not None else last_access)
        if status == "ended"
        else (now if status == "attached" else last_access)
    )
    ordered = sorted(
        (
            (at, i, kind, client)
            for i, (kind, at, client) in enumerate(events)
            if not isinstance(at, str)
        ),
        key=lambda e: (e[0], e[1]),
    )
    clients: set[Any] = set()
    since = 0.0
    total = 0.0

    def add(start: float, end: float) -> float:
        return max(0.0, min(end, cap) - max(start, created))

    for at, _, kind, client in ordered:
        before = bool(clients)
        if kind == "attached":
            clients.add("" if client is None else client)
        elif kind == "detached" and client not in (None, ""):
            clients.discard(client)
        elif kind in ("detached", "killed", "vanished"):
            clients.clear()
        if not before and clients:
            since = at
        elif before and not clients:
            total += add(since, at)
    if clients:
        total += add(since, cap)
    return total


_KINDS = st.sampled_from(
    ["attached", "attached", "detached", "detached", "killed", "vanished", "window_added"]
)
_CLIENTS = st.sampled_from(["a", "b", "c", "", None])
_EVENT = st.tuples(_KINDS, st.integers(-600, 4200).map(float), _CLIENTS)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(_EVENT, max_size=14),
    status=st.sampled_from(["attached", "detached", "ended"]),
    created=st.integers(-300, 600).map(float),
    ended=st.integers(0, 4000).map(float),
    last_access=st.integers(0, 4000).map(float),
)
def test_sql_follows_the_documented_rules(
    conn, events, status, created, ended, last_access
) -> None:
    end = ended if status == "ended" else None
    store(conn, events, status=status, created=created, ended=end, last_access=last_access)
    attached, lifetime = times(conn)
    expected = model(events, status=status, created=created, ended=end, last_access=last_access)
    assert attached == pytest.approx(expected, abs=1e-5)
    life_end = end if end is not None else (NOW - BASE).total_seconds()
    assert lifetime == pytest.approx(max(0.0, life_end - created), abs=1e-5)


# --- the stored spans (sql/006_attached_spans.sql) against the rules, in any insertion order ---


def spans_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT session_id, span_start, span_end, attaches, last_attach FROM attached_spans "
        "ORDER BY session_id, span_start"
    ).fetchall()


def derived(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the triggers keep (sql/006 and sql/007), to compare with a derivation anew."""
    return {
        "spans": spans_rows(conn),
        "totals": conn.execute("SELECT * FROM attached_totals ORDER BY session_id").fetchall(),
        "clients": conn.execute(
            "SELECT session_id, client, typeof(client) FROM attached_clients "
            "ORDER BY session_id, client"
        ).fetchall(),
        "days": conn.execute("SELECT * FROM attached_days ORDER BY session_id, day").fetchall(),
    }


def check_aggregates(conn: sqlite3.Connection) -> None:
    """attached_totals and attached_days say what the islands and the events say."""
    for sid, first, last, closed, attaches in conn.execute(
        "SELECT session_id, first_start, last_end, closed_micros, attaches FROM attached_totals"
    ).fetchall():
        spans = [r for r in spans_rows(conn) if r[0] == sid]
        assert first == (spans[0][1] if spans else None)
        assert last == (spans[-1][2] if spans else None)
        assert closed == sum(round(e * 1e6) - round(s * 1e6) for _, s, e, *_ in spans if e < 1e12)
        assert attaches == sum(r[3] for r in spans)
        in_days = conn.execute(
            "SELECT coalesce(sum(" + "+".join(f"s{k}" for k in range(24)) + "), 0), "
            "coalesce(sum(" + "+".join(f"a{k}" for k in range(24)) + "), 0) "
            "FROM attached_days WHERE session_id = ?",
            (sid,),
        ).fetchone()
        after_1970 = [(max(s, 0.0), e) for _, s, e, *_ in spans if e < 1e12 and e > 0]
        assert in_days[0] == sum(round(e * 1e6) - round(s * 1e6) for s, e in after_1970)
        assert in_days[1] <= attaches
    open_sessions = {r[0] for r in spans_rows(conn) if r[2] == 1e12}
    assert {r[0] for r in conn.execute("SELECT session_id FROM attached_clients")} == open_sessions


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(_EVENT, max_size=14),
    order=st.randoms(use_true_random=False),
    status=st.sampled_from(["attached", "detached", "ended"]),
    created=st.integers(-300, 600).map(float),
    dropped=st.sets(st.integers(0, 13), max_size=4),
)
def test_stored_spans_follow_the_rules_in_any_insertion_order(
    conn, events, order, status, created, dropped
) -> None:
    """The insert trigger's partial recomputation gives the same spans whatever order the
    events arrive in, the same as the full recomputation of the update trigger and of the
    migration's backfill; the delete trigger keeps them right; and attached time and attaches
    read from them follow the model."""
    shuffled = list(events)
    order.shuffle(shuffled)
    store(conn, shuffled, status=status, created=created, ended=3600.0, last_access=3000.0)
    incremental = spans_rows(conn)
    kept = derived(conn)
    check_aggregates(conn)
    end = 3600.0 if status == "ended" else None
    expected = model(shuffled, status=status, created=created, ended=end, last_access=3000.0)
    assert times(conn)[0] == pytest.approx(expected, abs=1e-5)
    readable = [e for e in shuffled if e[0] == "attached" and not isinstance(e[1], str)]
    assert sum(row[3] for row in incremental) == len(readable)
    # A full recomputation (what the update trigger does) finds the same rows.
    conn.execute("UPDATE session_events SET data = data")
    assert spans_rows(conn) == incremental
    assert derived(conn) == kept
    # As do the migrations' backfills (007 down to 006 and up again; 006 down and up again).
    migrate(conn, 6)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'attached_totals'").fetchall()
    migrate(conn)
    assert derived(conn) == kept
    migrate(conn, 5)
    migrate(conn)
    assert derived(conn) == kept
    # Deleting events recomputes the session's spans from what is left.
    ids = [row[0] for row in conn.execute("SELECT id FROM session_events ORDER BY id")]
    gone = [ids[i] for i in sorted(dropped) if i < len(ids)]
    conn.executemany("DELETE FROM session_events WHERE id = ?", [(i,) for i in gone])
    left = [e for i, e in enumerate(shuffled) if i >= len(ids) or ids[i] not in gone]
    expected = model(left, status=status, created=created, ended=end, last_access=3000.0)
    assert times(conn)[0] == pytest.approx(expected, abs=1e-5)
    check_aggregates(conn)
    after_delete = derived(conn)
    migrate(conn, 6)
    migrate(conn)
    assert derived(conn) == after_delete
    # And deleting the session leaves no spans behind.
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM sessions")
    assert spans_rows(conn) == []
    assert conn.execute("SELECT count(*) FROM session_events").fetchone() == (0,)
    assert derived(conn) == {"spans": [], "totals": [], "clients": [], "days": []}
