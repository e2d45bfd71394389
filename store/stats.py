"""Activity statistics in SQL: attached time, lifetimes, attaches, sessions created.

The one definition of a session's **attached time** and **lifetime** (docs/stats.md), used by
``ccmgr-watch stats`` for many sessions and by ``session show`` for one (:func:`session_times`):

- Events are taken in (timestamp, id) order. ``attached`` adds its client (``data.client``; none
  given counts as one nameless client) to the session's set of attached clients; ``detached``
  with a client removes that client; ``detached`` without one (the watcher found the session
  detached after a gap and could not know which clients left), ``killed`` and ``vanished``
  empty the set. The session is attached while the set is not empty: two clients at once count
  once, a repeated attach of the same client changes nothing, a detach of a client that was not
  attached changes nothing.
- In SQL that is: each ``attached`` event opens a span of its client that lasts until the next
  event of the same client, or the next event that empties the set, whichever comes first; the
  union of the spans is the attached time. A span still open after the last event lasts until
  the session ended (``ended_at``), until now if the session is attached now, and until its last
  recorded change (``last_access``) if it is alive but detached (a detach the watcher missed).
  Spans are clipped to the session's life.
- **Lifetime** is from ``created_at`` to ``ended_at`` (to now while the session is alive).

Timestamps become epoch seconds with their microseconds (``unixepoch`` plus the fraction);
a timestamp SQLite cannot read leaves its event out. Hours and days are local time (SQLite's
``localtime``, the process's zone). Sessions wholly inside the window and their life are read
from the aggregates of sql/007_attached_totals.sql (totals per session, hour sums per UTC day),
the others from their islands. Python receives one row per selected session (its numbers in the
window: Python sums the groups and takes medians), one per UTC day of hour sums, and at most one
per local (day, hour) for the islands; never an event.

A plain stdlib connection from :func:`store.reads.open_reader` (no msgspec, no event loop).
"""

from __future__ import annotations

import sqlite3

from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Final, Literal

    GroupBy = Literal["project", "worktree", "branch", "day", "hour"]

GROUPS: tuple[str, ...] = ("project", "worktree", "branch", "day", "hour")
FAR_PAST: Final = 0.0
"""The earliest moment the statistics look at (epoch 0): hours and days are computed with
integer division, which needs times after it; no session was recorded before 1970."""
FAR_FUTURE: Final = 1e12
"""A moment after every recorded one (the year ~33,700): the open end of an unbounded window."""

_ATTACH_EVENTS: Final = "('attached', 'detached', 'killed', 'vanished')"


def _epoch(column: str) -> str:
    """SQL for a stored timestamp as epoch seconds with its fraction (NULL if unreadable).

    ``unixepoch`` gives whole seconds; the fraction is the text from the 20th character
    (``.123456`` in the stored form; CAST reads the leading number, 0 when there is none).
    """
    return f"(unixepoch({column}) + CAST(substr({column}, 20, 7) AS REAL))"


def _local(epoch: str) -> str:
    """SQL for epoch seconds as local "epoch seconds" (wall-clock time counted from 1970)."""
    return f"(unixepoch({epoch}, 'unixepoch', 'localtime') + ({epoch}) - CAST({epoch} AS INTEGER))"


def _client() -> str:
    # data is text other tools may have written: ->> raises on anything that is not JSON.
    return "CASE WHEN json_valid(e.data) THEN e.data ->> 'client' END"


_WHOLE: Final = """coalesce(t.first_start IS NULL OR (t.last_end < 1e12
        AND t.first_start >= max((SELECT lo FROM win), coalesce(s.created, (SELECT lo FROM win)))
        AND t.last_end <= min((SELECT hi FROM win), s.cap)), 1)"""


