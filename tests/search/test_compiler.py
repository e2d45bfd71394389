"""The compiler's output: FTS only in the sub-select form, quoted; hostile input stays data."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.errors import QueryError
from store.query import CompiledQuery, compile_query, parse_query
from store.query.compiler import RESULT_COLUMNS, fts_quote

from .conftest import insert_sessions, make_session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FTS_IN = "sessions.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)"


def compiled(text: str, **kwargs: Any) -> CompiledQuery:
    return compile_query(parse_query(text, now=NOW, tz=ZoneInfo("UTC")), **kwargs)


def test_words_are_one_quoted_prefix_match_in_a_sub_select() -> None:
    query = compiled("auth myapp", sort="recent")
    assert query.sql.count(FTS_IN) == 1
    assert '("auth"*) AND ("myapp"*)' in query.params
    assert "JOIN sessions_fts" not in query.sql
    assert not query.ranked


def test_phrases_are_not_prefix_matches() -> None:
    assert '"two words"' in compiled('"two words"', sort="recent").params


def test_negated_words_join_the_match_or_use_not_in() -> None:
    both = compiled("auth -wip", sort="recent")
    assert '(("auth"*)) NOT (("wip"*))' in both.params
    alone = compiled("-wip", sort="recent")
    assert "sessions.rowid NOT IN (SELECT rowid" in alone.sql


def test_words_beside_filters_stay_in_the_sub_select() -> None:
    query = compiled("auth project:myapp since:7d", sort="recent")
    assert FTS_IN in query.sql
    assert "sessions.project IS ? COLLATE NOCASE" in query.sql
    assert "myapp" in query.params


def test_relevance_ranks_only_when_there_are_words() -> None:
    ranked = compiled("auth")
    assert ranked.ranked
    assert "bm25(sessions_fts, 10.0" in ranked.sql
    assert "MATERIALIZED" in ranked.sql
    # The one bm25 pass is also the filter, and the outer loop; no second pass over the index.
    assert ranked.sql.count("MATCH ?") == 1
    assert "FROM sessions_fts CROSS JOIN sessions" in ranked.sql and "LEFT JOIN" not in ranked.sql
    # Newest matches first, straight from the index, until the relevance window is full.
    assert "ORDER BY sessions_fts.rowid DESC LIMIT ?" in ranked.sql
    filtered = compiled("auth project:x since:7d -status:ended")
    assert filtered.sql.count("MATCH ?") == 1
    assert "FROM sessions_fts CROSS JOIN sessions" in filtered.sql
    assert "LEFT JOIN" not in filtered.sql
    mixed = compiled("auth OR project:x")
    # A branch without a word: the sessions the WHERE lets through, newest first; bm25 over
    # the matches within the window's rowids only, each window session looked up there.
    assert mixed.ranked and "LEFT JOIN" not in mixed.sql and FTS_IN in mixed.sql
    assert "MATCH ? AND rowid BETWEEN (SELECT lo FROM bounds)" in mixed.sql
    for text in ("auth", "auth project:x -wip", "auth OR project:x", "(a OR b) -c status:ended"):
        for sort in ("relevance", "recent"):
            assert "JOIN sessions_fts" not in compiled(text, sort=sort).sql
    assert not compiled("project:x").ranked
    assert not compiled("").ranked
    assert not compiled("-auth").ranked


@pytest.mark.parametrize(
    "text",
    [
        "NEAR(a b, 3)",
        "a NEAR b",
        "^start",
        "col:term",
        "x*",
        "*",
        "a AND",
        '"',
        '""',
        '"a" "b"',
        '" OR "',
        "name:*",
        "project:%_\\",
        "'; DROP TABLE sessions; --",
        "\x00",
        "a\x00b",
        "\ud7ff\U0010ffff",
        "🦄 ünïcödé 中文",
        "{a b}",
        "- -a",
        "a:",
        "a OR b NOT c",
        "x" * 10_000,
        "ab " * 3333,
        "(" * 40,
        ")" * 40,
        '"' * 9999,
        "a* " * 100 + "OR " + "b " * 99,
    ],
)
def test_hostile_queries_raise_only_query_error_and_sql_never_fails(
    conn: sqlite3.Connection, text: str
) -> None:
    insert_sessions(conn, [make_session(1, name="a b c"), make_session(2, name="NEAR x")])
    try:
        tree = parse_query(text, now=NOW, tz=ZoneInfo("UTC"), home="/h", cwd="/w")
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        return
    for sort in ("relevance", "recent", "created", "name"):
        query = compile_query(tree, sort=sort)
        conn.execute(query.sql, query.params).fetchall()


def test_the_largest_allowed_query_compiles_to_sql_sqlite_accepts(conn: sqlite3.Connection) -> None:
    # 200 terms mixing every kind, nested 30 deep: within SQLite's and FTS5's depth limits.
    leaves = ["a", "-b", "project:x*", "-status:ended", "dir:/a", '"c d"', "since:1d", "name:y"]
    terms = [leaves[i % len(leaves)] for i in range(170)]
    text = "(" * 30 + " OR ".join(terms) + ")" * 30 + " " + " ".join(terms[:30])
    query = compiled(text)
    conn.execute(query.sql, query.params).fetchall()


def test_fts_quote_doubles_quotes_and_drops_nul() -> None:
    assert fts_quote('say "hi"') == '"say ""hi"""'
    assert fts_quote("a\x00b") == '"a b"'


