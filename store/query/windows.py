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
from store.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

TIME_INDEX: Final = "ix_sessions_last_access"
"""The index a window's sessions are read from (last_access, then the rowid)."""
NAME_INDEX: Final = "ix_sessions_name_nocase"
"""The name order's index: (name NOCASE, last_access), so a window is tested in it."""
DAY_INDEX: Final = "ix_sessions_access_day"
"""Each ended session's day of last access (its first ten characters), then its rowid
(migration 013): a day's lowest and highest rowid are the ends of its run in the index."""
ALIVE_INDEX: Final = "ix_sessions_alive"
"""The alive sessions' index (migration 011: last_access first), which the day index omits."""
EARLY_INDEX: Final = "ix_sessions_used_early"
"""The sessions whose last access precedes their creation (migration 013; none, normally)."""
PLAN_INDEX: Final = {
    "window_scored_by_day": DAY_INDEX,
    "window_created": EARLY_INDEX,
    # store.query.compiler's walks of a field's index by creation read it too.
    "created_walk": EARLY_INDEX,
    "created_set": EARLY_INDEX,
    # The name snapshot's walk within a window's rowid range (compiler._name_snapshot_plan).
    "name_window": DAY_INDEX,
}
"""The plans that read an index of migration 013 (a database may predate it)."""
_DAY: Final = "substr(sessions.last_access, 1, 10)"


class Beside(Value):
    """A ``since:``/``until:`` window beside the query's indexed filter (an exact field, a
    status, a folder: `auth project:myapp until:2025-06-01`), for the planner: the window
    (its start and end, None when open) and the statement counting how many of the newest
    :data:`~store.query.compiler.SAMPLE_SIZE` matches pass the query's other filters, the
    window left out (its parameters after it): the share of the window's sessions that the
    filter beside it keeps, which the newest matches, outside a window in the past, cannot
    say through the whole query (docs/search.md, ninth round)."""

    __match_args__ = ("window", "passing_sql", "passing_params")
    __slots__ = __match_args__
    window: tuple[str | None, str | None]
    passing_sql: str
    passing_params: tuple[Any, ...]

    def __init__(
        self,
        window: tuple[str | None, str | None],
        passing_sql: str,
        passing_params: tuple[Any, ...],
    ) -> None:
        super().__init__(window, passing_sql, passing_params)


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


