"""The name-order snapshot (migration 009): full-text matches A-Z without sorting them.

``sessions_name_fts`` indexes every session's text under its rank in name order (NOCASE) at
the last build, so ``MATCH ? ORDER BY rowid`` yields the matches A-Z and a query stops at its
page (``name_snapshot``, store.query.compiler). Sessions written since the build (inserted:
rowids above the build's highest; renamed, or reusing a built rowid: ``sessions_name_dirty``)
are read from ``sessions_fts`` and merged, so results are exact whatever the delta; the delta
only costs time, and a rebuild (here, ``db reindex``, migration 009) empties it.
docs/search.md, "Dense data, fifth round".

Synchronous (stdlib ``sqlite3``), like store.search: the CLI runs it without an event loop.
"""

from __future__ import annotations

import sqlite3

from store.query.compiler import NAME_PAGE_SQL, NAME_SNAPSHOT_TABLES, NameWalk, Plan

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

# The build: the same statements as migration 009's (which cannot import them).
REBUILD_SQL: tuple[str, ...] = (
    "DELETE FROM sessions_name_build",
    "INSERT INTO sessions_name_fts (sessions_name_fts) VALUES ('delete-all')",
    "DELETE FROM sessions_name_rank",
    "DELETE FROM sessions_name_dirty",
    "INSERT INTO sessions_name_rank (rank, sid) "
    "SELECT row_number() OVER (ORDER BY name COLLATE NOCASE, rowid), rowid FROM sessions",
    "INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory) "
    "SELECT r.rank, s.name, s.project, s.worktree, s.branch, s.directory "
    "FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid ORDER BY r.rank",
    "INSERT INTO sessions_name_build (id, max_rowid, sessions, built_at) "
    "SELECT 1, coalesce(max(rowid), 0), count(*), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
    "FROM sessions",
)

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
# SQLite's NOCASE folds ASCII letters only.
_NOCASE = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


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


REFRESH_MIN_DELTA = 1_000
"""The delta (sessions inserted or renamed since the build) below which the watcher's
maintenance leaves the snapshot alone: ~1 ms of a dense word's query at 1 M sessions."""
REFRESH_SHARE = 0.02
"""... or below this share of all sessions (a rebuild reads them all: a fixed share keeps its
cost per recorded session constant)."""
REFRESH_MAX_SESSIONS = 100_000
"""The most sessions the watcher rebuilds the snapshot for by itself: the rebuild is one write
transaction (~2.5 s at 100,000 sessions, 60-90 s at 1,000,000 on a loaded 2-core machine), and
the watcher's events wait for it. Above, it says so (INFO) and `db reindex` does it."""


def refresh(
    conn: sqlite3.Connection, max_sessions: int | None = None
) -> tuple[str, int, int, float] | None:
    """The watcher's maintenance (on its writer's connection, outside a transaction): rebuild
    the snapshot when its delta passed the threshold (REFRESH_MIN_DELTA and REFRESH_SHARE of
    the sessions) and the database holds at most ``max_sessions`` (default
    REFRESH_MAX_SESSIONS). Returns None when nothing was due (or there is no snapshot), else
    ("rebuilt" or "too_big", sessions, delta, seconds the rebuild took)."""
    import time

    found = due(conn, max_sessions)
    if found is None or found[0] == "fresh":
        return None
    verdict, sessions, delta = found
    if verdict == "too_big":
        return "too_big", sessions, delta, 0.0
    from store.db import _run_transaction  # the writer's own (it runs on its connection)

    started = time.perf_counter()
    held = _run_transaction(conn, rebuild)
    return "rebuilt", held, delta, time.perf_counter() - started


def due(conn: sqlite3.Connection, max_sessions: int | None = None) -> tuple[str, int, int] | None:
    """Whether the snapshot is due for a rebuild (what :func:`refresh` and ``doctor`` read):
    ("fresh", "due" or "too_big": due, but above ``max_sessions``, default
    REFRESH_MAX_SESSIONS, the watcher leaves it to `db reindex`), the sessions (at the build
    plus inserted since: an upper bound) and the delta (inserted since the build, dirty ones
    counted up to DELTA_CAP); None without a built snapshot."""
    facts = snapshot_facts(conn)
    if facts is None:
        return None
    (built,) = conn.execute("SELECT sessions FROM sessions_name_build").fetchone()
    sessions = int(built) + facts[0]
    delta = facts[0] + facts[1]
    if delta < max(REFRESH_MIN_DELTA, REFRESH_SHARE * sessions):
        return "fresh", sessions, delta
    if sessions > (REFRESH_MAX_SESSIONS if max_sessions is None else max_sessions):
        return "too_big", sessions, delta
    return "due", sessions, delta


def rebuild(conn: sqlite3.Connection) -> int:
    """Rebuild the snapshot inside the caller's write transaction; returns the sessions it
    holds. One transaction, so the writer waits for it (see REFRESH_MAX_SESSIONS)."""
    for statement in REBUILD_SQL:
        conn.execute(statement)
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
    """The snapshot's first ``needed`` matches that pass (its clean rows, in name order), and
    after them every one with the same name as the last: equal names are ordered by last
    access, which the rank does not hold, so the page's last row may be any of them. Every
    other clean match has a later name and so comes after those ``needed`` rows. And the
    ``needed``-th row's name (None when fewer passed)."""
    cursor = conn.execute(plan.sql, plan.params)
    kept: list[int] = []
    boundary: str | None = None
    last: str | None = None
    size = needed + 1
    try:
        while True:
            chunk = cursor.fetchmany(size)
            if not chunk:
                return kept, last
            for sid, name in chunk:
                if len(kept) >= needed:
                    if name.translate(_NOCASE) != boundary:
                        return kept, last
                elif len(kept) == needed - 1:
                    boundary, last = name.translate(_NOCASE), name
                kept.append(sid)
            size = min(2 * size, 1024)
    finally:
        cursor.close()