def test_wildcards_escape_like_metacharacters(conn: sqlite3.Connection) -> None:
    insert_sessions(
        conn,
        [
            make_session(1, project="100%_done"),
            make_session(2, project="100xxdone"),
            make_session(3, project="a\\b"),
        ],
    )

    def ids(text: str) -> set[str]:
        query = compiled(text, limit=None)
        return {row[0] for row in conn.execute(query.sql, query.params)}

    assert ids("project:100%_*") == {"s0001"}
    assert ids("project:100*done") == {"s0001", "s0002"}
    assert ids("project:a\\*") == {"s0003"}
    assert ids("project:100%_done") == {"s0001"}


def test_limit_offset_and_sorts(conn: sqlite3.Connection) -> None:
    insert_sessions(
        conn,
        [
            make_session(1, name="beta", created_at="2026-01-03T00:00:00.000000Z"),
            make_session(2, name="Alpha", created_at="2026-01-01T00:00:00.000000Z"),
            make_session(3, name="gamma", created_at="2026-01-02T00:00:00.000000Z"),
        ],
    )

    def names(**kwargs: Any) -> list[str]:
        query = compiled("", **kwargs)
        return [row[1] for row in conn.execute(query.sql, query.params)]

    assert names(sort="name") == ["Alpha", "beta", "gamma"]
    assert names(sort="created") == ["beta", "gamma", "Alpha"]
    assert names(sort="recent") == ["gamma", "Alpha", "beta"]  # last_access from make_session
    assert names(sort="name", limit=1, offset=1) == ["beta"]
    assert names(sort="name", limit=None, offset=2) == ["gamma"]


