"""Property: for random sessions and random queries from the grammar, the compiled SQL on a real
SQLite file returns exactly the sessions the reference evaluator accepts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.errors import QueryError
from store.name_order import rebuild
from store.query import CompiledQuery, Plan, compile_query, parse_query
from store.search import rows_sync, run_plan_sync, with_statistics_sync

from .conftest import insert_sessions
from .reference import matches

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TZ = ZoneInfo("UTC")

PROJECTS = ["myapp", "MyApp", "my-app", "api", "web_ui", "café", "Über", "", None]
WORKTREES = ["main", "feat-auth", "feat_auth", "fix/Login", "wt1", None]
BRANCHES = ["main", "feat/auth", "feature/authentication", "fix-123", "中文", None]
HOSTS = ["laptop", "Laptop", "desk-1", "box.example.org", "", None]
DIRS = ["/a/b", "/a/bc", "/a/b/c", "/home/u/code/myapp", "/home/u/code/myapp2", "/", None]
STAMPS = [f"2026-11-{d:02d}T{h:02d}:30:00.000000Z" for d in (19, 20, 21, 25, 26) for h in (0, 11)]
WORDS = ["my", "myapp", "app", "feat", "auth", "AUTH", "au", "main", "fix", "123", "cafe"]
WORDS += ["über", "uber", "中文", "web", "ui", "a", "b", "code", "home", "x", "feat_auth", "&"]


@st.composite
def sessions(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=0, max_value=12))
    rows = []
    for n in range(count):
        project = draw(st.sampled_from(PROJECTS))
        worktree = draw(st.sampled_from(WORKTREES))
        branch = draw(st.sampled_from(BRANCHES))
        name = draw(
            st.sampled_from(
                [
                    f"ccmgr-{project}-{worktree}-{branch}",
                    f"{project or 'misc'} {n}",
                    "Auth Service",
                    "x",
                ]
            )
        )
        stamp = draw(st.sampled_from(STAMPS))
        rows.append(
            {
                "id": f"id{n}",
                "name": name,
                "project": project,
                "worktree": worktree,
                "branch": branch,
                "directory": draw(st.sampled_from(DIRS)),
                "created_at": stamp,
                "updated_at": stamp,
                "last_access": draw(st.sampled_from(STAMPS)),
                "status": draw(st.sampled_from(["attached", "detached", "ended"])),
                "host": draw(st.sampled_from(HOSTS)),
            }
        )
    return rows


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(text: str) -> str:
    """A qualifier value, quoted when it has to be."""
    if text == "" or any(c.isspace() or c in '()"' for c in text):
        return _quote(text)
    return text


@st.composite
def field_pattern(draw: st.DrawFn, pool: list[str | None]) -> str:
    value = draw(st.sampled_from([v for v in pool if v is not None]))
    how = draw(st.sampled_from(["same", "upper", "lower", "prefix", "suffix", "mid"]))
    if how == "upper":
        return value.upper()
    if how == "lower":
        return value.lower()
    if how == "prefix":
        return value[: draw(st.integers(0, len(value)))] + "*"
    if how == "suffix":
        return "*" + value[draw(st.integers(0, len(value))) :]
    if how == "mid" and len(value) > 2:
        return value[:1] + "*" + value[-1:]
    return value


def leaves() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(WORDS),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda w: _quote(" ".join(w))),
        field_pattern(PROJECTS).map(lambda v: "project:" + _value(v)),
        field_pattern(WORKTREES).map(lambda v: "worktree:" + _value(v)),
        field_pattern(BRANCHES).map(lambda v: "branch:" + _value(v)),
        field_pattern(HOSTS).map(lambda v: "host:" + _value(v)),
        st.sampled_from(["name:x", "name:ccmgr-*", "name:*auth*", 'name:"auth service"']),
        st.sampled_from(["/a/b", "/a", "/", "/a/b/", "/home/u/code/myapp", "/a/bc"]).map(
            lambda d: "dir:" + d
        ),
        st.sampled_from(["active", "attached", "detached", "ended", "ENDED"]).map(
            lambda s: "status:" + s
        ),
        st.sampled_from(["2026-11-20", "2026-11-21T11:30", "yesterday", "today", "3d", "1w"]).map(
            lambda w: "since:" + w
        ),
        st.sampled_from(["2026-11-20", "2026-11-21T11:30:00Z", '"2 days ago"', "12h"]).map(
            lambda w: "until:" + w
        ),
    )


def queries() -> st.SearchStrategy[str]:
    return st.recursive(
        leaves(),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} AND {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} OR {p[1]}"),
            inner.map(lambda q: f"NOT {q}"),
            inner.map(lambda q: f"-({q})"),
            inner.map(lambda q: f"({q})"),
        ),
        max_leaves=8,
    ) | st.just("")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("property") / "data.db"
    migrate_sync(path)
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=sessions(), texts=st.lists(queries(), min_size=1, max_size=4))
def test_compiled_sql_agrees_with_reference(
    shared_db: sqlite3.Connection, rows: list[dict[str, Any]], texts: list[str]
) -> None:
    shared_db.execute("DELETE FROM sessions")
    insert_sessions(shared_db, rows)
    for text in texts:
        tree = parse_query(text, now=NOW, tz=TZ)
        expected = {r["id"] for r in rows if matches(tree, r)}
        for sort in ("relevance", "recent", "name"):
            compiled = compile_query(tree, sort=sort, limit=None)
            got = [row[0] for row in shared_db.execute(compiled.sql, compiled.params)]
            assert len(got) == len(set(got)), (text, sort)
            assert set(got) == expected, (text, sort, compiled.sql, compiled.params)
            assert_every_plan_agrees(shared_db, compiled)


def assert_every_plan_agrees(conn: sqlite3.Connection, compiled: CompiledQuery) -> None:
    """Every plan the planner can choose, forced in turn, returns exactly the rows, in order,
    of the default plan; so does the plan it chooses (with its fallback)."""
    main = conn.execute(compiled.sql, compiled.params).fetchall()
    for plan in compiled.plans:
        if plan.name_walk is not None:
            # name_snapshot: as the snapshot stands (sessions written since its build, or
            # rowids reused since, all in its delta), then rebuilt (an empty delta).
            assert run_plan_sync(conn, plan) == main, plan.name
            rebuild_snapshot(conn)
            assert run_plan_sync(conn, plan) == main, plan.name
            continue
        if plan.union is not None:
            # or_union: each branch planned and run as a query of its own, then merged (and,
            # ranked, the window of their union scored in Python: bm25's statistics read).
            forced = with_statistics_sync(conn, compiled, plan)
            assert run_plan_sync(conn, forced) == main, plan.name
            continue
        if plan.scoring is not None:
            # bm25 in Python: the same doubles as FTS5's, its IDFs exact below SAMPLE_SIZE
            # matches (every test's data).
            scored = with_statistics_sync(conn, compiled, plan)
            assert run_plan_sync(conn, scored) == main, plan.name
            continue
        if plan.walk_budget is None:
            assert conn.execute(plan.sql, plan.params).fetchall() == main, plan.name
            continue
        # A walk reads only the first rows of the order: long enough, it is the whole answer;
        # short, it is exact whenever it fills the page (else the planner falls back).
        assert conn.execute(*_sql(plan.with_budget(10**9))).fetchall() == main, plan.name
        for budget in (1, 2, 5):
            rows = conn.execute(*_sql(plan.with_budget(budget))).fetchall()
            if len(rows) == plan.params[-2]:
                assert rows == main, (plan.name, budget)
    assert rows_sync(conn, compiled) == main


def rebuild_snapshot(conn: sqlite3.Connection) -> None:
    """Rebuild the name-order snapshot (migration 009) from the sessions as they are."""
    conn.execute("BEGIN IMMEDIATE")
    rebuild(conn)
    conn.execute("COMMIT")


def _sql(plan: Plan) -> tuple[str, tuple[Any, ...]]:
    return plan.sql, plan.params


def assert_page_of_the_matches(
    conn: sqlite3.Connection,
    rows: list[dict[str, Any]],
    text: str,
    sort: str,
    limit: int,
    offset: int,
) -> None:
    """Store ``rows``; the query's whole result is the reference evaluator's matches, its page
    is the slice of that order, and every plan the planner can choose returns the page."""
    conn.execute("DELETE FROM sessions")
    insert_sessions(conn, rows)
    tree = parse_query(text, now=NOW, tz=TZ)
    whole = compile_query(tree, sort=sort, limit=None)  # type: ignore[arg-type]
    all_ids = [r[0] for r in conn.execute(whole.sql, whole.params)]
    assert set(all_ids) == {r["id"] for r in rows if matches(tree, r)}
    page = compile_query(tree, sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
    assert [r[0] for r in conn.execute(page.sql, page.params)] == all_ids[offset : offset + limit]
    assert_every_plan_agrees(conn, page)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=sessions(), text=queries(), limit=st.integers(1, 5), offset=st.integers(0, 5))
def test_pages_are_slices_of_the_full_order(
    shared_db: sqlite3.Connection, rows: list[dict[str, Any]], text: str, limit: int, offset: int
) -> None:
    shared_db.execute("DELETE FROM sessions")
    insert_sessions(shared_db, rows)
    tree = parse_query(text, now=NOW, tz=TZ)
    for sort in ("relevance", "recent", "created", "name"):
        whole = compile_query(tree, sort=sort, limit=None)
        page = compile_query(tree, sort=sort, limit=limit, offset=offset)
        all_ids = [r[0] for r in shared_db.execute(whole.sql, whole.params)]
        page_ids = [r[0] for r in shared_db.execute(page.sql, page.params)]
        assert page_ids == all_ids[offset : offset + limit]
        assert_every_plan_agrees(shared_db, page)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80) | st.text(alphabet='ab()"-*^:NOTADR \\', max_size=40))
def test_any_text_parses_or_raises_query_error_and_sql_never_fails(
    shared_db: sqlite3.Connection, text: str
) -> None:
    try:
        tree = parse_query(text, now=NOW, tz=TZ, home="/home/u", cwd="/tmp")
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message and exc.hint
        return
    for sort in ("relevance", "recent"):
        compiled = compile_query(tree, sort=sort)
        shared_db.execute(compiled.sql, compiled.params).fetchall()


def word_queries() -> st.SearchStrategy[str]:
    """Queries of words and phrases only: ranked by the cut-off path (no other filter)."""
    words = [w for w in WORDS if w != "&"]  # a word without tokens leaves nothing to rank
    word = st.sampled_from(words) | st.lists(st.sampled_from(words), min_size=1, max_size=2).map(
        lambda w: _quote(" ".join(w))
    )
    return st.recursive(
        word,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} OR {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} -{p[1]}"),
        ),
        max_leaves=4,
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=sessions(),
    copies=st.integers(1, 4),
    text=word_queries(),
    filtered=st.sampled_from(
        [
            "",
            " -status:ended",
            " since:2026-11-21",
            " project:my*",
            " project:myapp",
            " project:MYAPP since:2026-11-20 until:2026-11-25 -status:ended",
            " worktree:main branch:main",
            " branch:feat/auth (status:ended OR dir:/a)",
            # Time windows, the indexed filter (window_scored): rowids unrelated to time here.
            " until:2026-11-21",
            " since:2026-11-20 until:2026-11-25T11:30",
        ]
    ),
    limit=st.integers(1, 8),
    offset=st.integers(0, 8),
)
def test_ranked_pages_with_ties_are_slices_of_the_full_order(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    copies: int,
    text: str,
    filtered: str,
    limit: int,
    offset: int,
) -> None:
    # Copies of each row score the same, so the page's edge often falls inside a tie.
    many = [dict(r, id=f"{r['id']}c{i}") for r in rows for i in range(copies)]
    shared_db.execute("DELETE FROM sessions")
    insert_sessions(shared_db, many)
    tree = parse_query(text + filtered, now=NOW, tz=TZ)
    whole = compile_query(tree, limit=None)
    got = shared_db.execute(whole.sql, whole.params).fetchall()
    # Ranked, unless the words rule out what they ask for (`my -my`): then nothing matches.
    assert whole.ranked or (len(whole.plans) == 1 and not got)
    all_ids = [r[0] for r in got]
    assert set(all_ids) == {r["id"] for r in many if matches(tree, r)}
    # The documented order: score (higher first), then last access, then rowid (newest first).
    rowid = dict(shared_db.execute("SELECT id, rowid FROM sessions").fetchall())
    last = {r["id"]: r["last_access"] for r in many}
    expected = sorted(got, key=lambda r: rowid[r[0]], reverse=True)
    expected.sort(key=lambda r: last[r[0]], reverse=True)
    expected.sort(key=lambda r: r[-1], reverse=True)
    assert all_ids == [r[0] for r in expected]
    page = compile_query(tree, limit=limit, offset=offset)
    page_ids = [r[0] for r in shared_db.execute(page.sql, page.params)]
    assert page_ids == all_ids[offset : offset + limit]
    assert_every_plan_agrees(shared_db, whole)
    assert_every_plan_agrees(shared_db, page)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=sessions(),
    copies=st.integers(1, 3),
    text=word_queries(),
    filtered=st.sampled_from(
        [
            "",
            " -status:ended",
            " project:myapp",
            " status:active",
            " until:2026-11-21",
            # A window beside another filter (window_scored_by_day over the window's rowids).
            " until:2026-11-21 project:myapp",
            " since:2026-11-20 until:2026-11-25T11:30 status:ended",
            # Words ORed with filters, a word in every branch: ranked within the window too.
            " OR (main status:active)",
            " OR (auth -app project:myapp)",
            " OR status:ended",  # a branch without a word
        ]
    ),
    window=st.integers(1, 6),
    limit=st.integers(1, 8),
    offset=st.integers(0, 8),
)
def test_relevance_ranks_the_newest_matches_within_its_window(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    copies: int,
    text: str,
    filtered: str,
    window: int,
    limit: int,
    offset: int,
) -> None:
    # The documented bound: the `window` most recently recorded matches (highest rowid) by
    # bm25, ties most recent first; then the older matches, most recent first.
    many = [dict(r, id=f"{r['id']}c{i}") for r in rows for i in range(copies)]
    shared_db.execute("DELETE FROM sessions")
    insert_sessions(shared_db, many)
    tree = parse_query(text + filtered, now=NOW, tz=TZ)
    exact = compile_query(tree, limit=None, window=10**9)
    if not exact.ranked:
        # The words fold away (`(my -my) OR status:ended`: no session holds `my` and not
        # `my`), so the query is its filters, listed as relevance lists them without words:
        # by recent.
        recent = compile_query(tree, sort="recent", limit=None)
        by_recent = [r[0] for r in shared_db.execute(recent.sql, recent.params)]
        assert set(by_recent) == {r["id"] for r in many if matches(tree, r)}
        page = compile_query(tree, limit=limit, offset=offset, window=window)
        got = [r[0] for r in shared_db.execute(page.sql, page.params)]
        assert got == by_recent[offset : offset + limit]
        assert_every_plan_agrees(shared_db, page)
        return
    score = {r[0]: r[-1] for r in shared_db.execute(exact.sql, exact.params)}
    assert set(score) == {r["id"] for r in many if matches(tree, r)}
    rowid = dict(shared_db.execute("SELECT id, rowid FROM sessions").fetchall())
    last = {r["id"]: r["last_access"] for r in many}
    whole = compile_query(tree, limit=None, window=window)
    # Words OR a filter where a branch has no word (``a OR status:ended``) too, since the
    # seventh round (before, they ranked every match).
    newest = set(sorted(score, key=lambda i: rowid[i], reverse=True)[:window])

    def key(i: str) -> tuple[Any, ...]:
        inside = i in newest
        return (not inside, -score[i] if inside else 0.0, _desc(last[i]), -rowid[i])

    expected = sorted(score, key=key)
    assert [r[0] for r in shared_db.execute(whole.sql, whole.params)] == expected
    page = compile_query(tree, limit=limit, offset=offset, window=window)
    got = [r[0] for r in shared_db.execute(page.sql, page.params)]
    assert got == expected[offset : offset + limit]
    assert_every_plan_agrees(shared_db, whole)
    assert_every_plan_agrees(shared_db, page)


def _desc(text: str) -> tuple[int, ...]:
    """A key that sorts ``text`` descending."""
    return (*(-ord(c) for c in text), 1)


@st.composite
def dense_sessions(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Sessions most of which hold the same few words and filter values (so that words and
    an exact filter together keep several rows, and pages fill)."""
    rows = []
    for n in range(draw(st.integers(min_value=6, max_value=30))):
        stamp = draw(st.sampled_from(STAMPS))
        rows.append(
            {
                "id": f"id{n:02d}",
                "name": draw(
                    st.sampled_from(
                        ["ccmgr-myapp-main-auth", "auth login", "Auth app", "main", "x", "a b"]
                    )
                ),
                "project": draw(st.sampled_from(["myapp", "MyApp", "api", None])),
                "worktree": draw(st.sampled_from(["main", "auth", None])),
                "branch": draw(st.sampled_from(["main", "feat/auth", None])),
                "directory": draw(st.sampled_from(["/a/b", "/home/u/code/myapp", None])),
                "created_at": stamp,
                "updated_at": stamp,
                "last_access": draw(st.sampled_from(STAMPS)),
                "status": draw(st.sampled_from(["attached", "detached", "ended"])),
                "host": None,
            }
        )
    return rows


