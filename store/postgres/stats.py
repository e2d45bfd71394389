"""``ccmgr-watch stats`` on PostgreSQL: the statistics of :mod:`store.stats` in PostgreSQL's SQL.

The definitions are store/stats.py's (docs/stats.md): a session's islands (the stretches with
at least one client attached) from its attach, detach, ``killed`` and ``vanished`` events,
clipped to its life and to the window; lifetimes of the sessions created in the window; local
hours and days. The result is the same :class:`store.stats.Activity`, so ``watcher.activity``
folds it and the CLI prints it exactly as for SQLite.

The islands are read from ``attached_spans``, kept by statement-level triggers
(sql/postgresql/002_attached_spans.sql; deriving them at each run took 24-35 s over 1 M events).

Three things SQLite gives and PostgreSQL does not:

- **Timestamps as epoch seconds**: SQLite's ``unixepoch(t) + CAST(substr(t, 20, 7) AS REAL)``
  reads stored text and gives NULL for text it cannot read; a PostgreSQL cast would raise
  instead. ``ccmgr_epoch(t)`` (the migration) gives SQLite's number, NULL where SQLite gives
  NULL; tests/postgres/test_stats.py holds it to SQLite.
- **Local time in the process's zone** (SQLite's ``localtime`` asks the C library): the server's
  TimeZone setting is another zone and may not know the process's (``TZ=EST+5``, a copied
  /etc/localtime). :func:`zone_offsets` asks the C library here (``time.localtime``, as SQLite
  does) for the zone's UTC offsets and the moments they change, over the window; the statement
  looks each moment's offset up with ``width_bucket`` (half-hour and 45-minute zones included).
- **Dynamic typing**: the one statement's parts are rows of one shape (``_GROUP_SELECT``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from store.stats import FAR_PAST, Activity, GroupRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from store.postgres.reads import PgReader
    from store.stats import GroupBy

_ATTACH_EVENTS: Final = "('attached', 'detached', 'killed', 'vanished')"


# --- the zone, asked of the C library as SQLite's localtime does -------------------------------

_SAMPLE_STEP: Final = 7 * 86400
"""How far apart the zone is sampled for changes of its offset (two changes within a week, back
to the same offset, would be missed; no zone has them)."""


def zone_offsets(lo: float, hi: float) -> tuple[list[float], list[float]]:
    """The process's zone over [``lo``, ``hi``] (epoch seconds) as (moments, offsets): from
    ``moments[i]`` on, local time is UTC + ``offsets[i]`` seconds (``moments[0]`` is far in the
    past). What ``time.localtime`` says, which is what SQLite's ``localtime`` uses."""

    def offset(t: float) -> int:
        try:
            return time.localtime(t).tm_gmtoff
        except (OverflowError, OSError, ValueError):
            return time.localtime(0).tm_gmtoff

    # The data ends by now (a session attached now counts until now): later moments, only
    # in hostile rows, take the last offset instead of sampling up to the year 33,000.
    hi = min(hi, time.time() + 86400.0)
    start = int(max(lo, FAR_PAST))
    moments, offsets = [-1e18], [float(offset(start))]
    t = start
    while t < hi:
        after = int(min(t + _SAMPLE_STEP, hi + 1))
        if offset(after) != offsets[-1]:
            low, high = t, after  # offset(low) is the last one, offset(high) differs
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            moments.append(float(high))
            offsets.append(float(offset(high)))
            t = high
        else:
            t = after
    return moments, offsets


def _local(t: str) -> str:
    """SQL for epoch seconds ``t`` as local "epoch seconds" (wall-clock time counted from 1970);
    needs ``win`` in the FROM clause."""
    return f"({t} + win.offs[width_bucket({t}, win.moments)])"


def _cell(t: str) -> str:
    """SQL for the local day (since 1970-01-01) and hour of local epoch seconds ``t``
    (SQLite's CAST AS INTEGER: truncation)."""
    day = f"trunc({t} / 86400)"
    return f"{day}::bigint, trunc(({t} - 86400 * {day}) / 3600)::bigint"


# --- the statement ----------------------------------------------------------------------------