def test_relevance_weights_name_highest(conn: sqlite3.Connection) -> None:
    insert_sessions(
        conn,
        [
            make_session(1, name="x", directory="/code/auth", last_access="2026-11-26T00:00:00Z"),
            make_session(2, name="auth", directory="/code/x", last_access="2026-01-01T00:00:00Z"),
            make_session(3, name="y", project="auth", last_access="2026-11-25T00:00:00Z"),
        ]
        + [make_session(n, name=f"filler {n}") for n in range(10, 30)],
    )
    query = compiled("auth")
    rows = conn.execute(query.sql, query.params).fetchall()
    assert [row[0] for row in rows] == ["s0002", "s0003", "s0001"]
    scores = [row[-1] for row in rows]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def _fts_plan_lines(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.mark.parametrize(
    "text",
    [
        "auth",
        "auth api",
        "auth name:ccmgr-app7-main",
        "auth project:app7 since:2026-11-20",
        "auth dir:/code/app7",
        "auth -status:ended",
        "auth OR project:app7",
    ],
)
def test_the_default_plan_reads_the_index_once_never_per_row(
    conn: sqlite3.Connection, text: str
) -> None:
    # With statistics saying name:/project: pick out a handful of rows, SQLite's planner would
    # rather walk that index and run the full-text query once per row (FTS5 plan ":=M", rowid
    # equality): the trap that is hundreds of times slower when the filter is not selective.
    # Only the planner's walking plans test rows one by one, and only when it chose them.
    insert_sessions(
        conn,
        [
            make_session(
                n,
                name=f"ccmgr-app{n}-main",
                project=f"app{n}",
                directory=f"/code/app{n}",
                branch="feat/auth" if n % 2 else "fix/api",
            )
            for n in range(400)
        ],
    )
    conn.execute("ANALYZE")
    for sort in ("relevance", "recent"):
        query = compiled(text, sort=sort)
        plan = _fts_plan_lines(conn, query.sql, query.params)
        fts_lines = [line for line in plan if "sessions_fts VIRTUAL TABLE" in line]
        assert fts_lines, plan
        assert not [line for line in fts_lines if ":=" in line], (sort, plan)
        conn.execute(query.sql, query.params).fetchall()
        for other in query.plans[1:]:
            if other.union is not None:
                # or_union's own SQL reads no words: its branches are queries of their own.
                assert all(branch.plans for branch in other.union.branches)
                continue
            lines = _fts_plan_lines(conn, other.sql, other.params)
            probes = [line for line in lines if ":=" in line]
            # order_range reads a slice of the matches as a set, order_set, filter_set,
            # filter_set_walk and known_first/known_scored (as compiled) all of them,
            # newest_scored streams them (and, beside a filter with a window,
            # window_scored_by_day: its rowid range), filter_scored and the alive plans and
            # filter_tested test the words in Python; the others test row by row.
            streams = other.name in (
                "order_range",
                "order_set",
                "known_first",
                "known_scored",
                "filter_set_walk",
                "newest_scored",
                "phrase_scored",
                "window_scored_by_day",
                "filter_scored",
                "filter_tested",
                "filter_set",
                "alive_scored",
                "alive_tested",
            )
            assert bool(probes) != streams, (other.name, lines)


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("auth api", True),
        ("auth project:x", True),
        ("auth -login status:ended", True),
        ('"auth login" branch:main', True),
        ("auth", False),  # a word alone: SQLite's plan reads its matches, no filter to mislead
        ("-auth project:x", False),  # words all negated: their sample is not the results'
        ("auth OR project:x", False),
        ("(auth OR project:x) api", False),  # a conjunct with a word outside the MATCH
        ("project:x", False),
    ],
)
@pytest.mark.parametrize("sort", ["relevance", "recent", "created", "name"])
def test_known_plans_are_offered_for_words_and_filters_anded(
    text: str, offered: bool, sort: str
) -> None:
    names = [plan.name for plan in compiled(text, sort=sort).plans]
    known = "known_scored" if sort == "relevance" else "known_first"
    assert (known in names) == offered, names
    assert ("known_first" if sort == "relevance" else "known_scored") not in names
    assert "known_first" not in [p.name for p in compiled(text, sort=sort, limit=None).plans]