def spans_sql(where: str, *, aggregates: bool = True) -> str:
    """The CTEs every statistic starts from, for the sessions ``where`` selects (a WHERE
    expression over ``sessions``, e.g. the query compiler's) that were alive at some moment of
    the window; their parameters are ``now``, the window's start and end (``lo``, ``hi``: epoch
    seconds), then the expression's.

    ``win``: now, lo, hi. ``sel``: the sessions with their created time, the end of their life
    (``life_end``), the end of a span still open after their last event (``cap``), whether they
    are ``whole`` (every island closed and inside their life and the window: then their closed
    attached time ``closed``, in microseconds, and ``attaches`` from attached_totals are theirs
    in the window; always 0 without ``aggregates``). ``pieces``: the attached time of the
    sessions not whole, as disjoint spans per session: their rows of ``attached_spans``
    (sql/006_attached_spans.sql: the stretches with at least one client attached, derived from
    the events as they were written) clipped to the session's life (``s``, ``e``). A session
    not alive during the window has no part in any statistic of it, so leaving it out early
    saves reading its islands.
    """
    now = "(SELECT now FROM win)"
    whole = _WHOLE if aggregates else "0"
    ended = f"coalesce({_epoch('sessions.ended_at')}, {_epoch('sessions.last_access')})"
    return f"""
win (now, lo, hi) AS (SELECT CAST(? AS REAL), CAST(? AS REAL), CAST(? AS REAL)),
selected (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT sessions.id, {_epoch("sessions.created_at")},
        CASE WHEN sessions.status = 'ended' THEN {ended} ELSE {now} END,
        CASE WHEN sessions.status = 'ended' THEN {ended}
             WHEN sessions.status = 'attached' THEN {now}
             ELSE {_epoch("sessions.last_access")} END,
        nullif(sessions.project, ''), nullif(sessions.worktree, ''), nullif(sessions.branch, '')
    FROM sessions WHERE {where}
),
sel (sid, created, life_end, cap, project, worktree, branch, whole, closed, attaches)
AS MATERIALIZED (
    -- whole: every island of the session is closed and lies within its life and the window,
    -- so its attached time, attaches and hour sums are attached_totals' and attached_days'
    -- (sql/007_attached_totals.sql) as they are; the others are read from their islands.
    SELECT s.*, {whole}, coalesce(t.closed_micros, 0), coalesce(t.attaches, 0)
    FROM selected AS s LEFT JOIN attached_totals AS t ON t.session_id = s.sid
    WHERE coalesce(s.life_end >= (SELECT lo FROM win), 1)
        AND coalesce(coalesce(s.created, s.life_end) <= (SELECT hi FROM win), 1)
),
pieces (sid, s, e) AS (
    -- Clipping commutes with the union: the islands clipped to [created, cap] are the
    -- session's attach spans clipped, then united. Only the sessions not whole.
    SELECT sid, s, e FROM (
        SELECT sel.sid, max(a.span_start, coalesce(sel.created, a.span_start)) AS s,
            min(a.span_end, sel.cap) AS e
        FROM sel CROSS JOIN attached_spans AS a ON a.session_id = sel.sid
        WHERE NOT sel.whole)
    WHERE e > s
)"""


def _attached_in_window() -> str:
    """SQL for the attached time of session ``sel`` within the window: its islands clipped to
    its life and to the window, summed (read through the primary key, in one range)."""
    return """coalesce((SELECT sum(max(0.0,
            min(a.span_end, sel.cap, (SELECT hi FROM win))
            - max(a.span_start, coalesce(sel.created, a.span_start), (SELECT lo FROM win))))
        FROM attached_spans AS a WHERE a.session_id = sel.sid), 0.0)"""


def _attaches_in_window() -> str:
    """SQL for the number of attach events of session ``sel`` within the window, per island:
    all of them when the island's attaches lie inside it, none when outside, else counted from
    the events (an island across the window's edge: at most two per session)."""
    t = _epoch("x.timestamp")
    lo, hi = "(SELECT lo FROM win)", "(SELECT hi FROM win)"
    return f"""coalesce((SELECT sum(
        CASE WHEN a.span_start >= {lo} AND a.last_attach <= {hi} THEN a.attaches
            WHEN a.last_attach < {lo} OR a.span_start > {hi} THEN 0
            ELSE (SELECT count(*) FROM session_events AS x
                WHERE x.session_id = a.session_id AND x.event_type IN {_ATTACH_EVENTS}
                    AND x.event_type = 'attached'
                    AND {t} BETWEEN max(a.span_start, {lo}) AND min(a.last_attach, {hi})) END)
        FROM attached_spans AS a WHERE a.session_id = sel.sid), 0)"""


# --- one session: what `session show` reports ------------------------------------------


def session_times(
    conn: sqlite3.Connection, session_id: str, *, now: float
) -> tuple[float, float | None]:
    """One session's attached time and lifetime in seconds (lifetime None without a readable
    ``created_at``), by the module's definition; ``now`` is epoch seconds."""
    sql = (
        f"WITH {spans_sql('sessions.id = ?', aggregates=False)} "
        "SELECT (SELECT coalesce(sum(e - s), 0.0) FROM pieces), "
        "(SELECT max(0.0, life_end - created) FROM sel)"
    )
    row = conn.execute(sql, (now, FAR_PAST, FAR_FUTURE, session_id)).fetchone()
    attached, lifetime = row if row is not None else (0.0, None)
    return _secs(attached or 0.0), None if lifetime is None else _secs(lifetime)


