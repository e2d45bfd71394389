"""order_range read by its edge (tenth round): the walk's rowid range and the key of its last
entry bound the matches read, and no walked row is read. Its rows must be exactly those of
the walk it stands for: the first ``budget`` rows of the sort order that match, paged.

3,000 sessions whose creation and last access come in runs of equal timestamps (100 and 125
sessions share one), so that the edge often falls inside a run and the rowid decides; the
last access runs in another order than the rowids (sessions used again later).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store.query import compile_query, parse_query
from store.query.compiler import ranges_by_edge, starts_at_window
from store.search import run_plan_sync

from .conftest import make_session, migrated_database

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SESSIONS = 3_000
KEY = {"recent": "last_access", "created": "created_at"}


def _stamp(n: int) -> str:
    return f"2026-11-{1 + n // 200:02d}T{n % 200 // 10:02d}:00:00.000000Z"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("edge") / "data.db"
    rows = []
    for n in range(SESSIONS):
        words = [w for w, k in (("alpha", 3), ("beta", 5), ("gamma", 301)) if n % k == 0]
        rows.append(
            make_session(
                n,
                id=f"s{n:05d}",
                name="-".join([*words, str(n)]),
                project=f"p{n % 4}",
                created_at=_stamp(n // 50 * 5),
                last_access=_stamp((n * 7919) % SESSIONS // 25 * 2),
                status="ended",
            )
        )
    conn = migrated_database(path, rows)
    yield conn
    conn.close()


def _expected(
    conn: sqlite3.Connection,
    text: str,
    sort: str,
    budget: int,
    page: tuple[int, int],
    end: str | None = None,
) -> list[str]:
    """The walk the plan stands for, in Python: the first ``budget`` rows of the sort order
    (from an until: window's ``end`` by recent), those that match, the page of them."""
    every = compile_query(parse_query(text, now=NOW), sort=sort, limit=None)  # type: ignore[arg-type]
    matching = {row[0] for row in conn.execute(every.sql, every.params)}
    key = KEY[sort]
    start, params = ("", ()) if end is None else ("WHERE last_access <= ? ", (end,))
    walk = conn.execute(
        f"SELECT id FROM sessions {start}ORDER BY {key} DESC, rowid DESC LIMIT ?",
        (*params, budget),
    )
    hits = [row[0] for row in walk if row[0] in matching]
    limit, offset = page
    return hits[offset : offset + limit]


@pytest.mark.parametrize("sort", ["recent", "created"])
@pytest.mark.parametrize(
    "text",
    [
        "alpha",
        "alpha beta",
        "alpha project:p1",
        "alpha -beta",
        "gamma",
        "beta OR gamma",
        "beta OR (gamma project:p1)",
        "-alpha",
    ],
)
@pytest.mark.parametrize(("limit", "offset"), [(20, 0), (7, 45)])
def test_the_edge_stands_for_the_walk_at_every_budget(
    db: sqlite3.Connection, text: str, sort: str, limit: int, offset: int
) -> None:
    query = compile_query(parse_query(text, now=NOW), sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
    plan = query.plan("order_range")
    if text in ("beta OR (gamma project:p1)", "-alpha"):
        # Where the words do not restrict the rows to one set of matches: the old form.
        assert not ranges_by_edge(plan.sql)
    else:
        assert ranges_by_edge(plan.sql)
    # Inside a run of equal keys, at its ends, inside a later one (the range then spans the
    # whole of it: only the rowid tells the walked rows of the run), past the table.
    for budget in (1, 24, 25, 26, 49, 50, 51, 124, 125, 126, 130, 200, 333, 2_999, 3_000, 5_000):
        got = [row[0] for row in run_plan_sync(db, plan.with_budget(budget))]
        assert got == _expected(db, text, sort, budget, (limit, offset)), budget


@pytest.mark.parametrize("budget", [1, 25, 26, 400, 3_000])
def test_a_walk_from_a_windows_end_reads_its_edge_from_there(
    db: sqlite3.Connection, budget: int
) -> None:
    text = "alpha until:2026-11-08"
    query = compile_query(parse_query(text, now=NOW), sort="recent")
    plan = query.plan("order_range")
    assert ranges_by_edge(plan.sql) and starts_at_window(plan.sql)
    end = plan.params[0]
    assert isinstance(end, str) and end.startswith("2026-11-0")
    got = [row[0] for row in run_plan_sync(db, plan.with_budget(budget))]
    assert got == _expected(db, text, "recent", budget, (20, 0), end)
    # The window's end is inside the data: past one row the walk meets its matches.
    assert got or budget == 1


def test_by_name_the_range_is_read_as_before(db: sqlite3.Connection) -> None:
    """The name order's key is not one column: its walk is materialized and read."""
    query = compile_query(parse_query("alpha", now=NOW), sort="name")
    assert not ranges_by_edge(query.plan("order_range").sql)