def test_plans_offered_by_shape() -> None:
    def names(text: str, **kwargs: Any) -> list[str]:
        # (known_first/known_scored: test_known_plans_are_offered_for_words_and_filters_anded)
        known = ("known_first", "known_scored")
        return [plan.name for plan in compiled(text, **kwargs).plans if plan.name not in known]

    ranked = ["newest_ranked", "newest_scored", "filter_scored", "filter_set", "filter_ranked"]
    assert names("auth") == ranked[:2]
    assert names("auth project:x", limit=None) == ["newest_ranked", "filter_ranked"]
    # An exact field's value also as a column phrase of the MATCH (phrase_scored).
    fielded = [*ranked[:2], "phrase_scored", *ranked[2:]]
    assert names("auth project:x") == fielded
    assert names("auth branch:feat/auth") == fielded
    # A prefix is a prefix phrase (`{project} : "x" *`) and, beside words, an indexed filter
    # (its range of the field's NOCASE index, as a folder's: ninth round).
    assert names("auth project:x*") == fielded
    assert (
        compiled("auth project:my-a*")
        .plan("phrase_scored")
        .params[0]
        .endswith('({project} : "my-a" *)')
    )
    assert names("auth project:-") == ranked  # nor a value without a token
    assert names("auth -project:x") == ranked[:2]  # nor a negated field
    # A status that keeps alive sessions: their rows from their own index too (sql/011).
    alive = [*ranked[:4], "alive_scored", ranked[4]]
    assert names("auth status:active") == alive
    # A window beside it: the stream within the window's rowid range too (ninth round).
    assert names("auth since:1d -status:ended") == [*ranked[:2], "window_scored_by_day", *alive[2:]]
    assert names("auth status:attached") == alive
    assert names("auth status:ended") == ranked
    # The alive status is counted before an exact field (its index tests the field too).
    assert names("auth project:x status:active") == [*fielded[:5], "alive_scored", fielded[5]]
    assert names("auth status:active", sort="recent")[-1] == "alive_tested"
    assert names("auth status:detached", sort="name")[-1] == "alive_tested"
    assert "alive_tested" not in names("auth status:active", sort="recent", limit=None)
    assert "alive_tested" not in names("-auth status:active", sort="recent")
    assert "alive_scored" not in names("(auth login) OR api status:active")
    # bm25 in Python only where it counts a phrase's hits as FTS5 does, within the window.
    assert names("(auth login) OR api") == ["newest_ranked"]
    assert names("auth", limit=501) == ["newest_ranked"]
    assert names("auth", sort="recent") == ["fts_first", "order_walk", "order_range", "order_set"]
    assert names("auth", sort="recent", limit=None) == ["fts_first"]
    assert names("auth project:x", sort="name") == [
        "fts_first",
        "order_walk",
        "order_range",
        "filter_walk",
        "filter_first",
        "name_snapshot",
        "filter_tested",
    ]
    # The name-order snapshot (migration 009): by name, words (not all negated) with a limit,
    # ANDed with plain filters only.
    assert names("auth", sort="name")[-1] == "name_snapshot"
    assert "name_snapshot" in names("auth -api status:active", sort="name")
    assert "name_snapshot" not in names("auth", sort="name", limit=None)
    assert "name_snapshot" not in names("-auth", sort="name")
    assert "name_snapshot" not in names("auth (api OR project:x)", sort="name")
    assert "name_snapshot" not in names("auth OR project:x", sort="name")
    assert "name_snapshot" not in names("auth", sort="created")
    # The words tested in Python: only where FTS5's matching is a test of each phrase's hits
    # (as filter_scored), and not by recent (filter_first stops at the page there).
    assert names("auth status:active", sort="created")[-2] == "filter_tested"
    by_recent = names("auth project:x", sort="recent")
    assert "filter_tested" not in by_recent and "filter_first" in by_recent
    # By recent an exact field's own index gives the order: walked testing each row
    # (filter_walk), or against the words' matches as a set (filter_set_walk).
    assert by_recent[-2:] == ["filter_set_walk", "filter_walk"]
    # Another filter beside the field: its rows pass it only by estimate (no walk of it).
    assert not {"filter_set_walk", "filter_walk"} & set(
        names("auth project:x branch:y", sort="recent")
    )
    assert "filter_set_walk" not in names("auth project:x", sort="created")
    assert "filter_walk" not in names("auth status:ended", sort="recent")
    assert names("(auth login) OR api project:x", sort="created")[-1] != "filter_tested"
    # A filter alone by name: its own (filter, name) index; status:active is two runs of it;
    # or the filter's rows from its index, sorted (filter_first).
    walks = ["fts_first", "filter_walk", "filter_first"]
    assert names("project:x", sort="name") == walks
    assert names("status:ended since:1d", sort="name") == walks
    assert names("status:active", sort="name") == walks
    # Two runs merge exactly only when the filter is the whole query; a folder beside them
    # is the snapshot's column phrase (eleventh round).
    assert names("status:active dir:/a", sort="name") == [
        "fts_first",
        "name_snapshot",
        "filter_first",
    ]
    # No (filter, name) index: a walk of the name order, or the snapshot walked with the
    # value as its column phrase (a dense worktree's names bunch in A-Z), when the count says
    # many.
    assert names("worktree:x", sort="name") == [
        "fts_first",
        "order_walk",
        "name_snapshot",
        "filter_first",
    ]
    assert names("project:x", sort="name", limit=None) == ["fts_first"]
    assert names("status:active", sort="created") == ["fts_first", "order_walk", "filter_first"]
    assert names("-auth", sort="created") == ["fts_first", "order_walk", "order_range", "order_set"]
    # order_set tests a walk of an index by rowid: words only (a filter's column there would
    # name the outer query's row, a correlated subquery run once a row).
    assert "order_set" not in names("-auth project:x", sort="name")
    assert "order_set" not in names("auth since:1d", sort="created")
    # A filter alone by recent: its index has last_access second (filter_first reads in order).
    assert names("project:x") == ["fts_first", "filter_first"]
    # With other filters tested on its rows, a walk of the recent order too.
    assert names("status:ended name:ccmgr-*") == ["fts_first", "order_walk", "filter_first"]
    # A field's prefix alone: a walk of the order, counted in the prefix's range of its index;
    # by recent also the page's rowids from that range (it holds last_access: prefix_first).
    assert names("name:ccmgr-*") == ["fts_first", "order_walk", "prefix_first"]
    assert names("branch:feat*", sort="created") == ["fts_first", "order_walk"]
    assert "prefix_first" not in names("branch:feat* status:ended")  # not the whole query
    prefix = compiled("project:my*").facts
    assert prefix is not None and "INDEXED BY ix_sessions_project_nocase" in str(
        prefix.candidates_sql
    )
    assert names("name:ccmgr-*", sort="name") == ["fts_first"]  # its range is in name order
    # Another field's prefix by name: the snapshot walked with it as a prefix phrase.
    assert names("project:my*", sort="name") == ["fts_first", "name_snapshot"]
    assert names("name:*auth*") == ["fts_first"]  # no range of an index to count in
    assert names("name:*") == ["fts_first"]
    # A folder: its index's value and range, counted; not in recent order (several
    # directories), so a walk of the order when it holds many.
    assert names("dir:/a") == ["fts_first", "order_walk", "filter_first"]
    assert names("auth dir:/a") == [*ranked[:2], "filter_scored", "filter_set", "filter_ranked"]
    assert "filter_tested" in names("auth dir:/a", sort="recent")
    # Nothing to choose: no filter with an index (a name inside), words OR a filter on every
    # row, a word longer than the prefix index.
    assert names("name:*x*") == ["fts_first"]
    assert names("auth OR project:x", limit=None) == ["fts_first"]
    # Words OR a filter, a page: each branch as a query of its own (or_union).
    assert names("auth OR project:x") == ["fts_first", "or_union"]
    assert names("authentication", sort="recent") == ["fts_first"]
    assert names('"authentication"', sort="recent") == [
        "fts_first",
        "order_walk",
        "order_range",
        "order_set",
    ]
    assert compiled("authentication").facts is not None
    assert compiled("authentication").facts.sample_sql is None  # type: ignore[union-attr]