def _spans_ctes(where: str) -> str:
    """``win`` (now, lo, hi, the zone), ``sel`` (the selected sessions alive in the window),
    and ``pieces`` (their attached time as disjoint spans, clipped to their
    life); parameters: now, lo, hi, moments, offsets, then ``where``'s."""
    ended = "coalesce(s.ended, s.last)"
    return f"""
win (now, lo, hi, moments, offs) AS MATERIALIZED (
    SELECT %s::float8, %s::float8, %s::float8, %s::float8[], %s::float8[]
),
selected (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT s.id, s.created,
        CASE WHEN s.status = 'ended' THEN {ended} ELSE win.now END,
        CASE WHEN s.status = 'ended' THEN {ended}
             WHEN s.status = 'attached' THEN win.now
             ELSE s.last END,
        nullif(s.project, ''), nullif(s.worktree, ''), nullif(s.branch, '')
    FROM win, (
        -- The times as epoch seconds, stored as they were written (sql/postgresql/002).
        SELECT sessions.id, sessions.status, sessions.project, sessions.worktree,
            sessions.branch, sessions.created_epoch AS created, sessions.ended_epoch AS ended,
            sessions.last_access_epoch AS last
        FROM sessions WHERE {where}) AS s
),
sel (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT selected.* FROM selected, win WHERE coalesce(life_end >= win.lo, true)
        AND coalesce(coalesce(created, life_end) <= win.hi, true)
),
pieces (sid, s, e) AS MATERIALIZED (
    -- Clipping commutes with the union (store/stats.py); a session without a readable end of
    -- its spans (cap NULL) has none, as SQLite's min() with a NULL gives.
    SELECT sid, s, e FROM (
        SELECT sel.sid, greatest(a.span_start, coalesce(sel.created, a.span_start)) AS s,
            least(a.span_end, sel.cap) AS e
        FROM sel JOIN attached_spans AS a ON a.session_id = sel.sid
        WHERE sel.cap IS NOT NULL) AS c
    WHERE e > s
)"""


def _group_ctes(key: str) -> str:
    """Per-session rows (attached time and attaches within the window, summed over the
    session's islands set-wise), then the lifetimes' medians per group (level 0) and in all
    (level 1)."""
    life = "greatest(0.0, sel.life_end - sel.created)"
    return f"""
island_sums (sid, attached, n) AS (
    -- Attached time: each island clipped to the session's life and the window (none without
    -- a readable end of its spans, as SQLite's min() with a NULL gives). Attaches: all of an
    -- island's when they lie in the window, none when outside, else counted from the events
    -- (an island across the window's edge: at most two a session).
    SELECT sel.sid,
        sum(CASE WHEN sel.cap IS NOT NULL THEN greatest(0.0, least(a.span_end, sel.cap, win.hi)
            - greatest(a.span_start, coalesce(sel.created, a.span_start), win.lo)) END),
        sum(CASE WHEN a.span_start >= win.lo AND a.last_attach <= win.hi THEN a.attaches
            WHEN a.last_attach < win.lo OR a.span_start > win.hi THEN 0
            ELSE (SELECT count(*) FROM session_events AS x
                WHERE x.session_id = a.session_id AND x.event_type IN {_ATTACH_EVENTS}
                    AND x.event_type = 'attached'
                    AND x.epoch BETWEEN greatest(a.span_start, win.lo)
                        AND least(a.last_attach, win.hi)) END)
    FROM sel JOIN attached_spans AS a ON a.session_id = sel.sid, win
    GROUP BY sel.sid
),
members (k, alive, born, life, attached, n, created) AS MATERIALIZED (
    SELECT {key},
        coalesce(sel.life_end >= win.lo AND coalesce(sel.created, sel.life_end) <= win.hi, false),
        coalesce(sel.created BETWEEN win.lo AND win.hi, false),
        CASE WHEN sel.life_end IS NOT NULL AND sel.created IS NOT NULL THEN {life} END,
        coalesce(island_sums.attached, 0.0), coalesce(island_sums.n, 0), sel.created
    FROM sel CROSS JOIN win LEFT JOIN island_sums ON island_sums.sid = sel.sid
),
levels (lvl, k, alive, born, life, attached, n) AS (
    SELECT 0, k, alive, born, life, attached, n FROM members
    UNION ALL SELECT 1, NULL, alive, born, life, attached, n FROM members
),
ranked (lvl, k, life, rn, cnt) AS (
    SELECT lvl, k, life, row_number() OVER (PARTITION BY lvl, k ORDER BY life),
        count(*) OVER (PARTITION BY lvl, k)
    FROM levels WHERE born AND life IS NOT NULL
),
medians (lvl, k, median) AS MATERIALIZED (
    SELECT lvl, k, avg(life) FROM ranked
    WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY lvl, k
)"""