def day_bounds_sql(window: tuple[str | None, str | None]) -> tuple[str, list[str]] | None:
    """The CTE of the window's lowest and highest rowid read by day (migration 013), and its
    parameters; None for ends that are not timestamps (the parser's always are).

    The ended sessions of a day strictly between the ends' days (its key, the first ten
    characters of last_access, between theirs) are all inside the window: their highest and
    lowest rowid are the ends of the day's run in the day index (one seek each), and the
    days are found by seeks too (each the greatest key below the last). The two days at the
    ends hold sessions on both sides of it: their entries are read from the last-access
    index (a day's stretch of it, ~0.1 µs an entry); the alive sessions, which the day index
    leaves out (their last access moves all the time), from their own index (migration 011:
    ~2,000 at 1 M). Exact for the timestamps the watcher writes, and never narrower than
    the window for any value: a key below the start's day or above the end's belongs to a
    time outside the window, whatever its format (docs/search.md, seventh round), so no
    session of the window is left out (a text with a NUL, where substr() stops, can only
    widen the range); a value without a key (an empty blob) is read apart. An open end
    needs no bound, as in :func:`_bounds`."""
    since, until = window
    if any(end is not None and (len(end) < 10 or "\x00" in end[:10]) for end in window):
        return None
    if since is not None and since[9] == "\U0010ffff":
        return None
    # The partial index's WHERE, which a query must carry for SQLite to read it.
    ended = "sessions.status = 'ended'"
    between: list[str] = []
    params: list[str] = []
    if since is not None:
        between.append(f"{_DAY} > ?")
        params.append(since[:10])
    if until is not None:
        between.append(f"{_DAY} < ?")
        params.append(until[:10])
    step = f" AND {_DAY} > ?" if since is not None else ""
    if since is not None:
        params.append(since[:10])
    run = f"FROM sessions INDEXED BY {DAY_INDEX} WHERE {ended} AND {_DAY} = days.d"
    low = f"(SELECT min(sessions.rowid) {run})" if since is not None else "NULL"
    high = f"(SELECT max(sessions.rowid) {run})" if until is not None else "NULL"
    ends = ""
    stretch = "SELECT min(sessions.rowid), max(sessions.rowid) FROM sessions INDEXED BY"
    if since is not None:  # the start's day: from the start to the next day's key
        ends += (
            f" UNION ALL {stretch} {TIME_INDEX} "
            f"WHERE sessions.last_access >= ? AND sessions.last_access < ?"
            + (" AND sessions.last_access <= ?" if until is not None else "")
        )
        params += [since, since[:9] + chr(ord(since[9]) + 1)]
        params += [until] if until is not None else []
    if until is not None:  # the end's day: from its key (or the start) to the end
        ends += (
            f" UNION ALL {stretch} {TIME_INDEX} "
            f"WHERE sessions.last_access >= ? AND sessions.last_access <= ?"
        )
        params += [max(until[:10], since or ""), until]
    inside = " AND ".join(
        f"sessions.last_access {test} ?"
        for test, end in ((">=", since), ("<=", until))
        if end is not None
    )
    # The alive sessions in the window; the ended ones without a day: substr() gives NULL
    # for an empty blob, which a since: keeps (a blob sorts after every text).
    ends += (
        f" UNION ALL {stretch} {ALIVE_INDEX} WHERE sessions.status <> 'ended' AND {inside}"
        f" UNION ALL {stretch} {DAY_INDEX} WHERE {ended} AND {_DAY} IS NULL AND {inside}"
    )
    params += [end for end in window if end is not None] * 2
    lo = "min(lo)" if since is not None else "-9223372036854775808"
    hi = "max(hi)" if until is not None else "9223372036854775807"
    sql = (
        f"WITH RECURSIVE days (d) AS (SELECT max({_DAY}) FROM sessions INDEXED BY {DAY_INDEX} "
        f"WHERE {ended} AND {' AND '.join(between)} UNION ALL SELECT (SELECT max({_DAY}) "
        f"FROM sessions INDEXED BY {DAY_INDEX} WHERE {ended} AND {_DAY} < days.d{step}) "
        f"FROM days WHERE days.d IS NOT NULL), "
        f"bounds (lo, hi) AS MATERIALIZED (SELECT {lo}, {hi} FROM ("
        f"SELECT {low} AS lo, {high} AS hi FROM days WHERE days.d IS NOT NULL{ends})) "
    )
    return sql, params


def within_bounds(rowid: str) -> str:
    """The test that ``rowid`` lies within the rowid range of a ``bounds (lo, hi)`` CTE (its
    two ends read once: non-correlated subqueries). ``name_window`` puts it before the
    session's row is read: at a window of 1 % of 1 M sessions, ~2,800 snapshot matches
    walked for a page of 20, ~94 % of them outside the range (`auth since:2025-06-01
    until:2025-06-07`: 11.6 -> 3.0 ms of CPU, the range's ends read by day included)."""
    return f"{rowid} BETWEEN (SELECT lo FROM bounds) AND (SELECT hi FROM bounds)"


def window_scored_sql(
    select: str, fts: str, times: str, where: str, window: tuple[str | None, str | None]
) -> str:
    """``window_scored``: newest_scored's stream (the newest hits, the columns bm25 needs),
    bounded to the rowids of the window's sessions: ``times`` (the window, over the
    last-access index) gives the lowest and highest, read once (MATERIALIZED) from the index
    alone; FTS5 takes both as a rowid range of its doclists. Parameters: the window's, the
    MATCH, ``where``'s, the window size."""
    return _bounds(times, window) + scored_within_bounds_sql(select, fts, where)