def dense_words() -> st.SearchStrategy[str]:
    """Words most rows of :func:`dense_sessions` hold, alone, ANDed, ORed or negated."""
    word = st.sampled_from(["auth", "main", "a", "app", "my", "login", "b"])
    return st.recursive(
        word | word.map(lambda w: f'"{w} app"'),
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} OR {p[1]}"),
            st.tuples(inner, inner).map(lambda p: f"{p[0]} -{p[1]}"),
        ),
        max_leaves=3,
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    text=dense_words() | st.just(""),
    filtered=st.sampled_from(
        [
            " project:myapp",
            " status:active",
            " status:ended",
            " branch:main since:2026-11-20",
            " worktree:main -status:ended",
            " project:MYAPP since:2026-11-20 until:2026-11-25 -status:ended",
            " status:detached dir:/a",
            # Time windows alone beside the words (window_range, window_walk, filter_tested by
            # recent); the rows' rowids are in no relation to their times.
            " until:2026-11-21",
            " since:2026-11-20 until:2026-11-25T11:30",
            " since:2026-11-25",
        ]
    ),
    sort=st.sampled_from(["recent", "created", "name"]),
    limit=st.integers(1, 8),
    offset=st.integers(0, 3),
)
def test_every_plan_of_words_and_an_indexed_filter_agrees(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    text: str,
    filtered: str,
    sort: str,
    limit: int,
    offset: int,
) -> None:
    """The shapes the filter plans are for (filter_first, filter_walk, filter_tested, the
    window plans, and a filter alone): a random tree rarely has words beside an exact filter
    at its top, nor random rows many matches of both."""
    assert_page_of_the_matches(shared_db, rows, text + filtered, sort, limit, offset)


