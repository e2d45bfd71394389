"""The name-order snapshot (migrations 009, 012) and its plan, name_snapshot: exact whatever was
written since the build (inserted, renamed, re-texted, deleted sessions, rowids reused) and
whatever was folded in since (store.name_fold, relabels and used-up gaps included), equal names
at the page's edge included; migration up, down, up with data; db reindex."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import name_fold
from store.db import migrate_sync, reindex
from store.migrations import load_migrations
from store.name_order import rebuild, snapshot_facts
from store.query import compile_query, parse_query
from store.query.compiler import CompiledQuery
from store.search import plan_sync, run_plan_sync, search_sync

from .conftest import SESSION_FIELDS, insert_sessions, make_session
from .reference import matches
from .test_property import STAMPS, dense_sessions, dense_words, rebuild_snapshot

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NAMES = ["ccmgr-myapp-main-auth", "auth login", "Auth app", "AUTH APP", "main", "x", "a b", "zz"]
# NOCASE folds ASCII only: "Ärger" and "ärger" are two names, sorted by their bytes.
NAMES += ["Ärger app", "ärger app", "zürich", "Zurich", "main-1", "main-10", "main-2"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path: Path = tmp_path_factory.mktemp("snapshot") / "data.db"
    migrate_sync(path)
    connection = sqlite3.connect(path, isolation_level=None)
    yield connection
    connection.close()


def _rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT {', '.join(SESSION_FIELDS)} FROM sessions")
    return [dict(zip(SESSION_FIELDS, row, strict=True)) for row in cursor]


@st.composite
def changes(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Writes after a build: inserts, renames (another name, or the same in another case),
    other text changed under the same name, last access moved (the tie-break of equal names),
    deletes, the highest row replaced (its rowid reused), and sometimes a rebuild between."""
    ops: list[tuple[Any, ...]] = []
    for n in range(draw(st.integers(0, 16))):
        kind = draw(
            st.sampled_from(
                [
                    *("insert", "rename", "recase", "retext", "touch", "delete", "rebuild"),
                    *("reuse", "noop", "fold", "fold", "tight"),
                ]
            )
        )
        pick = draw(st.integers(0, 50))
        if kind == "fold":
            ops.append((kind, draw(st.integers(1, 6))))
        elif kind in ("insert", "reuse"):
            ops.append((kind, n, draw(st.sampled_from(NAMES)), draw(st.sampled_from(STAMPS))))
        elif kind == "rename":
            ops.append((kind, pick, draw(st.sampled_from(NAMES))))
        elif kind == "retext":
            project = draw(st.sampled_from(["myapp", "MyApp", "api", None]))
            ops.append((kind, pick, project, draw(st.sampled_from(["main", "feat/auth", None]))))
        elif kind == "touch":
            ops.append((kind, pick, draw(st.sampled_from(STAMPS))))
        else:
            ops.append((kind, pick))
    return ops


def fold(conn: sqlite3.Connection, limit: int = name_fold.FOLD_BATCH) -> name_fold.FoldResult:
    """One fold transaction, as the watcher runs it; a used-up gap rebuilds (as the watcher does
    up to REFRESH_MAX_SESSIONS)."""
    conn.execute("BEGIN IMMEDIATE")
    done = name_fold.fold(conn, limit=limit, budget=60.0)
    conn.execute("COMMIT")
    assert_clean(conn)
    if done.exhausted:
        rebuild_snapshot(conn)
    return done


def fold_all(conn: sqlite3.Connection) -> None:
    """Folds until the delta is empty (as the idle watcher does)."""
    while fold(conn).more:
        pass
    assert snapshot_facts(conn) == (0, 0)


