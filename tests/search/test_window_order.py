"""Time windows by creation and by day (migration 013): window_created and window_scored_by_day.

6,000 sessions recorded in time order (rowid n created at minute n and last used up to three
hours later), "auth" in half of them: a window in the past is a stretch of old rowids, as in a
real history. Checked: SQLite's plan for each (EXPLAIN QUERY PLAN), the planner's choice from
its reads as they are at 1 M sessions, the rows (the default plan's) when sessions were last
used before they were created (the partial index's), the day bounds against the window's
entries on any text, and a database without the indexes (not yet migrated to 013). That
every plan returns the default plan's rows on rows in no time order is test_property.py's.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.migrations import load_migrations
from store.query import alive, compile_query, parse_query, windows
from store.query.windows import (
    DAY_INDEX,
    EARLY_INDEX,
    WINDOW_ESTIMATE_SQL,
    _bounds,
    day_bounds_sql,
    window_days,
)
from store.search import (
    WIDE_FILTER_CAP,
    choose_plan,
    early_sync,
    plan_sync,
    rows_sync,
    run_plan_sync,
    search_sync,
    with_statistics_sync,
)

from .conftest import make_session, migrated_database
from .conftest import minute_stamp as _stamp
from .conftest import until_minute as _until

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZE = 6000
(WINDOWS_VERSION,) = [m.version for m in load_migrations() if m.name == "search_time_windows"]
# The planner's reads at 1 M sessions for `auth until:2025-02-11` (~10 %): the newest 256
# matches span 512 rowids, the window's count reached its cap, none of the newest matches
# pass it; its estimate: 106,000 sessions ending 894,000 rowids below the newest, over 78 days.
HALF = (256, 1_000_000 - 511, 1_000_000)
WINDOW = (106_000, 894_000, 78)


def _sessions() -> list[dict[str, object]]:
    rows = []
    for n in range(SIZE):
        word = "auth" if n % 2 else "other"
        rows.append(
            make_session(
                n,
                name=f"p{n % 7}-{word}-{n}",
                created_at=_stamp(n),
                updated_at=_stamp(n),
                last_access=_stamp(n + (n * 37) % 180),
            )
        )
    return rows


def _database(path: Path, version: int | None = None) -> sqlite3.Connection:
    return migrated_database(path, _sessions(), version)


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    conn = _database(tmp_path_factory.mktemp("window-order") / "data.db")
    yield conn
    conn.close()


def _lines(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def _ids(rows: list[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in rows]


def test_by_created_a_past_window_is_walked_down_from_its_end(timed: sqlite3.Connection) -> None:
    """window_created: `auth until:2025-02-11 --sort created` at 1 M read every match in the
    window's rowid range and sorted them (53,000, 132 ms); the created order walked down from
    the window's end meets the page within ~200 sessions. SQLite reads the created-at index
    alone (twice: the range, then the rowids), the partial index for the sessions last used
    before they were created, the matches within the range as a set (no lookup a row), and a
    row only for a rowid that matched."""
    text = f"auth {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW), sort="created")
    plan = choose_plan(query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW)
    assert plan.name == "window_created"
    assert plan.params[plan.walk_budget or 0] < 1000  # ~332 rows for a page of 20
    lines = _lines(timed, plan.sql, plan.params)
    assert lines[0] == "SEARCH sessions USING INTEGER PRIMARY KEY (rowid=?)", lines
    walks = "SEARCH sessions USING COVERING INDEX ix_sessions_created_at (created_at<?)"
    assert lines.count(walks) == 2, lines
    assert f"SEARCH sessions USING INDEX {EARLY_INDEX} (last_access<?)" in lines, lines
    fts = [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]
    assert fts and all(":=" not in line and "><" in line for line in fts), lines
    expected = timed.execute(query.sql, query.params).fetchall()
    assert run_plan_sync(timed, plan) == expected
    assert plan_sync(timed, query).name == "window_created"
    assert rows_sync(timed, query) == expected
    # Sessions last used before they were created in the window are each read, and the range
    # of matches may then span every rowid: costed so (a shorter retry before the default).
    crowded = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, window=WINDOW, early=2_000
    )
    assert crowded.name == "window_created" and crowded.retry < plan.retry


def test_a_ranked_past_window_reads_its_rowid_range_by_day(timed: sqlite3.Connection) -> None:
    """window_scored_by_day: the window's highest rowid, which bounds the stream of its
    matches, was the maximum over every entry of the window in the last-access index (95,000
    for `auth until:2025-02-11` at 1 M: ~9 ms); the day index gives each whole day's highest
    rowid by one seek at the end of its run, and each day by one seek; only the end's day is
    read entry by entry. Unknown days (a window counted, not estimated): window_scored."""
    text = f"auth {_until(2999)}"
    query = compile_query(parse_query(text, now=NOW))
    plan = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), window=WINDOW
    )
    assert plan.name == "window_scored_by_day"
    lines = _lines(timed, plan.sql, plan.params)
    day = f"SEARCH sessions USING INDEX {DAY_INDEX} "
    assert lines.count(day + "(<expr><?)") == 2, lines  # the last day, then each one below
    assert day + "(<expr>=?)" in lines, lines  # a day's highest rowid: its run's end
    assert any("COVERING INDEX ix_sessions_last_access" in line for line in lines), lines
    (fts,) = [line for line in lines if "sessions_fts VIRTUAL TABLE" in line]
    assert ":=" not in fts and "><" in fts, lines  # a rowid range, no lookup a row
    assert not any("TEMP B-TREE" in line for line in lines), lines
    forced = with_statistics_sync(timed, query, plan)
    assert run_plan_sync(timed, forced) == timed.execute(query.sql, query.params).fetchall()
    unknown = choose_plan(
        query, HALF, WIDE_FILTER_CAP, cap=WIDE_FILTER_CAP, passing=(0, 256), window=WINDOW[:2]
    )
    assert unknown.name == "window_scored"


def test_the_day_bounds_read_the_alive_sessions_from_their_own_index() -> None:
    """The day index holds ended sessions only (the watcher moves an alive one's last access
    on every event); the alive ones are read from migration 011's index, the same one."""
    assert windows.ALIVE_INDEX == alive.ALIVE_INDEX
    by_day = day_bounds_sql((None, "2026-11-03T00:00:00.000000Z"))
    assert by_day is not None and f"INDEXED BY {alive.ALIVE_INDEX} " in by_day[0]