def _used_after_created(rows: list[dict[str, Any]]) -> None:
    """Each row last used at or after its creation, as the watcher records them (the earlier
    of its two times is its creation)."""
    for row in rows:
        row["created_at"], row["last_access"] = sorted((row["created_at"], row["last_access"]))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    text=dense_words(),
    window=st.sampled_from(
        [
            " until:2026-11-20",
            " until:2026-11-21T11:30",
            " since:2026-11-20 until:2026-11-25T11:30",
            " since:2026-11-21",
            " since:2026-11-25 until:2026-11-26",
        ]
    ),
    sort=st.sampled_from(["relevance", "recent", "created", "name"]),
    limit=st.integers(1, 8),
    offset=st.integers(0, 3),
    used_after_created=st.booleans(),
)
def test_every_plan_of_words_in_a_time_window_agrees(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    text: str,
    window: str,
    sort: str,
    limit: int,
    offset: int,
    used_after_created: bool,
) -> None:
    """The window plans (window_scored, window_scored_by_day, window_range, window_walk,
    window_created, filter_tested by recent): words with a since:/until: window as the
    indexed filter, every sort, many matches; the rows' rowids are in no relation to their
    times, so the window's rowid range holds rows outside it, and its ends are any rows.
    Their last access is before their creation about half the time (window_created reads
    those from their own index), or (``used_after_created``) never, as the watcher records
    them: then the walk down the created order from the window's end finds every one."""
    if used_after_created:
        _used_after_created(rows)
    assert_page_of_the_matches(shared_db, rows, text + window, sort, limit, offset)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    text=dense_words(),
    window=st.sampled_from(
        [
            " until:2026-11-20",
            " until:2026-11-21T11:30",
            " since:2026-11-20 until:2026-11-25T11:30",
            " since:2026-11-21",
        ]
    ),
    beside=st.sampled_from(
        [
            " project:myapp",
            " branch:main",
            " worktree:auth",
            " status:ended",
            " status:detached",
            " dir:/a",
            " project:myapp branch:main",
            " project:myapp -status:ended",
            " status:ended name:ccmgr-*",
        ]
    ),
    sort=st.sampled_from(["relevance", "recent", "created", "name"]),
    limit=st.integers(1, 8),
    offset=st.integers(0, 3),
    used_after_created=st.booleans(),
)
def test_every_plan_of_words_in_a_window_beside_a_filter_agrees(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    text: str,
    window: str,
    beside: str,
    sort: str,
    limit: int,
    offset: int,
    used_after_created: bool,
) -> None:
    """The ninth round's plans: words with a since:/until: window beside another indexed
    filter (a field, a status, a folder), which the window plans test on each row
    (window_scored_by_day with the fields' column phrases in its MATCH, window_created,
    filter_tested and filter_set_walk by recent over the filter's index); the rows' rowids
    in no relation to their times, their last access before their creation about half the
    time, or (``used_after_created``) never."""
    if used_after_created:
        _used_after_created(rows)
    assert_page_of_the_matches(shared_db, rows, text + window + beside, sort, limit, offset)


