"""The name-order snapshot (migration 009): full-text matches A-Z without sorting them.

``sessions_name_fts`` indexes every session's text under its rank in name order (NOCASE) at
the last build, so ``MATCH ? ORDER BY rowid`` yields the matches A-Z and a query stops at its
page (``name_snapshot``, store.query.compiler). Sessions written since the build (inserted:
rowids above the build's highest; renamed, or reusing a built rowid: ``sessions_name_dirty``)
are read from ``sessions_fts`` and merged, so results are exact whatever the delta; the delta
only costs time, and a fold (store.name_fold, the watcher when idle) or a rebuild (here, ``db
reindex``, migration 012) empties it. docs/search.md, "Dense data, fifth round" and "seventh
round".

Synchronous (stdlib ``sqlite3``), like store.search: the CLI runs it without an event loop.
"""

from __future__ import annotations

import sqlite3

from store.columns import ASCII_FOLD
from store.query.compiler import (
    NAME_PAGE_SQL,
    NAME_SNAPSHOT_TABLES,
    CompiledQuery,
    NameWalk,
    Plan,
)
from store.query.windows import WINDOW_ESTIMATE_SQL, window_days, window_estimate

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

RANK_SPACING = 1 << 20
"""The distance between two neighbours' ranks at a build (rank = position * 2^20, migration
012): a session written later is folded in under a rank inside a gap (store.name_fold).
Measured at 100,000 sessions, the snapshot's index is 45.5 MB with this spacing, 34.7 MB without
gaps (its rowid deltas take 3-4 bytes, not 1-2), 49.9 MB at 2^24, 54.9 MB at 2^30; 2^20 leaves a
gap room for 1,024 names appended at one place (store.name_fold.PACK_STEP) and 10 halvings."""

# The build: the same statements as migration 012's (which cannot import them).
REBUILD_SQL: tuple[str, ...] = (
    "DELETE FROM sessions_name_build",
    "INSERT INTO sessions_name_fts (sessions_name_fts) VALUES ('delete-all')",
    "DELETE FROM sessions_name_rank",
    "DELETE FROM sessions_name_dirty",
    "INSERT INTO sessions_name_rank (rank, sid) "
    "SELECT row_number() OVER (ORDER BY name COLLATE NOCASE, rowid) * ?, rowid FROM sessions",
    "INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory) "
    "SELECT r.rank, s.name, s.project, s.worktree, s.branch, s.directory "
    "FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid ORDER BY r.rank",
    "INSERT INTO sessions_name_build (id, max_rowid, sessions, built_at) "
    "SELECT 1, coalesce(max(rowid), 0), count(*), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
    "FROM sessions",
)

_AUTOMERGE_SQL = "INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('automerge', ?)"

DELTA_CAP = 5_000
"""Most dirty rows the planner counts (a capped count: ~0.1 ms; at 5,000 lookups of ~40 µs
the snapshot has lost to every other plan long before)."""

_TABLES_SQL = (
    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name IN "
    f"({', '.join('?' for _ in NAME_SNAPSHOT_TABLES)})"
)
_FACTS_SQL = (
    "SELECT (SELECT max_rowid FROM sessions_name_build), "
    f"(SELECT count(*) FROM (SELECT 1 FROM sessions_name_dirty LIMIT {DELTA_CAP})), "
    "(SELECT max(rowid) FROM sessions)"
)


def has_snapshot(conn: sqlite3.Connection) -> bool:
    """Whether the database has the snapshot's tables (migration 009)."""
    (found,) = conn.execute(_TABLES_SQL, NAME_SNAPSHOT_TABLES).fetchone()
    return bool(found == len(NAME_SNAPSHOT_TABLES))


