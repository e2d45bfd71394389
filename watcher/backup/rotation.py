"""Which backups to keep: restic's ``forget`` policy as a pure function.

Backups are walked newest first. ``keep_last N`` keeps the N newest; ``keep_hourly N`` keeps the
newest backup of each of the N most recent hours that have one, and so on for days, ISO weeks and
months (a backup kept by one rule still counts for the others, as in restic). Then: the newest
full backup is always kept (without it nothing can be restored), and every backup a kept
incremental needs (its parent, the parent's parent, ... down to the full) is kept too. A backup
dated after ``now`` (a clock that went backwards) is kept. A policy whose every rule is 0 would
delete everything: it is refused.

Time buckets use the datetimes as given: pass local times to rotate by the user's days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BackupRef:
    """What the planner needs to know about one backup."""

    id: str
    kind: str  # full | incremental
    parent: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Policy:
    """How many backups each rule keeps (0: the rule is off)."""

    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    def keeps_nothing(self) -> bool:
        """True when no rule keeps anything."""
        return not any((self.last, self.hourly, self.daily, self.weekly, self.monthly))


@dataclass(frozen=True, slots=True)
class Decision:
    """Keep or remove one backup, and why."""

    backup: BackupRef
    keep: bool
    reasons: tuple[str, ...]


class EmptyPolicyError(ValueError):
    """The policy keeps nothing: applying it would delete every backup."""


def _hour(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H")


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def _week(t: datetime) -> str:
    year, week, _ = t.isocalendar()
    return f"{year}-W{week:02d}"


def _month(t: datetime) -> str:
    return t.strftime("%Y-%m")


def plan_rotation(backups: Sequence[BackupRef], policy: Policy, now: datetime) -> list[Decision]:
    """Keep or remove each backup (newest first), each with its reasons.

    Raises EmptyPolicyError for a policy that keeps nothing.
    """
    if policy.keeps_nothing():
        raise EmptyPolicyError("the retention policy keeps nothing")
    ordered = sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)
    reasons: dict[str, list[str]] = {b.id: [] for b in ordered}
    rules: list[tuple[str, int, Callable[[datetime], str] | None]] = [
        ("last", policy.last, None),
        ("hourly", policy.hourly, _hour),
        ("daily", policy.daily, _day),
        ("weekly", policy.weekly, _week),
        ("monthly", policy.monthly, _month),
    ]
    for name, count, bucket in rules:
        left = count
        previous: str | None = None
        for backup in ordered:
            if left <= 0:
                break
            if bucket is None:
                reasons[backup.id].append(f"keep-last {count - left + 1} of {count}")
                left -= 1
                continue
            value = bucket(backup.created_at)
            if value != previous:
                reasons[backup.id].append(f"{name} {value}")
                previous = value
                left -= 1
    for backup in ordered:
        if backup.created_at > now:
            reasons[backup.id].append("dated in the future")
    newest_full = next((b for b in ordered if b.kind == "full"), None)
    if newest_full is not None:
        reasons[newest_full.id].append("newest full")
    by_id = {b.id: b for b in ordered}
    # The chains of the backups a rule keeps, walked whole (a parent kept only because of its
    # child adds no reasons of its own to its parents).
    kept_by_rule = {b.id for b in ordered if reasons[b.id]}
    for backup in ordered:
        if backup.id not in kept_by_rule or backup.kind != "incremental":
            continue
        child, seen = backup, {backup.id}
        while child.kind == "incremental" and child.parent in by_id and child.parent not in seen:
            parent = by_id[child.parent]
            seen.add(parent.id)
            why = f"needed by {backup.id}"
            if why not in reasons[parent.id]:
                reasons[parent.id].append(why)
            child = parent
    return [Decision(b, bool(reasons[b.id]), tuple(reasons[b.id])) for b in ordered]
