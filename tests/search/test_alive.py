"""The alive sessions' own index (migration 011) and its plans, alive_scored and alive_tested.

3,000 sessions, "auth" in half of them and "cache" in a few; 60 alive (attached or detached),
the rest ended. Checked: SQLite reads those plans from the partial index alone (covering: no
table row, no full-text read), the planner chooses them where the benchmark's measurements say
they are cheapest, and a database without the index (not yet migrated to 011, or migrated
down) keeps the other plans with the same rows. That every plan returns the default plan's
rows is tests/search/test_property.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.db import migrate_sync
from store.migrations import load_migrations
from store.query import compile_query, parse_query
from store.query.alive import ALIVE_INDEX
from store.search import choose_plan, plan_sync, run_plan_sync, search_sync, with_statistics_sync

from .conftest import insert_sessions, make_session, migrated_database

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
(ALIVE_VERSION,) = [m.version for m in load_migrations() if m.name == "search_alive_texts"]
# The planner's reads as they are at 1 M sessions (the benchmark's): the newest 256 matches of
# a word in half of them span 512 rowids, of a word in 1 % of them 25,600; 2,041 alive.
HALF = (256, 1_000_000 - 511, 1_000_000)
ONE_PERCENT = (256, 1_000_000 - 25_599, 1_000_000)
ALIVE_AT_1M = 2_041


def _sessions() -> list[dict[str, object]]:
    rows = []
    for n in range(3000):
        word = "auth" if n % 2 else ("cache" if n % 97 == 0 else "other")
        status = "attached" if n % 50 == 5 else "detached" if n % 50 == 9 else "ended"
        stamp = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00.{n:06d}Z"
        rows.append(
            make_session(
                n,
                name=f"p{n % 7}-{word}-{n}",
                project=f"p{n % 7}",
                status=status,
                last_access=stamp,
                host="laptop" if n % 3 else "desk",
            )
        )
    return rows


def _database(path: Path, version: int | None = None) -> sqlite3.Connection:
    return migrated_database(path, _sessions(), version)


@pytest.fixture(scope="module")
def alive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    conn = _database(tmp_path_factory.mktemp("alive") / "data.db")
    yield conn
    conn.close()


def _lines(conn: sqlite3.Connection, text: str, sort: str, name: str) -> list[str]:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    plan = query.plan(name)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + plan.sql, plan.params)]


@pytest.mark.parametrize(
    ("text", "sort", "name"),
    [
        ("auth status:active", "relevance", "alive_scored"),
        ('"auth login" -status:ended', "relevance", "alive_scored"),
        ("auth status:attached host:lap* dir:/home", "relevance", "alive_scored"),
        ("cache status:active", "created", "alive_tested"),
        ("cache status:detached", "name", "alive_tested"),
        ("auth -other status:active since:2026-03-01", "created", "alive_tested"),
    ],
)
def test_the_alive_plans_read_the_partial_index_alone(
    alive: sqlite3.Connection, text: str, sort: str, name: str
) -> None:
    """One contiguous run of the partial index, covering (no row of the table, whose alive
    rows lie spread through it at ~4.5 µs each at 1 M sessions), no full-text read (the words
    are tested in Python), then SQLite sorts the few entries in the plan's order."""
    lines = _lines(alive, text, sort, name)
    # since: is a range of the index's first column, last_access.
    read = "SEARCH" if "since:" in text else "SCAN"
    covering = f"{read} sessions USING COVERING INDEX {ALIVE_INDEX}"
    assert lines == [
        covering + " (last_access>?)" * (read == "SEARCH"),
        "USE TEMP B-TREE FOR ORDER BY",
    ]


def test_by_recent_the_alive_index_gives_the_order(alive: sqlite3.Connection) -> None:
    """last_access is the index's first column: by recent the read is in order (only equal
    last accesses sorted by rowid) and stops at the page."""
    lines = _lines(alive, "auth status:active", "recent", "alive_tested")
    assert lines == [
        f"SCAN sessions USING COVERING INDEX {ALIVE_INDEX}",
        "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY",
    ], lines


