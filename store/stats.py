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
``localtime``, the process's zone). Everything is aggregated in SQL; Python receives at most
one row per (local day, hour) and one per group.

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


def spans_sql(where: str) -> str:
    """The CTEs every statistic starts from, for the sessions ``where`` selects (a WHERE
    expression over ``sessions``, e.g. the query compiler's) that were alive at some moment of
    the window; their parameters are ``now``, the window's start and end (``lo``, ``hi``: epoch
    seconds), then the expression's.

    ``win``: now, lo, hi. ``sel``: the sessions with their created time, the end of their life
    (``life_end``) and the end of a span still open after their last event (``cap``).
    ``islands``: their rows of ``attached_spans`` (sql/006_attached_spans.sql: the stretches
    with at least one client attached, derived from the events as they were written), with the
    island clipped to the session's life (``s``, ``e``). ``pieces``: the attached time, as
    disjoint spans per session. A session not alive during the window has no part in any
    statistic of it, so leaving it out early saves reading its islands.
    """
    now = "(SELECT now FROM win)"
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
sel (sid, created, life_end, cap, project, worktree, branch) AS MATERIALIZED (
    SELECT * FROM selected WHERE coalesce(life_end >= (SELECT lo FROM win), 1)
        AND coalesce(coalesce(created, life_end) <= (SELECT hi FROM win), 1)
),
pieces (sid, s, e) AS (
    -- Clipping commutes with the union: the islands clipped to [created, cap] are the
    -- session's attach spans clipped, then united.
    SELECT sid, s, e FROM (
        SELECT sel.sid, max(a.span_start, coalesce(sel.created, a.span_start)) AS s,
            min(a.span_end, sel.cap) AS e
        FROM sel CROSS JOIN attached_spans AS a ON a.session_id = sel.sid)
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
        f"WITH {spans_sql('sessions.id = ?')} "
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
    (``bucket_lifetimes``: bucket, count, total, median). Days are local days since 1970-01-01."""

    __match_args__ = ("groups", "total", "attached_grid", "counts_grid", "bucket_lifetimes")
    __slots__ = __match_args__
    groups: list[GroupRow]
    total: GroupRow
    attached_grid: list[tuple[int, int, int, float]]
    counts_grid: list[tuple[int, int, int, int]]
    bucket_lifetimes: list[tuple[int, int, float, float | None]]


def _group_ctes(key: str) -> str:
    """Per-session rows, then the lifetimes' medians per group (level 0) and in all (level 1)."""
    return f"""
members (k, alive, born, life, attached, n, created) AS MATERIALIZED (
    SELECT {key},
        coalesce(sel.life_end >= (SELECT lo FROM win)
            AND coalesce(sel.created, sel.life_end) <= (SELECT hi FROM win), 0),
        coalesce(sel.created BETWEEN (SELECT lo FROM win) AND (SELECT hi FROM win), 0),
        max(0.0, sel.life_end - sel.created), {_attached_in_window()},
        {_attaches_in_window()}, sel.created
    FROM sel
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


_GROUP_SELECT: Final = """
SELECT 'group', levels.lvl, levels.k, sum(alive), sum(born), sum(n), sum(attached),
    count(CASE WHEN born THEN life END), coalesce(sum(CASE WHEN born THEN life END), 0.0),
    (SELECT median FROM medians AS m WHERE m.lvl = levels.lvl AND m.k IS levels.k)
FROM levels GROUP BY levels.lvl, levels.k
HAVING levels.lvl = 1 OR sum(alive) + sum(born) + sum(n) > 0"""


def _cell(t: str) -> str:
    """SQL for the local day (since 1970-01-01) and hour of local epoch seconds ``t``."""
    day = f"CAST({t} / 86400 AS INTEGER)"
    return f"{day}, CAST(({t} - 86400 * {day}) / 3600 AS INTEGER)"


def _grid_ctes() -> str:
    """Attached time's clipped pieces as signed endpoints per local (day, hour)."""
    start = "CAST(h * 3600 AS REAL)"
    return f"""
window_pieces (s, e) AS MATERIALIZED (
    SELECT s, e FROM (
        SELECT max(s, (SELECT lo FROM win)) AS s, min(e, (SELECT hi FROM win)) AS e FROM pieces)
    WHERE e > s
),
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
),
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
        WHERE x.event_type IN {_ATTACH_EVENTS} AND x.event_type = 'attached'
            AND {t} BETWEEN (SELECT lo FROM win) AND (SELECT hi FROM win))
),
counted (day, hour, b, a) AS (
    SELECT {_cell("t")}, 1, 0 FROM born_moments WHERE t IS NOT NULL
    UNION ALL SELECT {_cell("t")}, 0, 1 FROM attach_moments WHERE t IS NOT NULL
)"""


_GRID_SELECT: Final = """
SELECT 'grid', day, hour, sum(sign), sum(sign * (t - 86400.0 * day - 3600.0 * hour)),
    NULL, NULL, NULL, NULL, NULL
FROM cells GROUP BY day, hour"""

_COUNTS_SELECT: Final = """
SELECT 'counts', day, hour, sum(b), sum(a), NULL, NULL, NULL, NULL, NULL
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
    (SELECT median FROM b_medians WHERE b_medians.b = born_life.b), NULL, NULL, NULL, NULL, NULL
FROM born_life GROUP BY born_life.b"""


def activity_sql(where: str, *, by: GroupBy) -> str:
    """The one statement :func:`activity` runs (parameters: now, lo, hi, the filter's): every
    part of the result from the same materialized spans, computed once."""
    key = f"sel.{by}" if by in ("project", "worktree", "branch") else "NULL"
    ctes = [spans_sql(where)]
    ctes += [_group_ctes(key), _grid_ctes()]
    selects = [_GROUP_SELECT, _GRID_SELECT]
    if by in ("day", "hour"):
        ctes += [_counts_ctes(), _bucket_ctes(by)]
        selects += [_COUNTS_SELECT, _BUCKET_SELECT]
    return "WITH " + ",".join(ctes) + "\n" + "\nUNION ALL\n".join(selects)


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
    groups: list[GroupRow] = []
    total = GroupRow(None, 0, 0, 0, 0.0, 0, 0.0, None)
    grid: list[tuple[int, int, int, float]] = []
    counts: list[tuple[int, int, int, int]] = []
    lifetimes: list[tuple[int, int, float, float | None]] = []
    lo = max(lo, FAR_PAST)
    rows = conn.execute(activity_sql(where, by=by), (now, lo, hi, *params))
    for tag, a, b, c, d, e, f, g, h, i in rows:
        if tag == "group":
            record = GroupRow(
                b,
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
            grid.append((int(a), int(b), int(c), float(d)))
        elif tag == "counts":
            counts.append((int(a), int(b), int(c), int(d)))
        else:
            lifetimes.append((int(a), int(b), _secs(c), None if d is None else _secs(d)))
    return Activity(groups, total, grid, counts, lifetimes)
