"""sql/010's stats_ended: each ended session's numbers over a whole history, kept by triggers
on sessions and attached_totals whoever changes them, and `stats` reading them (per group
sums, medians by offset) with the same result as reading every session."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.db import migrate_sync
from store.stats import _activity, _median, _settled_median
from tests.stats.test_aggregates import NOW, close, ended_defined, ended_rows, stamp
from watcher.activity import report

H = 3600.0


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "data.db"
    migrate_sync(path)
    return sqlite3.connect(path, isolation_level=None)


def add(
    conn: sqlite3.Connection,
    sid: str,
    *,
    status: str,
    created: float,
    ended: float | None,
    project: str | None = "web",
    branch: str | None = "main",
) -> None:
    conn.execute(
        "INSERT INTO sessions (id, name, project, worktree, branch, created_at, updated_at, "
        "last_access, status, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            sid,
            sid,
            project,
            project,
            branch,
            stamp(created),
            stamp(created),
            stamp(ended if ended is not None else created),
            status,
            None if ended is None else stamp(ended),
        ),
    )


def event(conn: sqlite3.Connection, sid: str, kind: str, at: float, client: str = "c") -> None:
    data = json.dumps({"client": client}) if kind in ("attached", "detached") else "{}"
    conn.execute(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        (sid, kind, stamp(at), data),
    )


def test_rows_follow_every_change(conn) -> None:
    """Inserted ended, ended later, events written after the end, a changed project, a
    changed id, events deleted, the session deleted: after each, the rows are what the
    definition (the view) says, and only ended sessions have one."""

    def check() -> None:
        assert ended_rows(conn) == ended_defined(conn)

    add(conn, "a", status="ended", created=0.0, ended=10 * H)
    check()
    assert [r[0] for r in ended_rows(conn)] == ["a"]
    add(conn, "b", status="detached", created=H, ended=None)
    event(conn, "b", "attached", 2 * H)
    event(conn, "b", "detached", 3 * H)
    check()
    assert [r[0] for r in ended_rows(conn)] == ["a"]  # alive: no row
    conn.execute(
        "UPDATE sessions SET status = 'ended', ended_at = ?, last_access = ? WHERE id = 'b'",
        (stamp(5 * H), stamp(5 * H)),
    )
    check()
    row = dict(
        zip(
            [
                "session_id",
                "project",
                "worktree",
                "branch",
                "born",
                "created",
                "ended",
                "life",
                "micros",
                "attaches",
                "exact_from",
            ],
            ended_rows(conn)[1],
            strict=True,
        )
    )
    assert row["micros"] == 3_600_000_000 and row["attaches"] == 1
    assert row["life"] == 4 * H and row["exact_from"] < 1e300
    # A late attach without its detach: an island open after the end, not whole.
    event(conn, "a", "attached", 4 * H)
    check()
    assert ended_rows(conn)[0][-1] == 1e300
    event(conn, "a", "detached", 5 * H)
    check()
    assert ended_rows(conn)[0][-1] < 1e300
    conn.execute("UPDATE sessions SET project = 'api', branch = '' WHERE id = 'a'")
    check()
    assert ended_rows(conn)[0][1:4] == ("api", "web", None)
    conn.execute("UPDATE sessions SET id = 'a2' WHERE id = 'a'")
    check()
    conn.execute("DELETE FROM session_events WHERE session_id = 'b'")
    check()
    conn.execute("UPDATE sessions SET status = 'detached', ended_at = NULL WHERE id = 'b'")
    check()
    assert [r[0] for r in ended_rows(conn)] == ["a2"]
    conn.execute("DELETE FROM sessions")
    check()
    assert ended_rows(conn) == []


def test_unreadable_or_future_times_are_left_to_the_usual_way(conn) -> None:
    add(conn, "x", status="ended", created=0.0, ended=H)
    conn.execute("UPDATE sessions SET created_at = 'not a time' WHERE id = 'x'")
    assert ended_rows(conn) == ended_defined(conn)
    assert ended_rows(conn)[0][-1] == 1e300
    add(conn, "y", status="ended", created=0.0, ended=4 * 86400)  # a day after NOW
    assert ended_rows(conn)[1][-1] > NOW.timestamp()  # read the usual way until then
    by = "project"
    args: dict[str, Any] = {"by": by, "lo": 0.0, "hi": NOW.timestamp(), "now": NOW.timestamp()}
    usual = _activity(conn, "1", (), aggregates=True, settled=False, **args)
    settled = _activity(conn, "1", (), aggregates=True, settled=True, **args)
    assert usual is not None and settled is not None
    close(report(settled, by=by, limit=None), report(usual, by=by, limit=None))


_PROJECTS = st.sampled_from(["web", "api", "", None])


@settings(max_examples=60, deadline=None)
@given(
    sessions=st.lists(
        st.tuples(
            _PROJECTS,
            st.sampled_from(["main", "dev", None]),
            st.sampled_from(["attached", "detached", "ended", "ended", "ended"]),
            st.integers(0, 40).map(lambda h: h * H / 4),
            st.integers(0, 40).map(lambda h: h * H / 4),
            st.lists(
                st.tuples(
                    st.sampled_from(["attached", "detached", "killed"]),
                    st.integers(0, 60).map(lambda h: h * H / 4),
                ),
                max_size=6,
            ),
        ),
        max_size=12,
    ),
    until=st.one_of(st.none(), st.integers(0, 60).map(lambda h: h * H / 4)),
    by=st.sampled_from(["project", "worktree", "branch", "day", "hour"]),
)
def test_settled_sums_and_medians_equal_reading_every_session(
    tmp_path_factory, sessions, until, by
) -> None:
    """Random sessions (ended ones with any events, alive ones), any window end: every
    group's numbers and medians are those of reading every session."""
    path = tmp_path_factory.mktemp("settled") / "data.db"
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for i, (project, branch, status, created, length, events) in enumerate(sessions):
        ended = created + length if status == "ended" else None
        add(
            conn,
            f"s{i}",
            status=status,
            created=created,
            ended=ended,
            project=project,
            branch=branch,
        )
        for kind, at in events:
            event(conn, f"s{i}", kind, at)
    assert ended_rows(conn) == ended_defined(conn)
    hi = NOW.timestamp() if until is None else (NOW.timestamp() - 3 * 86400 + until)
    args: dict[str, Any] = {"by": by, "lo": 0.0, "hi": hi, "now": NOW.timestamp()}
    usual = _activity(conn, "1", (), aggregates=True, settled=False, **args)
    settled = _activity(conn, "1", (), aggregates=True, settled=True, **args)
    assert usual is not None and settled is not None
    close(report(settled, by=by, limit=None), report(usual, by=by, limit=None))
    assert settled.total.lifetime_median_seconds == usual.total.lifetime_median_seconds
    assert {g.key: g.lifetime_median_seconds for g in settled.groups} == {
        g.key: g.lifetime_median_seconds for g in usual.groups
    }
    conn.close()


