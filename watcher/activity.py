"""``ccmgr-watch stats``'s report from what :func:`store.stats.activity` read (pure).

The store returns attached time as signed endpoint sums per local (day, hour) cell: a piece of
attached time [s, e) is -1 at s and +1 at e, each with its seconds into its hour. Any bucket's
share of the pieces follows without splitting a piece (docs/stats.md):

- a calendar day D gets ``86400 * (sum of signs after D) + (signed seconds into D)``;
- an hour of the day k gets ``3600 * (signed days) + 3600 * (sum of signs in hours after k)
  + (signed seconds into hour k)``, a day of the week the same with weeks and days.
"""

from __future__ import annotations

from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

    from store.stats import Activity, GroupRow

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH_WEEKDAY = 3  # 1970-01-01, local day 0, was a Thursday (Monday is 0)


class Row(Value):
    """One row of the report: a group (project, worktree, branch: ``key`` None when none was
    recorded) or a time bucket (``2026-11-20``, or ``09`` for 09:00-10:00). ``sessions`` (alive
    in the window) is None for time buckets; lifetimes are of the sessions created in the row."""

    __match_args__ = (
        "key",
        "sessions",
        "created",
        "attaches",
        "attached_seconds",
        "lifetime_count",
        "lifetime_total_seconds",
        "lifetime_mean_seconds",
        "lifetime_median_seconds",
    )
    __slots__ = __match_args__
    key: str | None
    sessions: int | None
    created: int
    attaches: int
    attached_seconds: float
    lifetime_count: int
    lifetime_total_seconds: float
    lifetime_mean_seconds: float | None
    lifetime_median_seconds: float | None


def _secs(value: float) -> float:
    return round(value, 6) + 0.0


def _mean(total: float, count: int) -> float | None:
    return _secs(total / count) if count else None


def row_from_group(group: GroupRow) -> Row:
    """A report row from a group the store read."""
    return Row(
        group.key,
        group.sessions,
        group.created,
        group.attaches,
        group.attached_seconds,
        group.lifetimes,
        group.lifetime_total_seconds,
        _mean(group.lifetime_total_seconds, group.lifetimes),
        group.lifetime_median_seconds,
    )


def hours_of_day(grid: list[tuple[int, int, int, float]]) -> list[float]:
    """Attached seconds in each local hour of the day (0 to 23), over every day."""
    days = sum(day * n for day, _, n, _ in grid)
    signs = [0] * 24
    into = [0.0] * 24
    for _, hour, n, seconds in grid:
        signs[hour] += n
        into[hour] += seconds
    after = 0
    out = [0.0] * 24
    for hour in range(23, -1, -1):
        out[hour] = _secs(max(0.0, 3600.0 * days + 3600.0 * after + into[hour]))
        after += signs[hour]
    return out


def days_of_week(grid: list[tuple[int, int, int, float]]) -> list[float]:
    """Attached seconds on each local day of the week, Monday first."""
    weeks = 0
    signs = [0] * 7
    into = [0.0] * 7
    for day, hour, n, seconds in grid:
        weekday = (day + _EPOCH_WEEKDAY) % 7
        weeks += n * ((day + _EPOCH_WEEKDAY) // 7)
        signs[weekday] += n
        into[weekday] += n * 3600.0 * hour + seconds
    after = 0
    out = [0.0] * 7
    for weekday in range(6, -1, -1):
        out[weekday] = _secs(max(0.0, 86400.0 * weeks + 86400.0 * after + into[weekday]))
        after += signs[weekday]
    return out


def calendar_days(grid: list[tuple[int, int, int, float]]) -> dict[int, float]:
    """Attached seconds per local day (days since 1970-01-01) from the first to the last day
    that holds an endpoint (days in between included)."""
    signs: dict[int, int] = {}
    into: dict[int, float] = {}
    for day, hour, n, seconds in grid:
        signs[day] = signs.get(day, 0) + n
        into[day] = into.get(day, 0.0) + n * 3600.0 * hour + seconds
    if not signs:
        return {}
    out: dict[int, float] = {}
    after = 0
    for day in range(max(signs), min(signs) - 1, -1):
        out[day] = _secs(max(0.0, 86400.0 * after + into.get(day, 0.0)))
        after += signs.get(day, 0)
    return out


def day_text(day: int) -> str:
    """A local day number (days since 1970-01-01) as ``YYYY-MM-DD``."""
    from datetime import date, timedelta

    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()


def time_rows(activity: Activity, by: str) -> list[Row]:
    """The rows of ``--by day`` (every day from the first to the last with activity, oldest
    first) or ``--by hour`` (the 24 hours of the day)."""
    created: dict[int, int] = {}
    attaches: dict[int, int] = {}
    for day, hour, born, attached in activity.counts_grid:
        bucket = day if by == "day" else hour
        created[bucket] = created.get(bucket, 0) + born
        attaches[bucket] = attaches.get(bucket, 0) + attached
    lifetimes = {b: (count, total, median) for b, count, total, median in activity.bucket_lifetimes}
    if by == "day":
        attached_time = calendar_days(activity.attached_grid)
        buckets = set(attached_time) | set(created) | set(attaches) | set(lifetimes)
        keys = list(range(min(buckets), max(buckets) + 1)) if buckets else []
    else:
        attached_time = dict(enumerate(hours_of_day(activity.attached_grid)))
        keys = list(range(24))
    rows = []
    for bucket in keys:
        count, total, median = lifetimes.get(bucket, (0, 0.0, None))
        rows.append(
            Row(
                day_text(bucket) if by == "day" else f"{bucket:02d}",
                None,
                created.get(bucket, 0),
                attaches.get(bucket, 0),
                attached_time.get(bucket, 0.0),
                count,
                total,
                _mean(total, count),
                median,
            )
        )
    return rows


def sort_groups(rows: list[Row]) -> list[Row]:
    """Groups by attached time, most first (then sessions, then name; none last)."""
    return sorted(
        rows, key=lambda r: (-r.attached_seconds, -(r.sessions or 0), r.key is None, r.key or "")
    )


def report(activity: Activity, *, by: str, limit: int | None) -> dict[str, Any]:
    """The report as plain data (``--json``'s shape): the total, the rows (at most ``limit``:
    the first groups, the last days; None for all), how many were left out, and attached
    time per hour of the day and per day of the week."""
    if by in ("day", "hour"):
        rows = time_rows(activity, by)
        shown = rows if limit is None or len(rows) <= limit else rows[len(rows) - limit :]
    else:
        rows = sort_groups([row_from_group(g) for g in activity.groups])
        shown = rows if limit is None else rows[:limit]
    hours = hours_of_day(activity.attached_grid)
    weekdays = days_of_week(activity.attached_grid)
    return {
        "total": row_from_group(activity.total).as_dict(),
        "rows": [row.as_dict() for row in shown],
        "rows_omitted": len(rows) - len(shown),
        "attached_seconds_by_hour": hours,
        "attached_seconds_by_weekday": dict(zip(WEEKDAYS, weekdays, strict=True)),
    }