# Every part of the result is a row of one shape (PostgreSQL's UNION ALL wants one type a
# column): tag, a, b, key, then counts and seconds; activity() reads each tag's columns.
_GROUP_SELECT: Final = """
SELECT 'group'::text, levels.lvl::bigint, NULL::bigint, levels.k,
    sum(alive::int)::bigint, sum(born::int)::bigint, sum(n)::bigint, sum(attached)::float8,
    count(CASE WHEN born THEN life END)::bigint,
    coalesce(sum(CASE WHEN born THEN life END), 0.0)::float8,
    (SELECT median FROM medians AS m
        WHERE m.lvl = levels.lvl AND m.k IS NOT DISTINCT FROM levels.k)::float8
FROM levels GROUP BY levels.lvl, levels.k
HAVING levels.lvl = 1 OR sum(alive::int) + sum(born::int) + sum(n) > 0"""


def _grid_ctes() -> str:
    """Attached time's clipped pieces as signed endpoints per local (day, hour): one zone
    offset per piece, from its start (as store/stats.py)."""
    return f"""
clipped (ls, le) AS MATERIALIZED (
    -- Local start and end, one zone offset per piece (from its start).
    SELECT {_local("s")}, {_local("s")} - s + e FROM (
        SELECT greatest(p.s, win.lo) AS s, least(p.e, win.hi) AS e FROM pieces AS p, win) AS w,
        win
    WHERE e > s
),
points (t, sign) AS MATERIALIZED (
    SELECT ls, -1 FROM clipped UNION ALL SELECT le, 1 FROM clipped
),
cells (day, hour, sign, t) AS (SELECT {_cell("t")}, sign, t FROM points)"""


_GRID_SELECT: Final = """
SELECT 'grid', day, hour, NULL, sum(sign)::bigint, NULL, NULL,
    sum(sign * (t - (86400 * day + 3600 * hour)))::float8, NULL, NULL, NULL
FROM cells GROUP BY day, hour"""


def _counts_ctes() -> str:
    """Sessions created and attach events per local (day, hour): ``--by day|hour`` only."""
    return f"""
born_moments (t) AS (
    SELECT {_local("created")} FROM members, win WHERE born
),
attach_times (t) AS MATERIALIZED (
    -- Through ix_session_events_attach: the selected sessions' attaches in the window (epoch:
    -- the event's time, stored as it was written).
    SELECT x.epoch FROM sel JOIN session_events AS x ON x.session_id = sel.sid, win
    WHERE x.event_type IN {_ATTACH_EVENTS} AND x.event_type = 'attached'
        AND x.epoch BETWEEN win.lo AND win.hi
),
attach_moments (t) AS (
    SELECT {_local("a.t")} FROM attach_times AS a, win
),
counted (day, hour, b, a) AS (
    SELECT {_cell("t")}, 1, 0 FROM born_moments WHERE t IS NOT NULL
    UNION ALL SELECT {_cell("t")}, 0, 1 FROM attach_moments WHERE t IS NOT NULL
)"""


_COUNTS_SELECT: Final = """
SELECT 'counts', day, hour, NULL, sum(b)::bigint, sum(a)::bigint, NULL, NULL, NULL, NULL, NULL
FROM counted GROUP BY day, hour"""