def snapshot_facts(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """The snapshot's delta for the planner: (sessions inserted since the build, at most
    their rowid span; dirty ones: renamed, or reusing a built rowid, counted up to
    DELTA_CAP), or None when the database has no snapshot (not migrated to 009) or it was
    never built."""
    if not has_snapshot(conn):
        return None
    built, dirty, top = conn.execute(_FACTS_SQL).fetchone()
    if built is None:
        return None
    return max(0, int(top or 0) - int(built)), int(dirty)


def window_facts(
    conn: sqlite3.Connection, compiled: CompiledQuery, window: tuple[int, ...] | None
) -> tuple[int, int | None] | None:
    """For ``name_window``: its window's sessions, estimated from the rowids of the sessions
    created last before each end, and the days it spans (None when not dates): the
    planner's ``window`` read when it has it (store.search.window_rows_sync), else read here
    (four seeks: a window beside an exact project is not the indexed filter); None without
    that plan."""
    walks = [p.name_walk for p in compiled.plans if p.name == "name_window" and p.name_walk]
    bounds = walks[0].window if walks else None
    if bounds is None:
        return None
    if window is not None:
        return window[0], window[2] if len(window) > 2 else None
    row = conn.execute(WINDOW_ESTIMATE_SQL, (bounds[1], bounds[0])).fetchone()
    return window_estimate(row, bounds)[0], window_days(row, bounds)


REFRESH_MIN_DELTA = 1_000
"""The delta (sessions inserted or renamed since the build or the last fold) from which
``doctor`` calls the snapshot behind: ~1 ms of a dense word's query at 1 M sessions. The
watcher folds any delta in when idle (store.name_fold)."""
REFRESH_SHARE = 0.02
"""... and this share of all sessions."""
REFRESH_MAX_SESSIONS = 100_000
"""The most sessions the watcher rebuilds the snapshot for by itself, when a fold finds no room
left around a gap (rare: store.name_fold relabels a window of neighbours first): the rebuild is
one write transaction (~2.5 s at 100,000 sessions, 60-90 s at 1,000,000 on a loaded 2-core
machine) and the watcher's events wait for it. Above, it says so (INFO) and `db reindex` does
it."""


def due(conn: sqlite3.Connection) -> tuple[str, int, int] | None:
    """How far behind the snapshot is (what ``doctor`` reads): ("fresh" or "due": at least
    REFRESH_MIN_DELTA and REFRESH_SHARE of the sessions written since the build or the last
    fold), the sessions (in the snapshot plus inserted since: an upper bound) and the delta
    (inserted since, dirty ones counted up to DELTA_CAP); None without a built snapshot."""
    facts = snapshot_facts(conn)
    if facts is None:
        return None
    (built,) = conn.execute("SELECT sessions FROM sessions_name_build").fetchone()
    sessions = int(built) + facts[0]
    delta = facts[0] + facts[1]
    if delta < max(REFRESH_MIN_DELTA, REFRESH_SHARE * sessions):
        return "fresh", sessions, delta
    return "due", sessions, delta


def rebuild(conn: sqlite3.Connection, spacing: int | None = None) -> int:
    """Rebuild the snapshot inside the caller's write transaction, its ranks ``spacing``
    (default RANK_SPACING) apart; returns the sessions it holds. One transaction, so the writer
    waits for it (see REFRESH_MAX_SESSIONS)."""
    spacing = RANK_SPACING if spacing is None else spacing
    # Migration 012 turned the index's own merging off (folds merge a few pages at a time, of
    # small segments only); a bulk build without it leaves dozens of big segments, which the
    # folds' merging then took on, up to 350 ms a transaction at 1 M sessions. On for the build.
    merging = conn.execute(
        "SELECT v FROM sessions_name_fts_config WHERE k = 'automerge'"
    ).fetchone()
    if merging is not None:
        conn.execute(_AUTOMERGE_SQL, (4,))
    for statement in REBUILD_SQL:
        conn.execute(statement, (spacing,) if "?" in statement else ())
    if merging is not None:
        conn.execute(_AUTOMERGE_SQL, (merging[0],))
    (count,) = conn.execute("SELECT sessions FROM sessions_name_build").fetchone()
    return int(count)


def name_rows(conn: sqlite3.Connection, plan: Plan) -> list[Any]:
    """``name_snapshot``'s page (RESULT_COLUMNS), in one read transaction (a snapshot rebuilt
    between its reads would mix two builds): the snapshot's matches streamed in name order
    until ``needed`` of them pass and the next has another name; the delta's matches; the
    page cut from both in the exact order."""
    steps = plan.name_walk
    if steps is None:
        return conn.execute(plan.sql, plan.params).fetchall()
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        kept, last = _walk(conn, plan, steps.needed)
        kept.extend(sid for (sid,) in conn.execute(*delta_statement(steps, last)))
        if not kept:
            return []
        import json  # loaded with the CLI's output already

        limit, offset = steps.page
        return conn.execute(NAME_PAGE_SQL, (json.dumps(kept), limit, offset)).fetchall()
    finally:
        if own:
            conn.execute("COMMIT")


def delta_statement(steps: NameWalk, last: str | None) -> tuple[str, tuple[Any, ...]]:
    """The delta's statement and parameters: its matches, but those named after ``last``, the
    walk's ``needed``-th row (with ``needed`` rows up to that name, a later one cannot reach
    the page; None: no bound)."""
    match, *rest = steps.delta_params
    return steps.delta_sql, (match, last, *rest)


def _walk(conn: sqlite3.Connection, plan: Plan, needed: int) -> tuple[list[int], str | None]:
    """The snapshot's first ``needed`` matches that pass (its clean rows, in name order; for
    ``name_except`` its ranks without the words' matches, read in chunks: :func:`_looked_up`), and
    after them every one with the same name as the last: equal names are ordered by last
    access, which the rank does not hold, so the page's last row may be any of them. Every
    other clean match has a later name and so comes after those ``needed`` rows. And the
    ``needed``-th row's name (None when fewer passed)."""
    cursor = conn.execute(plan.sql, plan.params)
    kept: list[int] = []
    boundary: str | None = None
    last: str | None = None
    size = needed + 1
    steps = plan.name_walk
    lookup = None if steps is None else steps.lookup_sql
    try:
        while True:
            chunk = cursor.fetchmany(size)
            if not chunk:
                return kept, last
            if lookup is not None and steps is not None:
                chunk = _looked_up(conn, lookup, steps.lookup_params, chunk)
            for sid, name in chunk:
                if len(kept) >= needed:
                    if name.translate(ASCII_FOLD) != boundary:
                        return kept, last
                elif len(kept) == needed - 1:
                    boundary, last = name.translate(ASCII_FOLD), name
                kept.append(sid)
            size = min(2 * size, 1024)
    finally:
        cursor.close()


def _looked_up(
    conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], ranks: list[Any]
) -> list[tuple[int, str]]:
    """``name_except``'s chunk of ranks (in order) as the (session, name) of those whose
    session is clean, still there and passes the filters, in rank order."""
    import json  # loaded with the CLI's output already

    rows = conn.execute(sql, (json.dumps([rank for (rank,) in ranks]), *params)).fetchall()
    return [(sid, name) for _, sid, name in rows]
