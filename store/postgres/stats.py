"""``ccmgr-watch stats`` on PostgreSQL: the statistics of :mod:`store.stats` in PostgreSQL's SQL.

The definitions are store/stats.py's (docs/stats.md): a session's islands (the stretches with
at least one client attached) from its attach, detach, ``killed`` and ``vanished`` events,
clipped to its life and to the window; lifetimes of the sessions created in the window; local
hours and days. The result is the same :class:`store.stats.Activity`, so ``watcher.activity``
folds it and the CLI prints it exactly as for SQLite.

Where the islands come from: see :data:`ISLANDS` (docs/postgresql.md, "stats" says why).

Three things SQLite gives and PostgreSQL does not, done here:

- **Timestamps as epoch seconds**: SQLite's ``unixepoch(t) + CAST(substr(t, 20, 7) AS REAL)``
  reads stored text and gives NULL for text it cannot read; a PostgreSQL cast would raise
  instead. :func:`epoch_sql` computes the same number from the text's digits (a day count from
  the civil date, as SQLite's Julian day arithmetic, so a 30th of February is the 2nd of March
  there too) and NULL where SQLite gives NULL; tests/postgres/test_stats.py holds it to SQLite.
- **Local time in the process's zone** (SQLite's ``localtime`` asks the C library): the server's
  TimeZone setting is another zone and may not know the process's (``TZ=EST+5``, a copied
  /etc/localtime). :func:`zone_offsets` asks the C library here (``time.localtime``, as SQLite
  does) for the zone's UTC offsets and the moments they change, over the window; the statement
  looks each moment's offset up with ``width_bucket`` (half-hour and 45-minute zones included).
- **Dynamic typing**: the one statement's parts are rows of one shape (``_ROW``).
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
_STORED_FORM: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"
# SQLite's date and time text (its date.c): YYYY-MM-DD, then spaces or T's, HH:MM, :SS, a
# fraction with at least one digit, spaces, Z or +-HH:MM, spaces. Other forms SQLite reads
# (a bare time, a Julian day number, 'now') are never stored by ccmgr-watch: NULL here.
_GENERAL_FORM: Final = (
    r"^(-?)([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]+([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?"
    r" *(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))? *$"
)
_NUMERIC_PREFIX: Final = r"^ *([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)"


def _civil_seconds(y: str, m: str, d: str, hh: str, mm: str, ss: str, frac: str) -> str:
    """SQL for whole epoch seconds of a proleptic Gregorian date and time (integer fields
    already in range, ``frac`` the seconds' fraction as float8), as SQLite's ``unixepoch``: a
    day past the month's end runs into the next month, and the time is rounded to the
    millisecond first (SQLite's Julian day is in milliseconds: ``.9995`` is the next second).
    Days from the civil date: H. Hinnant's ``days_from_civil``."""
    yy = f"(({y}) - CASE WHEN ({m}) <= 2 THEN 1 ELSE 0 END)"
    era = f"floor({yy} / 400.0)::bigint"
    yoe = f"({yy} - {era} * 400)"
    doy = f"((153 * mod(({m}) + 9, 12) + 2) / 5 + ({d}) - 1)"
    doe = f"({yoe} * 365 + {yoe} / 4 - {yoe} / 100 + {doy})"
    days = f"({era} * 146097 + {doe} - 719468)"
    seconds = f"floor(floor((({ss})::float8 + {frac}) * 1000 + 0.5) / 1000)::bigint"
    return f"({days} * 86400 + ({hh}) * 3600 + ({mm}) * 60 + {seconds})"


def epoch_sql(column: str) -> str:
    """SQL for stored timestamp text as epoch seconds with its fraction, as SQLite's
    ``unixepoch(t) + CAST(substr(t, 20, 7) AS REAL)`` reads it (NULL when it cannot)."""
    c = column

    def part(start: int, length: int) -> str:
        return f"substr({c}, {start}, {length})::int"

    fast = _civil_seconds(
        part(1, 4),
        part(6, 2),
        part(9, 2),
        part(12, 2),
        part(15, 2),
        part(18, 2),
        f"('0' || substr({c}, 20, 7))::float8",
    )
    fast_ok = (
        f"{part(6, 2)} BETWEEN 1 AND 12 AND {part(9, 2)} BETWEEN 1 AND 31 "
        f"AND {part(12, 2)} <= 24 AND {part(15, 2)} <= 59 AND {part(18, 2)} <= 59"
    )
    # The general form, rarely met (never written by ccmgr-watch): fields from the regex.
    g = "g.m"
    year = f"(CASE WHEN {g}[1] = '-' THEN -1 ELSE 1 END * {g}[2]::int)"
    hh, mi, ss = (f"coalesce({g}[{i}]::int, 0)" for i in (5, 6, 7))
    sign = f"CASE WHEN {g}[9] = '-' THEN -1 ELSE 1 END"
    tz = f"coalesce({sign} * ({g}[10]::int * 3600 + {g}[11]::int * 60), 0)"
    general_ok = (
        f"{g}[3]::int BETWEEN 1 AND 12 AND {g}[4]::int BETWEEN 1 AND 31 AND {hh} <= 24 "
        f"AND {mi} <= 59 AND {ss} <= 59 AND coalesce({g}[10]::int <= 14 AND {g}[11]::int <= 59, "
        "true)"
    )
    frac = f"coalesce(('0.' || {g}[8])::float8, 0.0)"
    general_secs = _civil_seconds(year, f"{g}[3]::int", f"{g}[4]::int", hh, mi, ss, frac)
    fraction = f"coalesce((regexp_match(substr({c}, 20, 7), '{_NUMERIC_PREFIX}'))[1]::float8, 0.0)"
    general = (
        f"(SELECT CASE WHEN {general_ok} THEN {general_secs} - {tz} + {fraction} END "
        f"FROM (SELECT regexp_match({c}, '{_GENERAL_FORM}') AS m) AS g WHERE g.m IS NOT NULL)"
    )
    return (
        f"(CASE WHEN {c} ~ '{_STORED_FORM}' THEN CASE WHEN {fast_ok} "
        f"THEN {fast} + substr({c}, 20, 7)::float8 END ELSE {general} END)"
    )


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

ISLANDS: Final = """
ev (sid, id, kind, t, client) AS (
    SELECT x.session_id, x.id, x.event_type, {t},
        CASE WHEN json_typeof(x.data) = 'object' THEN
            CASE x.event_type WHEN 'attached' THEN coalesce(x.data ->> 'client', '')
                WHEN 'detached' THEN nullif(x.data ->> 'client', '') END END
    FROM sel JOIN session_events AS x ON x.session_id = sel.sid
    WHERE x.event_type IN {events}
),
spans (sid, s, e) AS (
    -- Per attach, its client's span: until the client's next event or the next event that
    -- empties the set, whichever is first (docs/stats.md).
    SELECT sid, t, least(coalesce(next_same, 1e12), coalesce(next_reset, 1e12)) FROM (
        SELECT sid, t, kind,
            lead(t) OVER (PARTITION BY sid, client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                PARTITION BY sid ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM ev WHERE t IS NOT NULL) AS ordered
    WHERE kind = 'attached'
),
breaks (sid, s, e, brk) AS (
    SELECT sid, s, e, CASE WHEN s <= max(e) OVER (PARTITION BY sid ORDER BY s, e
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END
    FROM spans
),
islands (session_id, span_start, span_end, attaches, last_attach) AS MATERIALIZED (
    SELECT sid, min(s), max(e), count(*), max(s) FROM (
        SELECT sid, s, e, sum(brk) OVER (PARTITION BY sid ORDER BY s, e ROWS UNBOUNDED PRECEDING)
        FROM breaks) AS grouped (sid, s, e, g)
    GROUP BY sid, g
)"""
"""The islands of the selected sessions, derived from their events at each run (the derivation
of sql/006_attached_spans.sql). PostgreSQL runs these window functions fast enough over a whole
history that no stored copy, and no trigger on every write, is needed (measured:
docs/postgresql.md)."""


def _spans_ctes(where: str) -> str:
    """``win`` (now, lo, hi, the zone), ``sel`` (the selected sessions alive in the window),
    their ``islands``, and ``pieces`` (their attached time as disjoint spans, clipped to their
    life); parameters: now, lo, hi, moments, offsets, then ``where``'s."""
    created = epoch_sql("s.created_at")
    ended = f"coalesce({epoch_sql('s.ended_at')}, {epoch_sql('s.last_access')})"
    return f"""
win (now, lo, hi, moments, offs) AS MATERIALIZED (
    SELECT %s::float8, %s::float8, %s::float8, %s::float8[], %s::float8[]
),
selected (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT s.id, {created},
        CASE WHEN s.status = 'ended' THEN {ended} ELSE win.now END,
        CASE WHEN s.status = 'ended' THEN {ended}
             WHEN s.status = 'attached' THEN win.now
             ELSE {epoch_sql("s.last_access")} END,
        nullif(s.project, ''), nullif(s.worktree, ''), nullif(s.branch, '')
    FROM win, (SELECT * FROM sessions WHERE {where}) AS s
),
sel (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT selected.* FROM selected, win WHERE coalesce(life_end >= win.lo, true)
        AND coalesce(coalesce(created, life_end) <= win.hi, true)
),
{ISLANDS.format(t=epoch_sql("x.timestamp"), events=_ATTACH_EVENTS)},
pieces (sid, s, e) AS MATERIALIZED (
    -- Clipping commutes with the union (store/stats.py); a session without a readable end of
    -- its spans (cap NULL) has none, as SQLite's min() with a NULL gives.
    SELECT sid, s, e FROM (
        SELECT sel.sid, greatest(a.span_start, coalesce(sel.created, a.span_start)) AS s,
            least(a.span_end, sel.cap) AS e
        FROM sel JOIN islands AS a ON a.session_id = sel.sid WHERE sel.cap IS NOT NULL) AS c
    WHERE e > s
)"""


def _group_ctes(key: str) -> str:
    """Per-session rows (attached time and attaches within the window), then the lifetimes'
    medians per group (level 0) and in all (level 1)."""
    t = epoch_sql("x.timestamp")
    attached = """coalesce((SELECT sum(greatest(0.0,
            least(a.span_end, sel.cap, win.hi)
            - greatest(a.span_start, coalesce(sel.created, a.span_start), win.lo)))
        FROM islands AS a WHERE a.session_id = sel.sid AND sel.cap IS NOT NULL), 0.0)"""
    # Every readable attach lies in exactly one island, between its start and its last
    # attach: the attaches in the window are the attach events in it (store/stats.py counts
    # them per island from attached_spans; the same number).
    attaches = f"""(SELECT count(*) FROM session_events AS x
        WHERE x.session_id = sel.sid AND x.event_type = 'attached'
            AND {t} BETWEEN win.lo AND win.hi)"""
    life = "greatest(0.0, sel.life_end - sel.created)"
    return f"""
members (k, alive, born, life, attached, n, created) AS MATERIALIZED (
    SELECT {key},
        coalesce(sel.life_end >= win.lo AND coalesce(sel.created, sel.life_end) <= win.hi, false),
        coalesce(sel.created BETWEEN win.lo AND win.hi, false),
        CASE WHEN sel.life_end IS NOT NULL AND sel.created IS NOT NULL THEN {life} END,
        {attached}, {attaches}, sel.created
    FROM sel, win
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
clipped (s, e, ls) AS MATERIALIZED (
    SELECT s, e, {_local("s")} FROM (
        SELECT greatest(p.s, win.lo) AS s, least(p.e, win.hi) AS e FROM pieces AS p, win) AS w,
        win
    WHERE e > s
),
points (t, sign) AS (
    SELECT CASE sign WHEN -1 THEN ls ELSE ls - s + e END, sign
    FROM clipped CROSS JOIN (VALUES (-1), (1)) AS signs (sign)
),
cells (day, hour, sign, t) AS (SELECT {_cell("t")}, sign, t FROM points)"""


_GRID_SELECT: Final = """
SELECT 'grid', day, hour, NULL, sum(sign)::bigint, NULL, NULL,
    sum(sign * (t - 86400.0 * day - 3600.0 * hour))::float8, NULL, NULL, NULL
FROM cells GROUP BY day, hour"""


def _counts_ctes() -> str:
    """Sessions created and attach events per local (day, hour): ``--by day|hour`` only."""
    t = epoch_sql("x.timestamp")
    return f"""
born_moments (t) AS (
    SELECT {_local("created")} FROM members, win WHERE born
),
attach_moments (t) AS (
    SELECT {_local("t")} FROM (
        SELECT {t} AS t FROM sel JOIN session_events AS x ON x.session_id = sel.sid
        WHERE x.event_type = 'attached') AS a, win
    WHERE t BETWEEN win.lo AND win.hi
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