def scored_within_bounds_sql(select: str, fts: str, where: str) -> str:
    """The stream of :func:`window_scored_sql` after a ``bounds (lo, hi)`` CTE (its own, or
    :func:`day_bounds_sql`'s: ``window_scored_by_day``)."""
    return (
        f"SELECT {select} FROM {fts} CROSS JOIN sessions ON sessions.rowid = {fts}.rowid "
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


def window_created_sql(select: str, fts: str, times: str, where: str, negated: bool) -> str:
    """``window_created`` (``--sort created``, a window with an end): the created order walked
    down from the window's end (a budget: ``?2``; the end: ``?1``), with the window's sessions
    last used before they were created after the window's end (the partial index of
    migration 013, empty normally), which alone can be in the window and beyond the walk.
    Each walked rowid is tested against the words' matches within the walked rowids' range
    (``fts``'s MATCH, the first plain parameter after the window's; ``negated``: the query's
    words must not match) read once as a set, before its row is read; then the rows that pass
    read and tested by ``where`` (the whole query, its full-text parts ranged over ``walk``,
    which holds the two ends of the range). Exact when it fills the page, as every walk: a
    session of the window not walked comes after every walked one in the order, and after
    every one read from the partial index (created after the window's end).

    The walk runs twice (its range first, then its rowids) rather than once materialized:
    reading 10,000 entries of the created-at index costs ~1 ms, storing them ~3.
    Parameters: the end, the budget, the window's, the MATCH, the window's, ``where``'s,
    limit and offset."""
    walk = (
        "SELECT sessions.rowid AS rid FROM sessions INDEXED BY ix_sessions_created_at "
        "WHERE sessions.created_at <= ?1 "
        "ORDER BY sessions.created_at DESC, sessions.rowid DESC LIMIT ?2"
    )
    # Only those created after the window's end: the walk reaches the others in the order,
    # and one read here could come before a session the walk did not reach.
    early = (
        f"SELECT sessions.rowid FROM sessions INDEXED BY {EARLY_INDEX} "
        f"WHERE sessions.created_at > sessions.last_access AND {times} "
        f"AND sessions.created_at > ?1"
    )
    test = "NOT IN" if negated else "IN"
    return (
        f"WITH span (lo, hi) AS MATERIALIZED (SELECT min(rid), max(rid) FROM ("
        f"SELECT rid FROM ({walk}) UNION ALL {early})), "
        f"walk (rid) AS (SELECT lo FROM span UNION ALL SELECT hi FROM span) "
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT rid FROM ({walk}) WHERE rid {test} (SELECT rowid FROM {fts} WHERE {fts} MATCH ? "
        f"AND rowid BETWEEN (SELECT lo FROM span) AND (SELECT hi FROM span)) UNION ALL {early}) "
        f"AND {where} ORDER BY sessions.created_at DESC, sessions.rowid DESC LIMIT ? OFFSET ?"
    )


def window_created_wordless_sql(select: str, times: str, where: str) -> str:
    """``window_created`` of filters alone (``until:X --sort created``, no words): the created
    order walked down from the window's end (the budget: ``?2``; the end: ``?1``) and the
    window's sessions created after it (last used before they were created: migration 013's
    partial index), each row read and tested by ``where`` (the whole query). Exact when it
    fills the page, as :func:`window_created_sql`, for the same reason. Parameters: the end,
    the budget, the window's, ``where``'s, limit and offset."""
    return (
        f"SELECT {select} FROM sessions NOT INDEXED WHERE sessions.rowid IN ("
        f"SELECT rid FROM (SELECT sessions.rowid AS rid FROM sessions "
        f"INDEXED BY ix_sessions_created_at WHERE sessions.created_at <= ?1 "
        f"ORDER BY sessions.created_at DESC, sessions.rowid DESC LIMIT ?2) "
        f"UNION ALL SELECT sessions.rowid FROM sessions INDEXED BY {EARLY_INDEX} "
        f"WHERE sessions.created_at > sessions.last_access AND {times} "
        f"AND sessions.created_at > ?1) "
        f"AND {where} ORDER BY sessions.created_at DESC, sessions.rowid DESC LIMIT ? OFFSET ?"
    )


def window_times_sql(window: tuple[str | None, str | None]) -> tuple[str, list[str]]:
    """The window's condition on last access (at least one end), and its parameters."""
    since, until = window
    ends = (("sessions.last_access >= ?", since), ("sessions.last_access <= ?", until))
    return (
        " AND ".join(test for test, end in ends if end is not None),
        [end for end in window if end is not None],
    )


def early_count_sql(window: tuple[str | None, str | None]) -> tuple[str, list[str]]:
    """How many of the window's sessions were last used before they were created and
    created after its end, counted in the partial index of migration 013 up to a cap (the
    last parameter): what ``window_created`` reads besides its walk."""
    times, params = window_times_sql(window)
    if window[1] is not None:
        times += " AND sessions.created_at > ?"
        params.append(window[1])
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM sessions INDEXED BY {EARLY_INDEX} "
        f"WHERE sessions.created_at > sessions.last_access AND {times} LIMIT ?)",
        params,
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


def window_scan_sql(select: str, times: str, order: str) -> str:
    """``window_walk`` without words (a window alone, ``--sort name``): the name index read in
    its order, the window tested in it (it holds last_access), each row in the window read,
    stopping at the page (equal names sorted by last access: the index holds them in the
    opposite order). Exact: no budget. SQLite's own plan for a window with both ends read the
    window from the last-access index and sorted all of it (`since:2025-06-01
    until:2025-06-07`, 9,708 sessions at 1 M: 16 ms); this reads ~100 index entries a page
    row there (0.6 ms). Parameters: the window's, limit and offset."""
    return (
        f"SELECT {select} FROM sessions INDEXED BY {NAME_INDEX} WHERE {times} "
        f"ORDER BY {order} LIMIT ? OFFSET ?"
    )


def reads_in_time_order(sql: str) -> bool:
    """Whether a plan's SQL reads the last-access index in its own order, newest first
    (``filter_tested`` by recent over a window: the reading stops at the page)."""
    return f" INDEXED BY {TIME_INDEX} " in sql and sql.endswith(
        "ORDER BY sessions.last_access DESC, sessions.rowid DESC"
    )


def reads_beside_in_order(sql: str) -> bool:
    """Whether ``filter_tested``'s SQL reads a window beside a field or a status newest first
    from that filter's index in its own order (one value, then last_access: the window is a
    range of it, read in order, and the reading stops at the page); a folder's index holds
    several directories' runs, a field's prefix (LIKE) several values', which are not in that
    order."""
    return (
        " INDEXED BY ix_sessions_directory " not in sql
        and " LIKE " not in sql
        and " UNION ALL " not in sql
        and sql.endswith("ORDER BY sessions.last_access DESC, sessions.rowid DESC")
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
    "WHERE ?2 IS NOT NULL AND created_at < ?2 ORDER BY created_at DESC LIMIT 1), "
    "(SELECT min(last_access) FROM sessions), (SELECT max(last_access) FROM sessions)"
)
"""Parameters: the window's end (until) and start (since), each None when open. Then the
first and last last access (one seek each in the last-access index): how many days an open
end's window spans."""


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


def window_days(row: tuple[Any, ...] | None, bounds: tuple[str | None, str | None]) -> int | None:
    """How many days :func:`day_bounds_sql` reads (its seeks), from
    :data:`WINDOW_ESTIMATE_SQL`'s row: the calendar days from the window's start (or the
    first last access) to its end (or the last); None when a day is not a date (pure)."""
    from datetime import date

    if row is None or len(row) < 5 or row[3] is None:
        return None
    since, until = bounds
    first, last = since or str(row[3]), until or str(row[4])
    try:
        return max(1, (date.fromisoformat(last[:10]) - date.fromisoformat(first[:10])).days + 1)
    except ValueError:
        return None