def test_relevance_order_is_score_then_most_recent(conn: sqlite3.Connection) -> None:
    # Many equal scores (same field lengths), so the tie-break and the page's score cut-off
    # (only matches scoring at least as well as the page's last row are looked up) both matter.
    insert_sessions(
        conn,
        [
            make_session(
                n,
                name="auth" if n % 3 else f"auth-{n}",
                project="p" if n % 2 else None,
                last_access=f"2026-11-{10 + n % 7:02d}T00:00:00.000000Z",
            )
            for n in range(60)
        ],
    )
    whole = compiled("auth", limit=None)
    rows = conn.execute(whole.sql, whole.params).fetchall()
    at = RESULT_COLUMNS.index("last_access")
    keys = [(-row[-1], row[at]) for row in rows]  # score (higher first), then last_access
    assert len(rows) == 60
    assert all(a[0] < b[0] or (a[0] == b[0] and a[1] >= b[1]) for a, b in pairwise(keys))
    ids = [row[0] for row in rows]
    for limit in (1, 5, 20, 59, 60, 61):
        for offset in (0, 1, 19, 40, 59, 60, 70):
            page = compiled("auth", limit=limit, offset=offset)
            got = [row[0] for row in conn.execute(page.sql, page.params)]
            assert got == ids[offset : offset + limit], (limit, offset)