def _secs(value: float) -> float:
    """Seconds to the microsecond (the stored timestamps' precision); -0.0 becomes 0.0."""
    return round(float(value), 6) + 0.0


# --- many sessions: `ccmgr-watch stats` ---------------------------------------------------


class GroupRow(Value):
    """One group of sessions (a project, worktree or branch; ``key`` None: none recorded)
    within the window: sessions alive in it, created in it, attach events in it, attached
    time in it; and the lifetimes of the sessions created in it (count, total, median)."""

    __match_args__ = (
        "key",
        "sessions",
        "created",
        "attaches",
        "attached_seconds",
        "lifetimes",
        "lifetime_total_seconds",
        "lifetime_median_seconds",
    )
    __slots__ = __match_args__
    key: str | None
    sessions: int
    created: int
    attaches: int
    attached_seconds: float
    lifetimes: int
    lifetime_total_seconds: float
    lifetime_median_seconds: float | None


class Activity(Value):
    """What :func:`activity` reads: the groups (``--by project|worktree|branch``; one row with
    key None is the total), and per local (day, hour): attached-time endpoint sums
    (``attached_grid``: day, hour, signed count, signed seconds into the hour), sessions created
    and attach events (``counts_grid``: day, hour, created, attaches; ``--by day|hour`` only),
    and the lifetimes of the sessions created, per bucket of ``--by day|hour``
    (``bucket_lifetimes``: bucket, count, total, median). Days are local days since 1970-01-01;
    except with ``--by day``, an entry with no endpoint (sign 0) may stand for the same day of
    the week and hour summed over many weeks (day 0-6): only hours of the day and days of the
    week are reported then (:func:`_local_days`)."""

    __match_args__ = ("groups", "total", "attached_grid", "counts_grid", "bucket_lifetimes")
    __slots__ = __match_args__
    groups: list[GroupRow]
    total: GroupRow
    attached_grid: list[tuple[int, int, int, float]]
    counts_grid: list[tuple[int, int, int, int]]
    bucket_lifetimes: list[tuple[int, int, float, float | None]]


def _group_ctes(key: str) -> str:
    """One row per selected session: its group, whether alive in / created in the window, its
    lifetime, attached time and attaches in the window (summed per group by :func:`_fold`:
    a median in SQL took two sorts of every session, three times the time)."""
    return f"""
members (k, alive, born, life, attached, n, created) AS MATERIALIZED (
    SELECT {key},
        coalesce(sel.life_end >= (SELECT lo FROM win)
            AND coalesce(sel.created, sel.life_end) <= (SELECT hi FROM win), 0),
        coalesce(sel.created BETWEEN (SELECT lo FROM win) AND (SELECT hi FROM win), 0),
        max(0.0, sel.life_end - sel.created),
        CASE WHEN sel.whole THEN sel.closed / 1e6 ELSE {_attached_in_window()} END,
        CASE WHEN sel.whole THEN sel.attaches ELSE {_attaches_in_window()} END, sel.created
    FROM sel
)"""


_MEMBERS_SELECT: Final = """
SELECT 'member', k, alive, born, life, attached, n FROM members"""


def _cell(t: str) -> str:
    """SQL for the local day (since 1970-01-01) and hour of local epoch seconds ``t``."""
    day = f"CAST({t} / 86400 AS INTEGER)"
    return f"{day}, CAST(({t} - 86400 * {day}) / 3600 AS INTEGER)"