def assert_clean(conn: sqlite3.Connection) -> None:
    """The snapshot's invariants: its clean rows' ranks are in name order (NOCASE, then rowid);
    every built session is in it or dirty, never both (INSERT OR REPLACE aside); none above the
    build's highest rowid is in it; its index holds exactly the rank table's rows."""
    ranked = [
        sid
        for (sid,) in conn.execute(
            "SELECT r.sid FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid "
            "ORDER BY r.rank"
        )
    ]
    by_name = [
        sid
        for (sid,) in conn.execute(
            "SELECT r.sid FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid "
            "ORDER BY s.name COLLATE NOCASE, s.rowid"
        )
    ]
    assert ranked == by_name
    (both,) = conn.execute(
        "SELECT count(*) FROM sessions_name_rank AS r JOIN sessions_name_dirty AS d "
        "ON d.sid = r.sid"
    ).fetchone()
    (neither,) = conn.execute(
        "SELECT count(*) FROM sessions AS s WHERE s.rowid <= "
        "(SELECT max_rowid FROM sessions_name_build) "
        "AND NOT EXISTS (SELECT 1 FROM sessions_name_rank AS r WHERE r.sid = s.rowid) "
        "AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = s.rowid)"
    ).fetchone()
    (above,) = conn.execute(
        "SELECT count(*) FROM sessions_name_rank "
        "WHERE sid > (SELECT max_rowid FROM sessions_name_build)"
    ).fetchone()
    assert (both, neither, above) == (0, 0, 0)
    ranks = {rank for (rank,) in conn.execute("SELECT rank FROM sessions_name_rank")}
    assert {rowid for (rowid,) in conn.execute("SELECT rowid FROM sessions_name_fts")} == ranks


def _apply(conn: sqlite3.Connection, ops: list[tuple[Any, ...]]) -> None:
    for op in ops:
        kind = op[0]
        if kind == "rebuild":
            rebuild_snapshot(conn)
            continue
        if kind == "tight":
            # Ranks 2 apart: the next folds use gaps up, relabel, and rebuild when none is left.
            conn.execute("BEGIN IMMEDIATE")
            rebuild(conn, spacing=2)
            conn.execute("COMMIT")
            continue
        if kind == "fold":
            fold(conn, op[1])
            continue
        if kind == "reuse":
            # The highest row deleted: SQLite gives its rowid to the next insert.
            conn.execute("DELETE FROM sessions WHERE rowid = (SELECT max(rowid) FROM sessions)")
        if kind in ("insert", "reuse"):
            _, n, name, stamp = op
            row = make_session(n, name=name, project="myapp", branch="main", last_access=stamp)
            insert_sessions(conn, [dict(row, id=f"new{n}")])
            continue
        ids = [row[0] for row in conn.execute("SELECT rowid FROM sessions ORDER BY rowid")]
        if not ids:
            continue
        rowid = ids[op[1] % len(ids)]
        if kind == "rename":
            # The other texts cleared too: the snapshot's old text must stop matching.
            conn.execute(
                "UPDATE sessions SET name = ?, worktree = NULL, branch = NULL, directory = NULL "
                "WHERE rowid = ?",
                (op[2], rowid),
            )
        elif kind == "recase":
            conn.execute("UPDATE sessions SET name = upper(name) WHERE rowid = ?", (rowid,))
        elif kind == "retext":
            conn.execute(
                "UPDATE sessions SET project = ?, branch = ?, directory = '/srv/retexted' "
                "WHERE rowid = ?",
                (op[2], op[3], rowid),
            )
        elif kind == "touch":
            conn.execute("UPDATE sessions SET last_access = ? WHERE rowid = ?", (op[2], rowid))
        elif kind == "delete":
            conn.execute("DELETE FROM sessions WHERE rowid = ?", (rowid,))
        elif kind == "noop":
            # The same values set again: no change, nothing dirty.
            conn.execute(
                "UPDATE sessions SET name = name, project = project WHERE rowid = ?", (rowid,)
            )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    ops=changes(),
    text=dense_words(),
    filtered=st.sampled_from(
        [
            "",
            " project:myapp",
            " project:MYAPP branch:main",
            " status:active",
            " -status:ended since:2026-11-20",
            " worktree:main",
            " name:x",
            ' name:"auth login"',
            " project:my*",
        ]
    ),
    limit=st.integers(1, 8),
    offset=st.integers(0, 4),
)
def test_the_snapshot_plan_is_exact_after_any_writes_since_its_build(
    shared: sqlite3.Connection,
    rows: list[dict[str, Any]],
    ops: list[tuple[Any, ...]],
    text: str,
    filtered: str,
    limit: int,
    offset: int,
) -> None:
    _assert_snapshot_pages(shared, rows, ops, f"({text}){filtered}", limit, offset)


