"""The rotation planner: golden plans with fixed dates, and properties over random histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.backup.rotation import BackupRef, EmptyPolicyError, Policy, plan_rotation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def full(i: str, when: str) -> BackupRef:
    return BackupRef(i, "full", None, datetime.fromisoformat(when).replace(tzinfo=UTC))


def inc(i: str, parent: str, when: str) -> BackupRef:
    return BackupRef(i, "incremental", parent, datetime.fromisoformat(when).replace(tzinfo=UTC))


def table(decisions) -> list[tuple[str, str, str]]:
    return [(d.backup.id, "keep" if d.keep else "remove", "; ".join(d.reasons)) for d in decisions]


def test_keep_last_three_of_seven_fulls() -> None:
    backups = [full(f"b{d}", f"2026-11-{20 + d}T03:00") for d in range(7)]
    assert table(plan_rotation(backups, Policy(last=3), NOW)) == [
        ("b6", "keep", "keep-last 1 of 3; newest full"),
        ("b5", "keep", "keep-last 2 of 3"),
        ("b4", "keep", "keep-last 3 of 3"),
        ("b3", "remove", ""),
        ("b2", "remove", ""),
        ("b1", "remove", ""),
        ("b0", "remove", ""),
    ]


def test_daily_weekly_monthly_keep_the_newest_of_each_bucket() -> None:
    backups = [
        full("a", "2026-09-30T10:00"),
        full("b", "2026-10-31T10:00"),
        full("c", "2026-11-15T10:00"),  # Sunday of ISO week 46
        full("d", "2026-11-20T08:00"),
        full("e", "2026-11-20T20:00"),  # the newest of the 20th
        full("f", "2026-11-21T09:00"),
    ]
    plan = plan_rotation(backups, Policy(daily=2, weekly=2, monthly=2), NOW)
    assert table(plan) == [
        ("f", "keep", "daily 2026-11-21; weekly 2026-W47; monthly 2026-11; newest full"),
        ("e", "keep", "daily 2026-11-20"),
        ("d", "remove", ""),
        ("c", "keep", "weekly 2026-W46"),
        ("b", "keep", "monthly 2026-10"),
        ("a", "remove", ""),
    ]


def test_hourly_rule() -> None:
    backups = [full(f"h{m}", f"2026-11-27T{10 + m // 2:02d}:{(m % 2) * 30:02d}") for m in range(4)]
    assert table(plan_rotation(backups, Policy(hourly=1), NOW)) == [
        ("h3", "keep", "hourly 2026-11-27T11; newest full"),
        ("h2", "remove", ""),
        ("h1", "remove", ""),
        ("h0", "remove", ""),
    ]


def test_a_kept_incremental_keeps_its_whole_chain() -> None:
    backups = [
        full("f1", "2026-11-20T00:00"),
        inc("i1", "f1", "2026-11-21T00:00"),
        inc("i2", "i1", "2026-11-22T00:00"),
        full("f2", "2026-11-23T00:00"),
        inc("i3", "f2", "2026-11-24T00:00"),
    ]
    plan = plan_rotation(backups, Policy(last=1, monthly=1), NOW)
    assert table(plan) == [
        ("i3", "keep", "keep-last 1 of 1; monthly 2026-11"),
        ("f2", "keep", "newest full; needed by i3"),
        ("i2", "remove", ""),
        ("i1", "remove", ""),
        ("f1", "remove", ""),
    ]
    plan = plan_rotation(backups, Policy(daily=3), NOW)
    kept = {d.backup.id for d in plan if d.keep}
    assert kept == {"i3", "f2", "i2", "i1", "f1"}  # i2 (daily) needs i1 and f1
    assert dict((d.backup.id, d.reasons) for d in plan)["f1"] == ("needed by i2",)


def test_a_backup_dated_in_the_future_is_kept() -> None:
    backups = [full("old", "2026-11-01T00:00"), full("new", "2026-11-02T00:00")]
    plan = plan_rotation([*backups, full("z", "2027-01-01T00:00")], Policy(last=1), NOW)
    assert table(plan)[0] == ("z", "keep", "keep-last 1 of 1; dated in the future; newest full")
    assert [d.keep for d in plan] == [True, False, False]


def test_a_policy_that_keeps_nothing_is_refused() -> None:
    with pytest.raises(EmptyPolicyError):
        plan_rotation([full("a", "2026-11-01T00:00")], Policy(), NOW)


def test_no_backups_no_decisions() -> None:
    assert plan_rotation([], Policy(last=1), NOW) == []


@st.composite
def histories(draw: st.DrawFn) -> list[BackupRef]:
    count = draw(st.integers(0, 40))
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    backups: list[BackupRef] = []
    for n in range(count):
        moment += timedelta(minutes=draw(st.integers(1, 60 * 24 * 20)))
        is_full = not backups or draw(st.booleans())
        if is_full:
            backups.append(BackupRef(f"b{n:03d}", "full", None, moment))
        else:
            # The parent is an earlier backup, sometimes one that is gone (a broken chain).
            parent = draw(st.sampled_from([*(b.id for b in backups), "gone"]))
            backups.append(BackupRef(f"b{n:03d}", "incremental", parent, moment))
    return backups


policies = st.builds(
    Policy,
    last=st.integers(0, 5),
    hourly=st.integers(0, 5),
    daily=st.integers(0, 5),
    weekly=st.integers(0, 5),
    monthly=st.integers(0, 5),
).filter(lambda p: not p.keeps_nothing())


@settings(max_examples=300, deadline=None)
@given(histories(), policies)
def test_properties(backups: list[BackupRef], policy: Policy) -> None:
    plan = plan_rotation(backups, policy, datetime(2030, 1, 1, tzinfo=UTC))
    # kept + removed = input, each once
    assert sorted(d.backup.id for d in plan) == sorted(b.id for b in backups)
    kept = {d.backup.id for d in plan if d.keep}
    removed = {d.backup.id for d in plan if not d.keep}
    assert not kept & removed
    # every kept backup says why, a removed one does not
    assert all(bool(d.reasons) == d.keep for d in plan)
    # nothing a kept incremental needs is removed
    by_id = {b.id: b for b in backups}
    for backup_id in kept:
        probe = by_id[backup_id]
        while probe.kind == "incremental" and probe.parent in by_id:
            probe = by_id[probe.parent]
            assert probe.id in kept
    # the newest full always stays; something is always kept
    fulls = [b for b in backups if b.kind == "full"]
    if fulls:
        assert max(fulls, key=lambda b: b.created_at).id in kept
    assert bool(kept) == bool(backups)
    # the plan is newest first and deterministic
    assert [d.backup.created_at for d in plan] == sorted(
        (b.created_at for b in backups), reverse=True
    )
    assert plan == plan_rotation(list(reversed(backups)), policy, datetime(2030, 1, 1, tzinfo=UTC))