def _grid_ctes(*, per_piece: bool = False) -> str:
    """Attached time's clipped pieces as signed endpoints per local (day, hour); with
    ``per_piece`` (few pieces) each piece's start is placed in local time on its own, without
    the table of hour offsets (whose join SQLite may run as a scan per piece)."""
    start = "CAST(h * 3600 AS REAL)"
    if per_piece:
        clipped = f"""
clipped (s, e, ls) AS MATERIALIZED (
    SELECT s, e, {_local("s")} FROM window_pieces
),"""
    else:
        clipped = f"""
offsets (h, off, whole) AS MATERIALIZED (
    -- The zone offset of each UTC hour that holds a piece's start, asked once per hour
    -- (the C library's localtime is the costly part); whole: the same offset all hour.
    SELECT h, {_local(start)} - {start},
        {_local(start)} - {start} = {_local(f"{start} + 3600")} - ({start} + 3600)
    FROM (SELECT DISTINCT CAST(s / 3600 AS INTEGER) AS h FROM window_pieces)
),
clipped (s, e, ls) AS MATERIALIZED (
    -- One zone offset per piece (from its start, ls: local): a piece across a DST change is
    -- off by the change, and the endpoint sums stay consistent (every piece adds e - s). An
    -- hour with a change in it asks the C library for the piece's own start.
    SELECT s, e, CASE WHEN o.whole THEN s + o.off ELSE {_local("s")} END
    FROM window_pieces JOIN offsets AS o ON o.h = CAST(s / 3600 AS INTEGER)
),"""
    return f"""
window_pieces (s, e) AS MATERIALIZED (
    SELECT s, e FROM (
        SELECT max(s, (SELECT lo FROM win)) AS s, min(e, (SELECT hi FROM win)) AS e FROM pieces)
    WHERE e > s
),{clipped}
points (t, sign) AS (
    -- Both endpoints from one pass over the pieces.
    SELECT CASE sign WHEN -1 THEN ls ELSE ls - s + e END, sign
    FROM clipped CROSS JOIN (SELECT -1 AS sign UNION ALL SELECT 1)
),
cells (day, hour, sign, t) AS (SELECT {_cell("t")}, sign, t FROM points)"""


def _counts_ctes() -> str:
    """Sessions created and attach events per local (day, hour): for ``--by day|hour`` only
    (the other outputs count attaches per session, from ``attached_spans``)."""
    t = _epoch("x.timestamp")
    return f"""
born_moments (t) AS (
    SELECT {_local("created")} FROM members WHERE born
),
attach_moments (t) AS MATERIALIZED (
    -- MATERIALIZED: SQLite 3.40 flattened this into the UNION ALL below and lost its rows.
    SELECT {_local("t")} FROM (
        SELECT {t} AS t FROM sel CROSS JOIN session_events AS x ON x.session_id = sel.sid
        WHERE NOT sel.whole AND x.event_type IN {_ATTACH_EVENTS} AND x.event_type = 'attached'
            AND {t} BETWEEN (SELECT lo FROM win) AND (SELECT hi FROM win))
),
counted (day, hour, b, a) AS (
    SELECT {_cell("t")}, 1, 0 FROM born_moments WHERE t IS NOT NULL
    UNION ALL SELECT {_cell("t")}, 0, 1 FROM attach_moments WHERE t IS NOT NULL
)"""


_GRID_SELECT: Final = """
SELECT 'grid', day, hour, sum(sign), sum(sign * (t - 86400.0 * day - 3600.0 * hour)),
    NULL, NULL
FROM cells GROUP BY day, hour"""

_COUNTS_SELECT: Final = """
SELECT 'counts', day, hour, sum(b), sum(a), NULL, NULL
FROM counted GROUP BY day, hour"""


def _bucket_ctes(by: str) -> str:
    """Lifetimes of the sessions created in the window, per local day or hour of creation."""
    day = "CAST(lt / 86400 AS INTEGER)"
    bucket = day if by == "day" else f"CAST((lt - 86400 * {day}) / 3600 AS INTEGER)"
    return f"""
born_life (b, life) AS (
    SELECT {bucket}, life FROM (
        SELECT {_local("created")} AS lt, life FROM members WHERE born AND life IS NOT NULL)
),
b_ranked (b, life, rn, cnt) AS (
    SELECT b, life, row_number() OVER (PARTITION BY b ORDER BY life),
        count(*) OVER (PARTITION BY b) FROM born_life
),
b_medians (b, median) AS MATERIALIZED (
    SELECT b, avg(life) FROM b_ranked WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY b
)"""


_BUCKET_SELECT: Final = """
SELECT 'bucket', born_life.b, count(*), sum(life),
    (SELECT median FROM b_medians WHERE b_medians.b = born_life.b), NULL, NULL
FROM born_life GROUP BY born_life.b"""


_DAYS_IN_WINDOW: Final = """day BETWEEN CAST((SELECT lo FROM win) / 86400 AS INTEGER)
        AND CAST((SELECT hi FROM win) / 86400 AS INTEGER)"""