def _assert_snapshot_pages(
    shared: sqlite3.Connection,
    rows: list[dict[str, Any]],
    ops: list[tuple[Any, ...]],
    text: str,
    limit: int,
    offset: int,
    plan_name: str = "name_snapshot",
) -> None:
    """``rows`` stored, the snapshot built, ``ops`` applied: name_snapshot's (or
    ``plan_name``'s) page of ``text`` is the default plan's (whose rows are the reference
    evaluator's), as the snapshot stands, with everything folded in, and from a fresh
    build."""
    shared.execute("DELETE FROM sessions")
    insert_sessions(shared, rows)
    rebuild_snapshot(shared)
    _apply(shared, ops)
    tree = parse_query(text, now=NOW)
    expected_ids = {row["id"] for row in _rows(shared) if matches(tree, row)}
    whole = compile_query(tree, sort="name", limit=None)
    all_rows = shared.execute(whole.sql, whole.params).fetchall()
    assert {row[0] for row in all_rows} == expected_ids
    page = compile_query(tree, sort="name", limit=limit, offset=offset)
    if _excluded_by_itself(page, all_rows):
        return
    plan = page.plan(plan_name)
    assert run_plan_sync(shared, plan) == all_rows[offset : offset + limit]
    assert_clean(shared)
    # Once more with everything folded in: an empty delta, ranks from folds.
    fold_all(shared)
    assert run_plan_sync(shared, plan) == all_rows[offset : offset + limit]
    # And once more from a fresh build: an empty delta.
    rebuild_snapshot(shared)
    assert snapshot_facts(shared) == (0, 0)  # nothing inserted or dirty since the build
    assert run_plan_sync(shared, plan) == all_rows[offset : offset + limit]
    assert [hit.id for hit in search_sync(shared, page)] == [
        row[0] for row in all_rows[offset : offset + limit]
    ]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    ops=changes(),
    text=st.sampled_from(
        [
            "project:myapp branch:main",
            "project:MYAPP status:ended",
            "branch:main worktree:main",
            "project:myapp -branch:main",
            "branch:feat/auth project:api",
            "project:myapp dir:/a",
            "worktree:main",  # alone: no (worktree, name) index to walk
            "worktree:MAIN",
            # A folder: its path as a phrase of the directory column (eleventh round).
            "dir:/a",
            "dir:/home/u/code",
            "dir:/home/u/code/my",  # a sibling's prefix: no session
            "dir:/a/b/c",
            "dir:/home/u/code/myapp status:ended",
        ]
    ),
    limit=st.integers(1, 8),
    offset=st.integers(0, 4),
)
def test_filters_alone_by_name_are_exact_through_the_snapshot(
    shared: sqlite3.Connection,
    rows: list[dict[str, Any]],
    ops: list[tuple[Any, ...]],
    text: str,
    limit: int,
    offset: int,
) -> None:
    """Filters alone, beside the one whose name index a walk would read (or a worktree alone,
    which has no such index): the snapshot's MATCH
    is their values as column phrases alone (a superset: `my app` holds `{project} : "myapp"`'s
    tokens too), every row still tested against the filters, the delta's sessions too."""
    assert "MATCH" not in compile_query(parse_query(text, now=NOW), sort="name").sql  # no words
    _assert_snapshot_pages(shared, rows, ops, text, limit, offset)