def _bucket_ctes(by: str) -> str:
    """Lifetimes of the sessions created in the window, per local day or hour of creation."""
    day = "trunc(lt / 86400)"
    bucket = day if by == "day" else f"trunc((lt - 86400 * {day}) / 3600)"
    return f"""
born_life (b, life) AS MATERIALIZED (
    SELECT {bucket}::bigint, life FROM (
        SELECT {_local("created")} AS lt, life FROM members, win
        WHERE born AND life IS NOT NULL) AS l
),
b_ranked (b, life, rn, cnt) AS (
    SELECT b, life, row_number() OVER (PARTITION BY b ORDER BY life),
        count(*) OVER (PARTITION BY b) FROM born_life
),
b_medians (b, median) AS MATERIALIZED (
    SELECT b, avg(life) FROM b_ranked WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY b
)"""


_BUCKET_SELECT: Final = """
SELECT 'bucket', born_life.b, NULL, NULL, count(*), NULL, NULL, sum(life)::float8, NULL, NULL,
    (SELECT median FROM b_medians WHERE b_medians.b = born_life.b)::float8
FROM born_life GROUP BY born_life.b"""


def activity_sql(where: str, *, by: GroupBy) -> str:
    """The one statement :func:`activity` runs (parameters: now, lo, hi, the zone's moments
    and offsets, then the filter's; ``where`` in PostgreSQL's spelling over ``sessions``, as
    :func:`store.postgres.search.where_pg` gives it)."""
    key = f"sel.{by}" if by in ("project", "worktree", "branch") else "NULL::text"
    ctes = [_spans_ctes(where), _group_ctes(key), _grid_ctes()]
    selects = [_GROUP_SELECT, _GRID_SELECT]
    if by in ("day", "hour"):
        ctes += [_counts_ctes(), _bucket_ctes(by)]
        selects += [_COUNTS_SELECT, _BUCKET_SELECT]
    return "WITH " + ",".join(ctes) + "\n" + "\nUNION ALL\n".join(selects)


def _secs(value: float) -> float:
    """Seconds to the microsecond; -0.0 becomes 0.0 (as store.stats rounds them)."""
    return round(float(value), 6) + 0.0


def activity(
    reader: PgReader,
    where: str,
    params: Sequence[Any],
    *,
    by: GroupBy,
    lo: float,
    hi: float,
    now: float,
) -> Activity:
    """:func:`store.stats.activity` on PostgreSQL: the statistics of the sessions ``where``
    (PostgreSQL's spelling, with ``params``) selects within [``lo``, ``hi``]."""
    lo = max(lo, FAR_PAST)
    moments, offsets = zone_offsets(lo, hi)
    groups: list[GroupRow] = []
    total = GroupRow(None, 0, 0, 0, 0.0, 0, 0.0, None)
    grid: list[tuple[int, int, int, float]] = []
    counts: list[tuple[int, int, int, int]] = []
    lifetimes: list[tuple[int, int, float, float | None]] = []
    sql = activity_sql(where, by=by).encode()
    # The planner's cost estimate of this statement passes jit_above_cost: compiling its ~100
    # expressions took ~0.4 s at 10 k sessions, longer than the statement runs without. Its
    # sorts (a year of attaches for --by day) spill to disk at the default 4 MB of work_mem.
    reader.execute("SET jit = off")
    reader.execute("SET work_mem = '64MB'")
    for tag, a, b, key, c, d, e, f, g, h, i in reader.run(
        sql, [now, lo, hi, moments, offsets, *params]
    ):
        if tag == "group":
            record = GroupRow(
                key,
                int(c or 0),
                int(d or 0),
                int(e or 0),
                _secs(f or 0.0),
                int(g or 0),
                _secs(h or 0.0),
                None if i is None else _secs(i),
            )
            if a == 1:
                total = record
            else:
                groups.append(record)
        elif tag == "grid":
            grid.append((int(a), int(b), int(c), float(f)))
        elif tag == "counts":
            counts.append((int(a), int(b), int(c), int(d)))
        else:
            lifetimes.append((int(a), int(c), _secs(f), None if i is None else _secs(i)))
    return Activity(groups, total, grid, counts, lifetimes)