def _days_select(counts: bool, *, everyone: bool = False, settled: bool = False) -> str:
    """The whole sessions' hour sums per UTC day: one row per day, the 24 hours' microseconds
    (then, with ``counts``, the 24 hours' attaches) as one text of comma-separated integers (a
    UNION ALL row has seven columns).

    By default from sql/007's attached_days of the whole sessions (read in its order, by day,
    so that summing needs no sorting). With ``everyone`` (the selection is likely every
    session: no query, the whole history), from sql/008's sums over every session per day
    minus the rows of the sessions that are not whole (those read from their islands, and
    any the selection left out): the same numbers, from ~365 rows a year instead of one per
    (day, session). Exact whatever the selection: every session with a day row has a row in
    attached_totals (007 keeps both from its islands and attach events). With ``settled``
    (:func:`settled_sql`: ``sel`` holds only the sessions not read from sql/010's rows), the
    sessions subtracted are those ``selected`` that are not whole: every other session with a
    day row is ended, whole and summed from stats_ended."""
    columns = [f"s{k}" for k in range(24)] + ([f"a{k}" for k in range(24)] if counts else [])
    packed = " || ',' || ".join(f"sum(d.{c})" for c in columns)
    if not everyone:
        return f"""
SELECT 'days', d.day, {packed}, NULL, NULL, NULL, NULL
FROM attached_days AS d
WHERE d.{_DAYS_IN_WINDOW}
    AND +d.session_id IN (SELECT sid FROM sel WHERE whole)  -- "+": not by session
GROUP BY d.day"""
    listed = ", ".join(columns)
    whole = "SELECT sid FROM sel WHERE whole AND sid IS NOT NULL"
    subtracted = (
        f"SELECT sid FROM selected WHERE sid NOT IN ({whole})"
        if settled
        else f"SELECT t.session_id FROM attached_totals AS t WHERE t.session_id NOT IN ({whole})"
    )
    negated = ", ".join(f"-r.{c}" for c in columns)
    return f"""
SELECT 'days', d.day, {packed}, NULL, NULL, NULL, NULL
FROM (
    SELECT day, {listed} FROM attached_days_all WHERE {_DAYS_IN_WINDOW}
    UNION ALL
    SELECT r.day, {negated} FROM attached_days AS r
    WHERE r.session_id IN ({subtracted})
        AND r.{_DAYS_IN_WINDOW}
) AS d
GROUP BY d.day"""


_ALIVE_IN_WINDOW: Final = """sessions.id IN (
    SELECT o.id FROM sessions AS o INDEXED BY ix_sessions_status
    WHERE o.status IN ('attached', 'detached')
    UNION ALL
    SELECT e.session_id FROM stats_ended AS e WHERE e.exact_from >= (SELECT lo FROM win))"""
"""The sessions that may be alive in a window (a superset): the alive ones and the ended ones
whose latest moment is at or after the window's start (sql/010: a session not whole, or with a
timestamp SQLite cannot read, has exact_from 1e300). An ended session whose every moment lies
before the window's start ended before it: not alive in it."""


def activity_sql(
    where: str,
    *,
    by: GroupBy,
    aggregates: bool = True,
    everyone: bool = False,
    narrow: bool = False,
) -> str:
    """The one statement :func:`activity` runs (parameters: now, lo, hi, the filter's): every
    part of the result from the same materialized selection, computed once. ``aggregates``:
    the sessions wholly inside the window and their life are read from sql/007's totals and
    hour sums (their hours are UTC: ``days`` rows); without, every session from its islands.
    ``everyone``: the day sums from sql/008's per-day sums over every session (see
    :func:`_days_select`; the same result, faster when nearly every session is selected).
    ``narrow``: only the sessions that may be alive in the window are read (through sql/010's
    ``exact_from``, :data:`_ALIVE_IN_WINDOW`): for a window that starts after 1970, where most
    of a history ended before it."""
    key = f"sel.{by}" if by in ("project", "worktree", "branch") else "NULL"
    if narrow:
        where = f"({where}) AND {_ALIVE_IN_WINDOW}"
    ctes = [spans_sql(where, aggregates=aggregates)]
    ctes += [_group_ctes(key), _grid_ctes()]
    selects = [_MEMBERS_SELECT, _GRID_SELECT]
    if aggregates:
        selects.append(_days_select(by in ("day", "hour"), everyone=everyone))
    if by in ("day", "hour"):
        ctes += [_counts_ctes(), _bucket_ctes(by)]
        selects += [_COUNTS_SELECT, _BUCKET_SELECT]
    return "WITH " + ",".join(ctes) + "\n" + "\nUNION ALL\n".join(selects)


_LIVE: Final = """sessions.id IN (
    SELECT o.id FROM sessions AS o INDEXED BY ix_sessions_status
    WHERE o.status IN ('attached', 'detached')
    UNION ALL
    SELECT e.session_id FROM stats_ended AS e WHERE e.exact_from > (SELECT hi FROM win))"""