def negated_words() -> st.SearchStrategy[str]:
    """Words of :func:`dense_sessions` that the rows must not hold, one or several."""
    word = st.sampled_from(["auth", "main", "a", "app", "my", "login", "b", "x", '"auth app"'])
    return st.one_of(
        word.map(lambda w: f"-{w}"),
        st.tuples(word, word).map(lambda p: f"-{p[0]} -{p[1]}"),
        st.tuples(word, word).map(lambda p: f"NOT ({p[0]} OR {p[1]})"),
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=dense_sessions(),
    ops=changes(),
    text=negated_words(),
    filtered=st.sampled_from(
        [
            # name_except: the snapshot's ranks but the words' matches, the filters tested.
            ("", "name_except"),
            (" status:ended", "name_except"),
            (" -status:ended since:2026-11-20", "name_except"),
            (" status:active", "name_except"),
            # name_snapshot: a folder's path as a phrase of the directory column NOT the
            # words (eleventh round).
            (" dir:/a", "name_snapshot"),
            (" dir:/home/u/code status:ended", "name_snapshot"),
            # name_snapshot: the field phrases NOT the words.
            (" project:myapp", "name_snapshot"),
            (" project:MYAPP branch:main", "name_snapshot"),
            (" worktree:main -status:ended", "name_snapshot"),
            (" project:my*", "name_snapshot"),
            (' name:"auth login"', "name_snapshot"),
        ]
    ),
    limit=st.integers(1, 8),
    offset=st.integers(0, 4),
)
def test_negated_words_by_name_are_exact_through_the_snapshot(
    shared: sqlite3.Connection,
    rows: list[dict[str, Any]],
    ops: list[tuple[Any, ...]],
    text: str,
    filtered: tuple[str, str],
    limit: int,
    offset: int,
) -> None:
    """Words all negated (the ninth round): with an exact field or a field's prefix, the
    snapshot's walk of its column phrases NOT the words (name_snapshot); without, its ranks
    merged with the words' matches (name_except), each session tested against the filters;
    and the delta's sessions without the words, whatever was written since the build."""
    _assert_snapshot_pages(shared, rows, ops, text + filtered[0], limit, offset, filtered[1])


def test_a_page_edge_inside_a_group_of_equal_names_reads_the_whole_group(
    conn: sqlite3.Connection,
) -> None:
    """Equal names are ordered by last access (newest first), which the rank does not hold:
    the newest of ten "same" sessions was built last in rank (the highest rowid of them), so
    a walk that stopped at the page's count would miss it."""
    rows = [
        make_session(
            n, name="Same" if n % 2 else "same", last_access=f"2026-11-{10 + n:02d}T00:00:00Z"
        )
        for n in range(10)
    ]
    insert_sessions(conn, [*rows, make_session(99, name="zzz")])
    rebuild_snapshot(conn)
    for limit in (1, 3, 10, 11):
        query = compile_query(parse_query("same OR zzz", now=NOW), sort="name", limit=limit)
        got = [row[0] for row in run_plan_sync(conn, query.plan("name_snapshot"))]
        expected = [f"s{n:04d}" for n in range(9, -1, -1)] + ["s0099"]
        assert got == expected[:limit]


def test_the_delta_is_what_changed_since_the_build(conn: sqlite3.Connection) -> None:
    insert_sessions(conn, [make_session(n, name=f"a-{n}", project="p") for n in range(5)])
    assert snapshot_facts(conn) == (5, 0)  # built empty by the migration: all inserted since
    rebuild_snapshot(conn)
    assert snapshot_facts(conn) == (0, 0)
    conn.execute("UPDATE sessions SET last_access = 'x', status = 'ended'")  # not indexed
    conn.execute("UPDATE sessions SET project = 'q' WHERE id = 's0001'")  # in place
    conn.execute("UPDATE sessions SET name = 'A-2' WHERE id = 's0002'")  # same name (NOCASE)
    conn.execute("UPDATE sessions SET name = name, directory = directory")  # no change
    assert snapshot_facts(conn) == (0, 0)
    conn.execute("UPDATE sessions SET name = 'b' WHERE id = 's0003'")
    conn.execute("DELETE FROM sessions WHERE id = 's0004'")
    insert_sessions(conn, [make_session(7, name="c")])  # reuses the deleted row's rowid
    assert snapshot_facts(conn) == (0, 2)
    insert_sessions(conn, [make_session(8, name="d")])
    assert snapshot_facts(conn) == (1, 2)
    query = compile_query(parse_query("q OR b OR c OR d OR a", now=NOW), sort="name", limit=10)
    got = [row[1] for row in run_plan_sync(conn, query.plan("name_snapshot"))]
    assert got == ["a-0", "a-1", "A-2", "b", "c", "d"]
    assert reindex(Path(conn.execute("PRAGMA database_list").fetchone()[2])) == 6
    assert snapshot_facts(conn) == (0, 0)
    assert [row[1] for row in run_plan_sync(conn, query.plan("name_snapshot"))] == got


