"""Time windows: the plans of words with a ``since:``/``until:`` window (pure SQL text).

A window on last access (``auth until:2025-01-01``) keeps sessions that the newest matches do
not pass when it lies in the past: a stream of the matches newest first reads back through
every newer match (~300 ms for a word in half of 1 M sessions) before the window's start.
Sessions are recorded as they are created, so a window's sessions sit in a stretch of rowids;
the stretch itself is read exactly from the last-access index (the lowest and highest rowid of
the window's entries, index only: ~0.1 µs an entry), and the full-text stream is bounded to it
(FTS5 seeks to the highest rowid). Nothing here assumes that rowids follow time: the bounds
are exact whatever the order, only the plan's cost depends on it.

Used by store.query.compiler (the plans) and store.search (the planner's estimate).
"""

from __future__ import annotations

from store.query.ast import And, Since, Until

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

TIME_INDEX: Final = "ix_sessions_last_access"
"""The index a window's sessions are read from (last_access, then the rowid)."""
NAME_INDEX: Final = "ix_sessions_name_nocase"
"""The name order's index: (name NOCASE, last_access), so a window is tested in it."""


def window_bounds(node: object) -> tuple[str | None, str | None] | None:
    """The window the query's top-level ``since:``/``until:`` keep (latest since, earliest
    until; None for an open end), or None without one."""
    children = node.children if isinstance(node, And) else (node,)
    since = [c.at for c in children if isinstance(c, Since)]
    until = [c.at for c in children if isinstance(c, Until)]
    if not since and not until:
        return None
    return (max(since) if since else None, min(until) if until else None)


def _bounds(times: str, window: tuple[str | None, str | None]) -> str:
    """The CTE of the window's lowest and highest rowid, from the last-access index alone;
    an open end needs no bound (its aggregate would cost a second pass: `until:` alone, the
    highest only, 9 ms for 95,000 entries at 1 M, where both took 15-20). Both NULL when
    the window holds no session (then nothing is between them)."""
    since, until = window
    low = "min(sessions.rowid)" if since is not None else "-9223372036854775808"
    high = "max(sessions.rowid)" if until is not None else "9223372036854775807"
    return (
        f"WITH bounds (lo, hi) AS MATERIALIZED (SELECT {low}, {high} "
        f"FROM sessions INDEXED BY {TIME_INDEX} WHERE {times}) "
    )


def window_scored_sql(
    select: str, fts: str, times: str, where: str, window: tuple[str | None, str | None]
) -> str:
    """``window_scored``: newest_scored's stream (the newest hits, the columns bm25 needs),
    bounded to the rowids of the window's sessions: ``times`` (the window, over the
    last-access index) gives the lowest and highest, read once (MATERIALIZED) from the index
    alone; FTS5 takes both as a rowid range of its doclists. Parameters: the window's, the
    MATCH, ``where``'s, the window size."""
    return (
        _bounds(times, window)
        + f"SELECT {select} FROM {fts} CROSS JOIN sessions ON sessions.rowid = {fts}.rowid "
        f"WHERE {fts} MATCH ? AND {fts}.rowid BETWEEN (SELECT lo FROM bounds) "
        f"AND (SELECT hi FROM bounds) AND {where} ORDER BY {fts}.rowid DESC LIMIT ?"
    )


def window_range_sql(
    select: str,
    fts: str,
    times: str,
    where: str,
    order: str,
    window: tuple[str | None, str | None],
) -> str:
    """``window_range`` (unranked): the words' matches within the window's rowid range (its
    lowest and highest, as for window_scored) read once as a set, each read by rowid and
    tested by ``where`` (the rest of the query), then sorted: fts_first over a slice of the
    doclists. NOT INDEXED: the matches drive (rowid lookups stay allowed). Parameters: the
    window's, the MATCH, ``where``'s, limit and offset."""
    return (
        _bounds(times, window)
        + f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT rowid FROM {fts} WHERE {fts} MATCH ? AND rowid BETWEEN (SELECT lo FROM bounds) "
        f"AND (SELECT hi FROM bounds)) AND {where} ORDER BY {order} LIMIT ? OFFSET ?"
    )


def window_set_sql(select: str, words: str, times: str, order: str, index: str) -> str:
    """``window_set`` (``--sort recent|name``): the window's first rows (a budget, after its
    parameters) in the sort's order from ``index`` alone (the last-access index, or the name
    index, which holds last_access: the window is tested in it), each rowid tested
    against the words' matches read once as a set (``words``: full-text sets only) before any
    row is read; then only the passing rows read. Exact when it fills the page, as every
    walk (order_set's shape, over the window's stretch of the index)."""
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT sessions.rowid FROM (SELECT sessions.rowid AS rowid FROM sessions "
        f"INDEXED BY {index} WHERE {times} ORDER BY {order} LIMIT ?) AS sessions "
        f"WHERE {words}) ORDER BY {order} LIMIT ? OFFSET ?"
    )


def window_walk_sql(select: str, where: str, times: str, order: str) -> str:
    """``window_walk`` (``--sort name``): the first rows (a budget, after the window's
    parameters) of the window in name order, the window tested in the name index itself (it
    holds last_access: no row is read for a session outside the window), then each walked row
    tested by ``where`` (one FTS5 lookup a row); exact when it fills the page, as every walk.
    NOT INDEXED: the walked rowids drive the outer loop."""
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT sessions.rowid FROM sessions INDEXED BY {NAME_INDEX} WHERE {times} "
        f"ORDER BY {order} LIMIT ?) AND {where} ORDER BY {order} LIMIT ? OFFSET ?"
    )


def reads_in_time_order(sql: str) -> bool:
    """Whether a plan's SQL reads the last-access index in its own order, newest first
    (``filter_tested`` by recent over a window: the reading stops at the page)."""
    return f" INDEXED BY {TIME_INDEX} " in sql and sql.endswith(
        "ORDER BY sessions.last_access DESC, sessions.rowid DESC"
    )


# The planner's estimate of a window's sessions when they are too many to count: the rowids
# of the sessions created last before each end (one seek each in the created-at index), which
# is the window's stretch of rowids when sessions are recorded as they are created. An estimate
# only: it sizes the plans, the bounds above keep them exact.
WINDOW_ESTIMATE_SQL: Final = (
    "SELECT (SELECT max(rowid) FROM sessions), "
    "(SELECT rowid FROM sessions INDEXED BY ix_sessions_created_at "
    "WHERE ?1 IS NOT NULL AND created_at <= ?1 ORDER BY created_at DESC LIMIT 1), "
    "(SELECT rowid FROM sessions INDEXED BY ix_sessions_created_at "
    "WHERE ?2 IS NOT NULL AND created_at < ?2 ORDER BY created_at DESC LIMIT 1)"
)
"""Parameters: the window's end (until) and start (since), each None when open."""


def window_estimate(
    row: tuple[Any, ...] | None, bounds: tuple[str | None, str | None]
) -> tuple[int, int]:
    """The window's sessions estimated from :data:`WINDOW_ESTIMATE_SQL`'s row, and the rows
    above its end (recorded after it: a walk from the newest meets them first) (pure)."""
    if row is None or row[0] is None:
        return 0, 0
    top = int(row[0])
    since, until = bounds
    high = top if until is None else int(row[1] or 0)
    low = 0 if since is None else int(row[2] or 0)
    return max(0, high - low), top - high