def test_the_days_of_a_window_come_from_its_ends_or_the_history(timed: sqlite3.Connection) -> None:
    row = timed.execute(WINDOW_ESTIMATE_SQL, (_stamp(2999), None)).fetchone()
    assert window_days(row, (None, _stamp(2999))) == 3  # 1 to 3 November
    row = timed.execute(WINDOW_ESTIMATE_SQL, (None, _stamp(3000))).fetchone()
    assert window_days(row, (_stamp(3000), None)) == 3  # 3 to 5 November (the last access)
    assert window_days(row, ("2026-11-02", "2026-11-0x")) is None  # not a date
    assert window_days(None, (None, _stamp(1))) is None


@pytest.mark.parametrize("sort", ["relevance", "created"])
@pytest.mark.parametrize(
    "window",
    [
        _until(299),
        _until(2999),
        f"since:{_stamp(2000)[:16]} {_until(2599)}",
        f"since:{_stamp(1000)[:10]} until:{_stamp(1000)[:10]}",  # one day: both ends'
        f"since:2026-11-04 {_until(10)}",  # empty
    ],
)
@pytest.mark.parametrize("early", [(), (5, 2500, 2600), (40, 4000, 5990), (60, 10, 250)])
def test_sessions_last_used_before_they_were_created_are_not_lost(
    tmp_path: Path, sort: str, window: str, early: tuple[int, ...]
) -> None:
    """A session last used before it was created (imported rows, another host's clock) can be
    in a window and have been created after its end, where the walk down the created order
    does not go: the partial index holds exactly those, and window_created reads them."""
    conn = _database(tmp_path / "data.db")
    if early:
        count, first, last = early
        moved = [
            (_stamp(last + n), _stamp(first + n), f"s{n * 97 % SIZE:04d}") for n in range(count)
        ]
        conn.executemany("UPDATE sessions SET created_at = ?, last_access = ? WHERE id = ?", moved)
    held = f"SELECT id FROM sessions INDEXED BY {EARLY_INDEX} WHERE created_at > last_access"
    every = "SELECT id FROM sessions NOT INDEXED WHERE created_at > last_access"
    assert sorted(conn.execute(held)) == sorted(conn.execute(every))
    assert len(conn.execute(held).fetchall()) == (early[0] if early else 0)
    # With words, and filters alone (window_created of the window alone, or beside a status).
    texts = (f"auth {window}", window, f"-status:attached {window}")
    for text, (limit, offset) in itertools.product(texts, ((20, 0), (5, 3), (200, 0))):
        query = compile_query(
            parse_query(text, now=NOW),
            sort=sort,  # type: ignore[arg-type]
            limit=limit,
            offset=offset,
        )
        expected = _ids(conn.execute(query.sql, query.params).fetchall())
        assert _ids(rows_sync(conn, query)) == expected
        for name in ("window_created", "window_scored_by_day"):
            if any(plan.name == name for plan in query.plans):
                plan = with_statistics_sync(conn, query, query.plan(name))
                got = _ids(run_plan_sync(conn, plan.with_budget(10**9)))
                assert got == expected, (name, limit, offset)
                for budget in (1, 30, 300):
                    short = _ids(run_plan_sync(conn, plan.with_budget(budget)))
                    if len(short) == limit and plan.walk_budget is not None:
                        assert short == expected, (name, budget)
        if text == texts[0] and any(plan.name == "window_created" for plan in query.plans):
            # What the planner counts: the window's sessions last used before created.
            alone = compile_query(parse_query(window, now=NOW), limit=None)
            inside = {row[0] for row in conn.execute(alone.sql, alone.params)}
            end = query.facts.window[1] if query.facts and query.facts.window else None
            late = f"{every} AND created_at > ?"
            beyond = {r[0] for r in conn.execute(late, (end,))} if end else set()
            assert early_sync(conn, query) == len(inside & beyond)
    conn.close()