def negated_dense_words() -> st.SearchStrategy[str]:
    """Words of :func:`dense_sessions` that the rows must not hold, one or several."""
    word = st.sampled_from(["auth", "main", "a", "app", "my", "login", "b", '"auth app"'])
    return st.one_of(
        word.map(lambda w: f"-{w}"),
        st.tuples(word, word).map(lambda p: f"-{p[0]} -{p[1]}"),
        st.tuples(word, word).map(lambda p: f"NOT ({p[0]} OR {p[1]})"),
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    text=negated_dense_words(),
    filtered=st.sampled_from(
        [
            "",
            " project:myapp",
            " project:myapp branch:main",
            " project:my*",
            " status:ended",
            " status:active",
            " -status:ended since:2026-11-20",
            " worktree:main -status:ended",
            " dir:/a",
        ]
    ),
    sort=st.sampled_from(["relevance", "recent", "created", "name"]),
    limit=st.integers(1, 8),
    offset=st.integers(0, 3),
)
def test_every_plan_of_negated_words_agrees(
    shared_db: sqlite3.Connection,
    rows: list[dict[str, Any]],
    text: str,
    filtered: str,
    sort: str,
    limit: int,
    offset: int,
) -> None:
    """Words all negated (the ninth round: name_except, name_snapshot's field phrases NOT the
    words, created_walk testing them in Python), alone or beside filters, every sort."""
    assert_page_of_the_matches(shared_db, rows, text + filtered, sort, limit, offset)