@pytest.mark.parametrize(
    ("text", "sort", "sample", "expected"),
    [
        # A dense word: ~1,000 of the alive rows read to fill the window (filter_scored read
        # them from the table: 9-14 ms of CPU; from the index ~5).
        ("auth status:active", "relevance", HALF, "alive_scored"),
        ("auth -status:ended", "relevance", HALF, "alive_scored"),
        ('"auth login" status:active', "relevance", HALF, "alive_scored"),
        # A word in 1 %: the LIKE test hands Python ~20 of the 2,041 rows (2.2 ms of CPU;
        # its 10,000 matches as a set against the status index, filter_set: 2.6).
        ("cache status:active", "relevance", ONE_PERCENT, "alive_scored"),
        # Unranked: the alive rows in the sort's order, tested until the page is in.
        ("auth status:active", "recent", HALF, "alive_tested"),
        ("auth status:active", "created", HALF, "alive_tested"),
        ("cache status:active", "recent", ONE_PERCENT, "alive_tested"),
        ("cache status:active", "created", ONE_PERCENT, "alive_tested"),
        ("cache status:active", "name", ONE_PERCENT, "alive_tested"),
        # By name filter_tested may stop early, reading the (status, name) index in order,
        # but only if the matches come early in A-Z; the alive index's worst case (all of
        # it, ~2.5 ms) beats filter_tested's (every row from the table: `"auth login"
        # status:active`, 11 ms), so it is taken (as the snapshot is over the walks).
        ("auth status:active", "name", HALF, "alive_tested"),
        ('"auth login" status:active', "name", HALF, "alive_tested"),
    ],
)
def test_the_planner_chooses_the_alive_index_where_it_is_cheapest(
    text: str, sort: str, sample: tuple[int, int, int], expected: str
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    assert choose_plan(query, sample, ALIVE_AT_1M).name == expected


def test_a_status_that_keeps_ended_sessions_has_no_alive_plan() -> None:
    for text in ("auth status:ended", "auth -status:active", "auth (status:active OR x)"):
        for sort in ("relevance", "recent", "created", "name"):
            query = compile_query(parse_query(text, now=NOW), sort=sort)
            assert not {"alive_scored", "alive_tested"} & {p.name for p in query.plans}, text


def _choices(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """The planner's choice for alive shapes, each checked against the default plan's rows."""
    chosen: dict[tuple[str, str], str] = {}
    for text in ("auth status:active", "cache -status:ended", "auth status:attached"):
        for sort in ("relevance", "recent", "created", "name"):
            query = compile_query(parse_query(text, now=NOW), sort=sort)
            expected = [row[0] for row in conn.execute(query.sql, query.params)]
            assert [hit.id for hit in search_sync(conn, query)] == expected, (text, sort)
            chosen[text, sort] = plan_sync(conn, query).name
    return chosen


def test_a_database_without_the_alive_index_keeps_the_other_plans(tmp_path: Path) -> None:
    """Not yet migrated to 011 (the CLI reads databases as they are): the alive plans are
    left out before the planner chooses, not replaced by the default afterwards; then up,
    down and up again."""
    path = tmp_path / "data.db"
    conn = _database(path, ALIVE_VERSION - 1)
    without = _choices(conn)
    assert not {"alive_scored", "alive_tested"} & set(without.values()), without
    assert without["auth status:active", "relevance"] in ("filter_scored", "filter_set")
    migrate_sync(path, ALIVE_VERSION)
    assert "alive_tested" in _choices(conn).values()
    index = "SELECT count(*) FROM sqlite_master WHERE name = ?"
    assert conn.execute(index, (ALIVE_INDEX,)).fetchone() == (1,)
    migrate_sync(path, ALIVE_VERSION - 1)
    assert conn.execute(index, (ALIVE_INDEX,)).fetchone() == (0,)
    assert _choices(conn) == without
    migrate_sync(path)
    assert "alive_tested" in _choices(conn).values()
    conn.close()


def test_the_index_holds_exactly_the_alive_sessions(alive: sqlite3.Connection) -> None:
    """A session enters it alive, follows its updates, and leaves it when it ends."""
    count = f"SELECT count(*) FROM sessions INDEXED BY {ALIVE_INDEX} WHERE status <> 'ended'"
    (before,) = alive.execute(count).fetchone()
    assert before == 120
    alive.execute("BEGIN")
    insert_sessions(alive, [make_session(9000, name="auth-new", status="attached")])
    assert alive.execute(count).fetchone() == (before + 1,)
    alive.execute("UPDATE sessions SET last_access = ?, name = ? WHERE id = 's9000'", ("z", "x"))
    query = compile_query(parse_query("x status:attached", now=NOW), sort="recent")
    plan = with_statistics_sync(alive, query, query.plan("alive_tested"))
    assert [row[0] for row in run_plan_sync(alive, plan)][:1] == ["s9000"]
    alive.execute("UPDATE sessions SET status = 'ended' WHERE id = 's9000'")
    assert alive.execute(count).fetchone() == (before,)
    alive.execute("ROLLBACK")


@pytest.mark.parametrize("sort", ["relevance", "recent", "created", "name"])
@pytest.mark.parametrize(
    "text",
    [
        "cafe status:active",
        "CAFÉ status:active",
        "uber status:active",
        "über -status:ended",
        '"my app" status:active',
        "myapp -bar status:attached",
        "中文 status:active",
        "(cafe OR myapp) status:detached",
    ],
)
def test_the_words_test_in_sql_keeps_every_match(tmp_path: Path, text: str, sort: str) -> None:
    """The LIKE test before Python's (alive.py's _prefilter) must keep every row the index
    matches: texts whose case or accents the index folds beyond ASCII (`Café`, `ÜBER`),
    texts without a token, NULLs, a phrase across separators. Each plan forced in turn."""
    path = tmp_path / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    texts = ["Café", "CAFE-bar", "ÜBER", "über-cafe", "My_App", "my-app", "MyApp", "中文x", "&"]
    insert_sessions(
        conn,
        [
            make_session(
                n,
                name=texts[n % len(texts)],
                project=texts[(n * 5) % len(texts)] if n % 4 else None,
                branch=texts[(n * 7) % len(texts)] if n % 3 else "",
                directory=f"/home/{texts[(n * 2) % len(texts)]}",
                status=("attached", "detached", "ended")[n % 3],
            )
            for n in range(60)
        ],
    )
    query = compile_query(parse_query(text, now=NOW), sort=sort)  # type: ignore[arg-type]
    expected = conn.execute(query.sql, query.params).fetchall()
    assert expected, text
    for name in ("alive_scored", "alive_tested"):
        if any(plan.name == name for plan in query.plans):
            plan = with_statistics_sync(conn, query, query.plan(name))
            assert run_plan_sync(conn, plan) == expected, (name, text, sort)
    conn.close()