_TEXTS = st.sampled_from(
    [
        "2026-11-02T10:00:00.000000Z",
        "2026-11-02T23:59:59.999999Z",
        "2026-11-03T00:00:00.000000Z",
        "2026-11-03T12:00:00.000000Z",
        "2026-11-03",
        "2026-11-0",
        "2026-11-03 12:00",
        "2026-11-03t12",
        "2026-11-04T00:00:00Z",
        "2026-11-05T08:00:00.000000Z",
        "2026",
        "",
        "x",
        "2026-11-03Té",
        "２０２６",
        "9999-12-31T23:59:59Z",
        "2026-11-03\x00",
        "2026-11\x00-05",
        "\x00",
    ]
)
_ENDS = st.sampled_from(
    [
        None,
        "2026-11-02T00:00:00.000000Z",
        "2026-11-02T23:59:59.999999Z",
        "2026-11-03T00:00:00.000000Z",
        "2026-11-03T12:00:00.000000Z",
        "2026-11-03T23:59:59.999999Z",
        "2026-11-05T00:00:00.000000Z",
        "2026",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stamps=st.lists(st.one_of(_TEXTS, st.integers(0, 9), st.binary(max_size=12)), max_size=40),
    since=_ENDS,
    until=_ENDS,
)
def test_the_day_bounds_are_the_windows_entries_bounds_on_any_text(
    tmp_path_factory: pytest.TempPathFactory,
    stamps: list[object],
    since: str | None,
    until: str | None,
) -> None:
    """Whatever a last_access holds (a date of another format, a short text, a number, a
    blob: SQLite compares them all), the lowest and highest rowid of a window read by day
    are those read from every entry of the window, or the window's ends are no timestamps
    and the plan is not offered. A text with a NUL (substr() stops there) may widen them,
    never narrow them: no session of the window is left out."""
    if since is None and until is None:
        return
    path = tmp_path_factory.mktemp("days") / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    # Ended (the day index's), but every fifth alive (the alive sessions' index).
    conn.executemany(
        "INSERT INTO sessions (id, name, created_at, updated_at, last_access, status) "
        "VALUES (?, 'x', '', '', ?, ?)",
        [(f"s{n}", stamp, "detached" if n % 5 == 4 else "ended") for n, stamp in enumerate(stamps)],
    )
    window = (since, until)
    by_day = day_bounds_sql(window)
    if by_day is None:
        assert any(end is not None and len(end) < 10 for end in window)
        return
    times = " AND ".join(
        t
        for t, end in (
            ("sessions.last_access >= ?", since),
            ("sessions.last_access <= ?", until),
        )
        if end is not None
    )
    params = [end for end in window if end is not None]
    sql = "SELECT lo, hi FROM bounds"
    ((lo, hi),) = conn.execute(_bounds(times, window) + sql, params).fetchall()
    ((day_lo, day_hi),) = conn.execute(by_day[0] + sql, by_day[1]).fetchall()
    if not any(isinstance(stamp, str) and "\x00" in stamp for stamp in stamps):
        assert (day_lo, day_hi) == (lo, hi)
    assert lo is None or (day_lo is not None and day_lo <= lo)
    assert hi is None or (day_hi is not None and day_hi >= hi)
    conn.close()


def _choices(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """The planner's choice for window shapes, each checked against the default plan's rows."""
    chosen: dict[tuple[str, str], str] = {}
    for text in (f"auth {_until(4999)}", f"auth since:2026-11-02 {_until(3999)}"):
        for sort in ("relevance", "recent", "created", "name"):
            query = compile_query(parse_query(text, now=NOW), sort=sort)
            expected = _ids(conn.execute(query.sql, query.params).fetchall())
            assert [hit.id for hit in search_sync(conn, query)] == expected, (text, sort)
            chosen[text, sort] = plan_sync(conn, query).name
    return chosen


def test_a_database_without_the_window_indexes_keeps_the_other_plans(tmp_path: Path) -> None:
    """Not yet migrated to 013 (the CLI reads databases as they are): window_created and
    window_scored_by_day are left out before the planner chooses; then up, down and up."""
    path = tmp_path / "data.db"
    conn = _database(path, WINDOWS_VERSION - 1)
    new = {"window_created", "window_scored_by_day"}
    without = _choices(conn)
    assert not new & set(without.values()), without
    migrate_sync(path, WINDOWS_VERSION)
    assert "window_created" in _choices(conn).values()
    index = "SELECT count(*) FROM sqlite_master WHERE name IN (?, ?)"
    assert conn.execute(index, (DAY_INDEX, EARLY_INDEX)).fetchone() == (2,)
    migrate_sync(path, WINDOWS_VERSION - 1)
    assert conn.execute(index, (DAY_INDEX, EARLY_INDEX)).fetchone() == (0,)
    assert _choices(conn) == without
    migrate_sync(path)
    assert "window_created" in _choices(conn).values()
    conn.close()