@settings(max_examples=200, deadline=None)
@given(
    stored=st.lists(st.integers(0, 50).map(float), max_size=12),
    others=st.lists(st.integers(0, 50).map(float), max_size=6),
)
def test_median_by_offset_is_the_median_of_everything(stored, others) -> None:
    """Only the stored values from max(0, lower middle - len(others)) to the upper middle are
    read; the median is that of all values together."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE stats_ended (life REAL, exact_from REAL, born INTEGER, project)")
    conn.execute("CREATE INDEX ix_stats_ended_life ON stats_ended (life, exact_from, born)")
    conn.execute("CREATE INDEX ix_stats_ended_project ON stats_ended (project, life)")
    rows = [(life, 1.0, 1, "p") for life in stored] + [(99.0, 5.0, 1, "p"), (98.0, 1.0, 0, "p")]
    random.Random(len(stored)).shuffle(rows)
    conn.executemany("INSERT INTO stats_ended VALUES (?, ?, ?, ?)", rows)
    expected = _median(stored + others)
    assert _settled_median(conn, "project", 2.0, "p", len(stored), list(others)) == expected


def test_many_groups_read_every_lifetime_once(conn) -> None:
    """With more groups than median queries are worth (branches), the stored lifetimes are
    read in one pass of the group's index: the same groups, counts, totals and medians."""
    from store.stats import _MEDIAN_QUERIES_MAX

    rng = random.Random(5)
    branches = [f"b{i}" for i in range(_MEDIAN_QUERIES_MAX + 10)]
    for i in range(3 * len(branches)):
        created = rng.randrange(0, 40) * H / 4
        add(
            conn,
            f"s{i}",
            status="ended",
            created=created,
            ended=created + rng.randrange(1, 20) * H,
            branch=rng.choice(branches),
        )
    for i in range(5):  # alive ones, read the usual way, in some of the same groups
        add(conn, f"a{i}", status="detached", created=i * H, ended=None, branch=branches[i])
    args: dict[str, Any] = {
        "by": "branch",
        "lo": 0.0,
        "hi": NOW.timestamp(),
        "now": NOW.timestamp(),
    }
    usual = _activity(conn, "1", (), aggregates=True, settled=False, **args)
    settled = _activity(conn, "1", (), aggregates=True, settled=True, **args)
    assert usual is not None and settled is not None
    assert len(settled.groups) > _MEDIAN_QUERIES_MAX
    close(report(settled, by="branch", limit=None), report(usual, by="branch", limit=None))
    assert {g.key: g.lifetime_median_seconds for g in settled.groups} == {
        g.key: g.lifetime_median_seconds for g in usual.groups
    }