def test_migration_up_down_up_keeps_the_results(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    (version,) = [m.version for m in load_migrations() if m.name == "search_name_snapshot"]
    migrate_sync(path, version - 1)
    conn = sqlite3.connect(path, isolation_level=None)
    names = [
        f"{p}-{w}-{n}" for n, (p, w) in enumerate((p, w) for p in "cba" for w in ("auth", "x"))
    ]
    insert_sessions(conn, [make_session(n, name=name, project="p") for n, name in enumerate(names)])
    query = compile_query(parse_query("auth", now=NOW), sort="name", limit=2, offset=1)
    expected = [hit.name for hit in search_sync(conn, query)]
    assert expected == ["b-auth-2", "c-auth-0"]
    migrate_sync(path)
    assert snapshot_facts(conn) == (0, 0)  # built from the rows there
    assert [row[1] for row in run_plan_sync(conn, query.plan("name_snapshot"))] == expected
    migrate_sync(path, version - 1)
    assert snapshot_facts(conn) is None
    assert plan_sync(conn, query).name != "name_snapshot"
    assert [hit.name for hit in search_sync(conn, query)] == expected
    migrate_sync(path)
    assert snapshot_facts(conn) == (0, 0)
    assert [row[1] for row in run_plan_sync(conn, query.plan("name_snapshot"))] == expected
    conn.close()


def _names_in_rank_order(conn: sqlite3.Connection) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "SELECT s.name FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid "
            "ORDER BY r.rank"
        )
    ]


def _excluded_by_itself(query: Any, rows: list[Any]) -> bool:
    """Whether ``query`` rules out what it asks for (`auth -auth`, tenth round): compiled to
    its default plan alone, nothing to plan; then nothing matches."""
    if len(query.plans) > 1:
        return False
    assert rows == []
    return True


def _assert_pages(conn: sqlite3.Connection, text: str, plan_name: str = "name_snapshot") -> None:
    """Every page of ``text`` by name through the snapshot (``plan_name``) equals the default
    plan's."""
    tree = parse_query(text, now=NOW)
    whole = compile_query(tree, sort="name", limit=None)
    expected = conn.execute(whole.sql, whole.params).fetchall()
    for limit in (1, 2, 5, 50):
        for offset in (0, 1, 3):
            plan = compile_query(tree, sort="name", limit=limit, offset=offset)
            if _excluded_by_itself(plan, expected):
                return
            got = run_plan_sync(conn, plan.plan(plan_name))
            assert got == expected[offset : offset + limit], (limit, offset)


def test_folds_between_renames_keep_it_exact(conn: sqlite3.Connection) -> None:
    insert_sessions(conn, [make_session(n, name=f"m-{n}", project="app") for n in range(20)])
    rebuild_snapshot(conn)
    renames = [(3, "a-first"), (3, "zz-last"), (7, "m-3"), (3, "M-3"), (12, "m-12b"), (7, "b")]
    dirty: set[int] = set()
    for step, (n, name) in enumerate(renames):
        conn.execute("UPDATE sessions SET name = ? WHERE id = ?", (name, f"s{n:04d}"))
        dirty.add(n)
        assert snapshot_facts(conn) == (0, len(dirty))  # dirty, its snapshot row out
        assert_clean(conn)
        _assert_pages(conn, "app")
        if step % 2 == 0:
            assert fold(conn).folded == len(dirty)
            dirty.clear()
            assert snapshot_facts(conn) == (0, 0)
        _assert_pages(conn, "app")
    fold_all(conn)
    _assert_pages(conn, "app OR m*")
    names = _names_in_rank_order(conn)
    assert names == sorted(names, key=str.lower)  # ASCII names: NOCASE is str.lower here