def settled_sql(by: GroupBy) -> str:
    """The statement :func:`activity` runs for every session over a whole history (no query,
    the window from 1970) grouped by project, worktree or branch (parameters: now, lo, hi).

    The ended sessions whose numbers sql/010's stats_ended holds for this window's end
    (``exact_from`` at or before it) are summed per group in SQL, streamed in group order from
    the group's index (``fast`` rows: key, sessions, created, attaches, attached microseconds,
    lifetimes' total); the others (alive, not whole, or with a moment after the window's end:
    a few dozen) go through the usual CTEs (``member`` rows, their islands for the grid,
    placed in local time piece by piece: they are few). The day sums come from sql/008's sums
    less the days of the sessions read the usual way that are not whole. The lifetimes'
    medians are read afterwards by offset (:func:`median_sql`)."""
    ctes = [spans_sql(_LIVE), _group_ctes(f"sel.{by}"), _grid_ctes(per_piece=True)]
    selects = [
        _MEMBERS_SELECT,
        _GRID_SELECT,
        _days_select(False, everyone=True, settled=True),
        f"""
SELECT 'fast', {by}, count(*), sum(born), sum(attaches), sum(micros),
    total(CASE WHEN born THEN life END)
FROM stats_ended INDEXED BY ix_stats_ended_{by}
WHERE exact_from <= (SELECT hi FROM win) GROUP BY {by}""",
    ]
    return "WITH " + ",".join(ctes) + "\n" + "\nUNION ALL\n".join(selects)


def median_sql(by: GroupBy | None) -> str:
    """The lifetimes of the sessions of stats_ended counted by :func:`settled_sql` (created in
    the window, ``exact_from`` at or before its end: parameter 1), in order, from offset
    (parameter 3, the count: 2) within the group (``by``'s key IS parameter 4) or among all
    (``by`` None): the middle of a sorted list, read by an index in that order."""
    if by is None:
        return (
            "SELECT life FROM stats_ended INDEXED BY ix_stats_ended_life "
            "WHERE exact_from <= ?1 AND born ORDER BY life LIMIT ?2 OFFSET ?3"
        )
    return (
        f"SELECT life FROM stats_ended INDEXED BY ix_stats_ended_{by} "
        f"WHERE {by} IS ?4 AND exact_from <= ?1 AND born ORDER BY life LIMIT ?2 OFFSET ?3"
    )


_ALL: Final = object()
"""The key of :func:`_settled_median` for every session (``median_sql(None)``)."""


def _settled_median(
    conn: sqlite3.Connection | None,
    by: GroupBy | None,
    hi: float,
    key: Any,
    stored: int,
    others: list[float],
) -> float | None:
    """The median of ``stored`` lifetimes of stats_ended (in the group ``key`` of ``by``, or
    all of them for :data:`_ALL`), read in order by :func:`median_sql`, and the ``others``
    (the sessions read the usual way), as :func:`_median` of them all. The first max(0, m -
    len(others)) stored ones (m: the lower middle's rank) lie before the middle whatever the
    others are, so only the stored ones from there to the upper middle are read: with no
    others, one or two rows; with none stored, nothing."""
    n = stored + len(others)
    if n == 0:
        return None
    low, high = (n - 1) // 2, n // 2
    skip = max(0, low - len(others))
    values = list(others)
    if stored > skip:
        assert conn is not None
        args = (hi, high + 1 - skip, skip) if key is _ALL else (hi, high + 1 - skip, skip, key)
        sql = median_sql(None if key is _ALL else by)
        values += [life for (life,) in conn.execute(sql, args)]
    values.sort()
    if low == high:
        return float(values[low - skip])
    return (values[low - skip] + values[high - skip]) / 2