def test_names_equal_under_nocase_and_non_ascii_are_folded_in_the_builds_order(
    conn: sqlite3.Connection,
) -> None:
    """NOCASE folds ASCII letters only, and ties go by rowid: a fold places each session where a
    build would, whatever mix of case and accents."""
    first = ["b app", "Zürich app", "m app"]
    insert_sessions(conn, [make_session(n, name=name) for n, name in enumerate(first)])
    rebuild_snapshot(conn)
    later = ["B app", "ärger app", "Ärger app", "zurich app", "ZÜRICH app", "b APP", "é app"]
    later += ["É app", "a app", "M APP", "中文 app", "b app"]
    insert_sessions(conn, [make_session(10 + n, name=name) for n, name in enumerate(later)])
    fold_all(conn)
    folded = _names_in_rank_order(conn)
    rebuild_snapshot(conn)
    assert folded == _names_in_rank_order(conn)  # the same order as a build
    assert folded[:6] == ["a app", "b app", "B app", "b APP", "b app", "m app"]
    _assert_pages(conn, "app")


def test_names_appended_at_one_place_relabel_and_a_used_up_gap_rebuilds(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project's sessions named by counter sort one after the other: each is folded in just
    above the last, using its gap up from its low end; a used-up gap moves a few neighbours
    (relabel); with no window small enough to move, the fold says so and stops, and the caller
    rebuilds (here, as the watcher does under REFRESH_MAX_SESSIONS)."""
    insert_sessions(
        conn, [make_session(n, name=f"{c}-base", project="p") for n, c in enumerate("aj")]
    )
    conn.execute("BEGIN IMMEDIATE")
    rebuild(conn, spacing=1 << 12)  # room for 4 packed steps, then 10 halvings: then relabels
    conn.execute("COMMIT")
    relabelled = 0
    for n in range(60):
        insert_sessions(conn, [make_session(100 + n, name=f"b-job-{n:04d}", project="p")])
        done = fold(conn)
        assert done.folded == 1 and not done.exhausted
        relabelled += done.relabelled
    assert relabelled > 0
    _assert_pages(conn, "p")
    # No window has room now (each would have to spread its rows 2^61 apart): the next
    # session appended there finds none once its gap is used up.
    monkeypatch.setattr(name_fold, "MIN_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "TARGET_STEP", 1 << 61)
    monkeypatch.setattr(name_fold, "PACK_STEP", 1 << 62)  # halved by each: soon used up
    exhausted = False
    for n in range(60, 200):
        insert_sessions(conn, [make_session(100 + n, name=f"b-job-{n:04d}", project="p")])
        conn.execute("BEGIN IMMEDIATE")
        done = name_fold.fold(conn)
        conn.execute("COMMIT")
        assert_clean(conn)
        _assert_pages(conn, "p")  # the session left dirty is still found
        if done.exhausted:
            exhausted = True
            assert done.folded == 0 and done.more and snapshot_facts(conn) == (0, 1)
            break
    assert exhausted
    rebuild_snapshot(conn)
    assert snapshot_facts(conn) == (0, 0)
    _assert_pages(conn, "p")


def test_a_deleted_session_leaves_the_snapshot_and_its_reused_rowid_is_folded(
    conn: sqlite3.Connection,
) -> None:
    insert_sessions(conn, [make_session(n, name=f"n-{n}", project="p") for n in range(5)])
    rebuild_snapshot(conn)
    conn.execute("DELETE FROM sessions WHERE id = 's0004'")  # the highest rowid: reused next
    (rows,) = conn.execute("SELECT count(*) FROM sessions_name_rank").fetchone()
    assert rows == 4  # its snapshot row went with it (the trigger had its text: old.*)
    insert_sessions(conn, [make_session(9, name="a-new", project="p")])
    assert snapshot_facts(conn) == (0, 1)  # under a built rowid: dirty
    fold_all(conn)
    assert _names_in_rank_order(conn)[0] == "a-new"
    _assert_pages(conn, "p")


def test_migration_012_up_down_up_keeps_the_results(tmp_path: Path) -> None:
    """Up from 011 rebuilds the snapshot with gaps (009's rows of renamed and deleted sessions
    were stale); down leaves it as it is for 009's triggers, which work on it; up again."""
    path = tmp_path / "data.db"
    (version,) = [m.version for m in load_migrations() if m.name == "search_name_fold"]
    migrate_sync(path, version - 1)
    conn = sqlite3.connect(path, isolation_level=None)
    insert_sessions(conn, [make_session(n, name=f"p-{n}", project="app") for n in range(12)])
    rebuild_snapshot(conn)  # 011's code: ranks 1, 2, 3, ...
    conn.execute("UPDATE sessions SET name = 'a-renamed' WHERE id = 's0003'")
    conn.execute("DELETE FROM sessions WHERE id = 's0005'")
    insert_sessions(conn, [make_session(20, name="b-new", project="app")])
    before = snapshot_facts(conn)
    assert before is not None and before != (0, 0)
    _assert_pages(conn, "app")
    migrate_sync(path)
    assert snapshot_facts(conn) == (0, 0)
    assert_clean(conn)
    ranks = [rank for (rank,) in conn.execute("SELECT rank FROM sessions_name_rank ORDER BY 1")]
    assert ranks == [n * (1 << 20) for n in range(1, 13)]
    _assert_pages(conn, "app")
    conn.execute("UPDATE sessions SET name = 'z-renamed' WHERE id = 's0004'")
    insert_sessions(conn, [make_session(21, name="c-new", project="app")])
    fold_all(conn)
    migrate_sync(path, version - 1)
    # 009's triggers on the folded snapshot: a rename marks it dirty (its row skipped), a
    # delete leaves its row to the join; the results stay exact.
    conn.execute("UPDATE sessions SET name = 'm-renamed' WHERE id = 's0006'")
    conn.execute("UPDATE sessions SET name = 'zz-renamed' WHERE id = 's0008'")
    conn.execute("DELETE FROM sessions WHERE id = 's0007'")
    _assert_pages(conn, "app")
    # name_except too: the renamed session's rank and old text are still there (skipped).
    _assert_pages(conn, "-new", "name_except")
    _assert_pages(conn, "-renamed -p", "name_except")
    migrate_sync(path)
    assert snapshot_facts(conn) == (0, 0)
    assert_clean(conn)
    _assert_pages(conn, "app")
    conn.close()


def test_folds_leave_the_index_sound_with_its_own_merging_off(conn: sqlite3.Connection) -> None:
    """Migration 012 turned FTS5's own merging off for the snapshot's index (each fold
    transaction merges up to MERGE_PAGES itself, of a level with 8 segments): after many small
    folds and renames the index passes FTS5's integrity check and every page is exact."""
    rebuild_snapshot(conn)
    for n in range(40):
        insert_sessions(conn, [make_session(n, name=f"n-{n}", project="p")])
        if n % 3 == 0:
            conn.execute("UPDATE sessions SET name = ? WHERE id = ?", (f"r-{n}", f"s{n // 2:04d}"))
        fold(conn)
    conn.execute(
        "INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('integrity-check', 0)"
    )
    config = {"automerge": 0, "usermerge": 8, "version": 4}
    assert dict(conn.execute("SELECT k, v FROM sessions_name_fts_config")) == config
    _assert_pages(conn, "p")
    rebuild_snapshot(conn)  # merges as it builds, and leaves the setting as it was
    assert dict(conn.execute("SELECT k, v FROM sessions_name_fts_config")) == config


def test_filters_alone_by_name_take_the_snapshot_when_built_and_many(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The planner: a project beside a branch, too many rows to count, by name: the snapshot
    # (a walk of the project's name order meets the branch's names late); few: filter_first;
    # a snapshot with a long delta (each query reads it): not the snapshot.
    import store.search

    branches = ["main" if n % 3 else "feat" for n in range(60)]
    rows = [
        make_session(n, name=f"ccmgr-app-{branch}-{n}", project="app", branch=branch)
        for n, branch in enumerate(branches)
    ]
    insert_sessions(conn, rows)
    rebuild_snapshot(conn)
    query = compile_query(parse_query("project:app branch:main", now=NOW), sort="name", limit=5)
    monkeypatch.setattr(store.search, "FILTER_CAP", 10)
    monkeypatch.setattr(store.search, "WIDE_FILTER_CAP", 20)
    facts = query.facts
    assert facts is not None and facts.candidates_sql is not None
    wide = (*facts.candidates_params[:-1], 10)
    assert conn.execute(facts.candidates_sql, wide).fetchone()[0] == 10
    assert store.search.choose_wordless(query, 10, 60).name == "name_snapshot"
    assert store.search.choose_wordless(query, 9, 60).name == "filter_first"
    expected = conn.execute(query.sql, query.params).fetchall()
    # The real planner, counting with the lowered cap (its SQL takes the cap as a parameter).
    query = CompiledQuery(
        query.sql, query.params, query.ranked, query.plans, facts.replace(candidates_params=wide)
    )
    assert plan_sync(conn, query).name == "name_snapshot"
    assert [hit.id for hit in search_sync(conn, query)] == [row[0] for row in expected]
    monkeypatch.setattr(store.search, "_WORDLESS_DELTA", 3)
    insert_sessions(
        conn,
        [
            make_session(n, name=f"ccmgr-app-main-{n}", project="app", branch="main")
            for n in (90, 91)
        ],
    )
    conn.execute("UPDATE sessions SET name = 'zz' WHERE id = 's0001'")
    conn.execute("UPDATE sessions SET name = 'zy' WHERE id = 's0002'")
    assert sum(snapshot_facts(conn) or (0, 0)) == 4
    assert plan_sync(conn, query).name != "name_snapshot"
    expected = conn.execute(query.sql, query.params).fetchall()
    assert [hit.id for hit in search_sync(conn, query)] == [row[0] for row in expected]


DIRECTORIES = [
    "/a/my",
    "/a/my/x",
    "/a/my app",
    "/a/my-app",
    "/a/myapp",
    "/a/MY",
    "/a/mý",
    '/a/"q" b',
    "/b/a/my",
    "/a",
    None,
]


@pytest.mark.parametrize(
    "text",
    ["dir:/a/my", "dir:/a", "dir:/a/my/x", 'dir:"/a/my app"', "dir:/a/mý", 'dir:"/a/\\"q\\" b"'],
)
def test_a_folder_alone_by_name_walks_the_snapshot_with_its_path_as_a_phrase(
    conn: sqlite3.Connection, text: str
) -> None:
    # `dir:/a/my`: /a/my and /a/my/x, not /a/my app, /a/my-app (the phrase's tokens, which
    # the filter then rejects), /a/myapp, /a/MY (the filter is exact), /a/mý (FTS5 folds the
    # diacritic: the phrase matches, the filter does not) or /b/a/my (the phrase is not
    # anchored: the filter rejects it).
    rows = [
        make_session(n, name=f"s{n % 7}-{n}", directory=DIRECTORIES[n % len(DIRECTORIES)])
        for n in range(120)
    ]
    insert_sessions(conn, rows)
    rebuild_snapshot(conn)
    insert_sessions(conn, [make_session(500, name="s0-late", directory="/a/my/x")])
    conn.execute("UPDATE sessions SET name = 'a-first' WHERE id = 's0003'")
    tree = parse_query(text, now=NOW)
    expected = [row["id"] for row in _rows(conn) if matches(tree, row)]
    assert expected
    whole = compile_query(tree, sort="name", limit=None)
    all_ids = [row[0] for row in conn.execute(whole.sql, whole.params)]
    assert sorted(all_ids) == sorted(expected)
    for limit, offset in ((5, 0), (3, 4), (20, 0)):
        page = compile_query(tree, sort="name", limit=limit, offset=offset)
        plan = page.plan("name_snapshot")
        assert [row[0] for row in run_plan_sync(conn, plan)] == all_ids[offset : offset + limit]
        assert [hit.id for hit in search_sync(conn, page)] == all_ids[offset : offset + limit]