def _whole_hour_offsets(days: list[int]) -> dict[int, list[int]] | None:
    """The zone's offset in whole hours of each UTC hour of ``days`` (UTC day numbers: 24
    offsets a day), or None if one of them is not a whole number of hours or changes within
    the hour (Asia/Kolkata +5:30, Asia/Kathmandu +5:45): hour sums kept per UTC hour cannot
    be placed exactly in such a zone's local hours. The offset is asked at the start of each
    day and of the next; when they differ (a daylight-saving change that day), at the start
    and end of each hour. A zone is taken to change its offset at most once within a UTC
    day (every zone does)."""
    import time

    known: dict[int, int] = {}

    def offset(t: int) -> int:
        if t not in known:
            known[t] = time.localtime(t).tm_gmtoff
        return known[t]

    out: dict[int, list[int]] = {}
    for day in days:
        start, end = offset(day * 86400), offset(day * 86400 + 86400)
        if start == end:
            if start % 3600:
                return None
            out[day] = [start // 3600] * 24
            continue
        hours = []
        for k in range(24):
            at = (day * 24 + k) * 3600
            at_start = offset(at)
            if at_start % 3600 or at_start != time.localtime(at + 3599).tm_gmtoff:
                return None
            hours.append(at_start // 3600)
        out[day] = hours
    return out


def _local_days(
    rows: list[tuple[int, str]], *, calendar: bool = True
) -> tuple[list[tuple[int, int, int, float]], list[tuple[int, int, int, int]]] | None:
    """The ``days`` rows (UTC day, packed hour sums) as local (day, hour) grid entries (each
    hour's seconds with no endpoint: sign 0) and attach counts; None if the zone's offsets
    are not whole hours (then :func:`activity` reads every session from its islands).

    Without ``calendar`` (no ``--by day``: only the hours of the day and the days of the week
    are reported), the entries are summed per (day of the week, hour) in integer microseconds,
    at most 168 of them, under the first week's day numbers (0-6: the same days of the week);
    an entry with no endpoint adds only its seconds to its hour and its day of the week."""
    offsets = _whole_hour_offsets([day for day, _ in rows])
    if offsets is None:
        return None
    grid: list[tuple[int, int, int, float]] = []
    counts: list[tuple[int, int, int, int]] = []
    if not calendar:
        week = [0] * 168  # (local day % 7) * 24 + local hour = local hour number % 168
        week_attaches = [0] * 168
        # A day with one offset all day fills 24 slots in a row from (its first local hour %
        # 168): such days are summed per starting slot, column by column in C (map, zip).
        runs: dict[int, list[list[str]]] = {}
        for day, packed in rows:
            values = packed.split(",")
            shifts = offsets[day]
            base = day * 24
            if shifts[0] == shifts[23]:  # one offset (it changes at most once a day)
                runs.setdefault((base + shifts[0]) % 168, []).append(values)
                continue
            for k, micros in enumerate(values[:24]):
                week[(base + k + shifts[k]) % 168] += int(micros)
            for k, attaches in enumerate(values[24:]):
                week_attaches[(base + k + shifts[k]) % 168] += int(attaches)
        for start, days in runs.items():
            for k, column in enumerate(zip(*days, strict=True)):
                total = sum(map(int, column))
                if k < 24:
                    week[(start + k) % 168] += total
                else:
                    week_attaches[(start + k - 24) % 168] += total
        grid = [(i // 24, i % 24, 0, m / 1e6) for i, m in enumerate(week) if m]
        counts = [(i // 24, i % 24, 0, a) for i, a in enumerate(week_attaches) if a]
        return grid, counts
    for day, packed in rows:
        values = packed.split(",")
        shifts = offsets[day]
        base = day * 24
        for k, micros in enumerate(values[:24]):
            if micros != "0":
                local_day, local_hour = divmod(base + k + shifts[k], 24)
                grid.append((local_day, local_hour, 0, int(micros) / 1e6))
        for k, attaches in enumerate(values[24:]):
            if attaches != "0":
                local_day, local_hour = divmod(base + k + shifts[k], 24)
                counts.append((local_day, local_hour, 0, int(attaches)))
    return grid, counts


def activity(
    conn: sqlite3.Connection,
    where: str,
    params: Sequence[Any],
    *,
    by: GroupBy,
    lo: float,
    hi: float,
    now: float,
) -> Activity:
    """Read the statistics of the sessions ``where`` (with ``params``) selects, within the
    window [``lo``, ``hi``] (epoch seconds; clipped to FAR_PAST); ``now`` ends open spans."""
    lo = max(lo, FAR_PAST)
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot, should the statement run twice
    try:
        found = _activity(conn, where, params, by=by, lo=lo, hi=hi, now=now, aggregates=True)
        if found is None:  # a zone with offsets of part of an hour: from the islands
            found = _activity(conn, where, params, by=by, lo=lo, hi=hi, now=now, aggregates=False)
    finally:
        if own:
            conn.execute("COMMIT")
    assert found is not None
    return found


def _activity(
    conn: sqlite3.Connection,
    where: str,
    params: Sequence[Any],
    *,
    by: GroupBy,
    lo: float,
    hi: float,
    now: float,
    aggregates: bool,
    everyone: bool | None = None,
    settled: bool | None = None,
    narrow: bool | None = None,
) -> Activity | None:
    """:func:`activity`'s statement run once (``everyone``: force the day sums' source,
    ``settled``: force or forbid :func:`settled_sql`, ``narrow``: :func:`activity_sql`'s, for
    tests; None: chosen here); None when a zone's offsets rule the aggregates out."""
    members: list[tuple[Any, ...]] = []
    grid: list[tuple[int, int, int, float]] = []
    counts: list[tuple[int, int, int, int]] = []
    lifetimes: list[tuple[int, int, float, float | None]] = []
    days: list[tuple[int, str]] = []
    # Every session over the whole history (the plain `ccmgr-watch stats`): the day sums over
    # every session, less the few sessions read from their islands.
    whole_history = aggregates and where.strip() == "1" and lo <= FAR_PAST
    if everyone is None:
        everyone = whole_history
    if settled is None:
        # ... and by a group: stats_ended's sums per group (sql/010), the rest as usual.
        settled = whole_history and by in ("project", "worktree", "branch")
    fast: list[tuple[Any, ...]] = []
    if settled:
        sql = settled_sql(by)
        params = ()
    else:
        if narrow is None:
            narrow = lo > FAR_PAST  # a window: most of a history ended before it
        sql = activity_sql(where, by=by, aggregates=aggregates, everyone=everyone, narrow=narrow)
    for tag, a, b, c, d, e, f in conn.execute(sql, (now, lo, hi, *params)):
        if tag == "member":
            members.append((a, b, c, d, e, f))
        elif tag == "fast":
            fast.append((a, b, c, d, e, f))
        elif tag == "grid":
            grid.append((int(a), int(b), int(c), float(d)))
        elif tag == "days":
            days.append((int(a), str(b)))
        elif tag == "counts":
            counts.append((int(a), int(b), int(c), int(d)))
        else:
            lifetimes.append((int(a), int(b), _secs(c), None if d is None else _secs(d)))
    if days:
        local = _local_days(days, calendar=by == "day")
        if local is None:
            return None
        grid += local[0]
        if by in ("day", "hour"):
            counts += local[1]
    if settled:
        assert by in ("project", "worktree", "branch")
        groups, total = _fold(members, fast, conn=conn, by=by, hi=hi)
    else:
        groups, total = _fold(members)
    return Activity(groups, total, grid, counts, lifetimes)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values.sort()
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _fold(
    members: list[tuple[Any, ...]],
    fast: Sequence[tuple[Any, ...]] = (),
    *,
    conn: sqlite3.Connection | None = None,
    by: GroupBy | None = None,
    hi: float = FAR_FUTURE,
) -> tuple[list[GroupRow], GroupRow]:
    """The groups and the total: from the per-session rows (key, alive, born, lifetime,
    attached, attaches) and, for :func:`settled_sql`, the per-group sums of stats_ended
    (``fast``: key, sessions, created, attaches, attached microseconds, lifetimes' total;
    every session there is alive in the window, and its lifetime counts when it was created
    in it) with the medians of both (:func:`_settled_median`, through ``conn``). Groups with
    nothing in the window are left out."""
    sums: dict[Any, list[Any]] = {}
    for key, sessions, born, attaches, micros, lives_total in fast:
        sums[key] = [int(sessions), int(born), int(attaches), int(micros) / 1e6, int(born)]
        sums[key] += [float(lives_total), []]
    for key, alive, born, life, attached, attaches in members:
        row = sums.get(key)
        if row is None:
            row = sums[key] = [0, 0, 0, 0.0, 0, 0.0, []]
        row[0] += alive or 0
        row[1] += born or 0
        row[2] += attaches or 0
        row[3] += attached or 0.0
        if born and life is not None:
            row[6].append(life)
    everything: list[Any] = [0, 0, 0, 0.0, 0, 0.0, []]
    groups = []
    for key, values in sums.items():
        for i, value in enumerate(values):
            everything[i] += value
        if values[0] + values[1] + values[2] > 0:  # alive, created or attached in the window
            groups.append(_settled_row(conn, by, hi, key, values))
    return groups, _settled_row(conn, None, hi, _ALL, everything)


def _settled_row(
    conn: sqlite3.Connection | None, by: GroupBy | None, hi: float, key: Any, values: list[Any]
) -> GroupRow:
    """One group's (``key``; :data:`_ALL`: the total) row from :func:`_fold`'s sums:
    sessions, created, attaches, attached seconds, stored lifetimes (count, total) and the
    lifetimes of the sessions read the usual way."""
    alive, born, attaches, attached, stored, stored_total, others = values
    return GroupRow(
        None if key is _ALL else key,
        int(alive),
        int(born),
        int(attaches),
        _secs(attached),
        stored + len(others),
        _secs(stored_total + sum(others)),
        _optional_secs(_settled_median(conn, by, hi, key, stored, others)),
    )


def _optional_secs(value: float | None) -> float | None:
    return None if value is None else _secs(value)
