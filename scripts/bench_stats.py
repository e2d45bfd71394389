#!/usr/bin/env python3
"""Benchmark ``ccmgr-watch stats``: the whole CLI process over 10 k sessions and 1 M events.

Builds (once, cached in --workdir, default $TMPDIR/ccmgr-watch-bench) a database shaped like a
heavy user's year: a few projects hold most sessions, ``main`` in every project, scratch
sessions without a project, many attaches and detaches per session (sometimes two clients at
once, a duplicate attach or a client-less detach after a watcher restart), windows opened,
closed and renamed, most sessions killed, a few vanished, some still alive and attached. Events
are written in time order, as the watcher writes them (a session's events are scattered over
the table).

Then times, in the same run and taking turns (median and p95 of --repeat runs):

- ``ccmgr_watch_stats_*``: the real CLI process: every session over all time (``--json``), the
  last 7 days, ``--by day`` over 90 days, one big project;
- ``baseline_one_indexed_query``: ``python -c`` running one indexed aggregate over the same
  events (``count(*) ... WHERE event_type = 'attached'`` through ix_session_events_type): the
  cost of starting Python and asking SQLite anything at all about the events;
- ``baseline_python_start``: ``python -c pass``;
- ``naive_load_all_events``: ``python -c`` loading every attach/detach/kill event into Python
  and summing attached time there (what the SQL replaces).

Prints one JSON object, with the load average before and after.

    .venv/bin/python scripts/bench_stats.py [--sessions 10000] [--events 1000000]
        [--repeat 5] [--naive-repeat 3] [--workdir DIR] [--build-only] [--writes N]
        [--before DIR --before-db PATH]

``--writes N`` (default 3) also measures how fast events are inserted in batches of 1,000 into
schemas 005, 006, 007 and 008 (``write_rates``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.db import migrate_sync  # noqa: E402

# 6: schema 010 (stats_ended); 5: 009; 4: 008 (attached_days_all); 3: 007; 2: 006
GENERATOR_VERSION = 6
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SPAN_DAYS = 365


def _ts(seconds: float) -> str:
    """Epoch seconds as stored timestamp text."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


class _Zipf:
    """Draws items with probability proportional to 1 / rank**s."""

    def __init__(self, items: list[Any], s: float) -> None:
        self.items = items
        total, self.cum = 0.0, []
        for rank in range(1, len(items) + 1):
            total += 1.0 / rank**s
            self.cum.append(total)

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.items, cum_weights=self.cum)[0]


_PROJECTS = (  # noqa: SIM905
    "webshop myapp api-server dotfiles infra billing mobile-app docs ml-pipeline auth-service "
    "cli data-sync admin-ui gateway notifier search reports blog sandbox k8s-config "
    "payments crawler design-system ops"
).split()
_TOPICS = (  # noqa: SIM905
    "auth login api cache queue worker billing search admin docs deploy metrics sync export "
    "import profile config test refactor cleanup hotfix release ui db"
).split()


def _work_time(rng: random.Random, day_start: float) -> float:
    """A moment of a working day: mostly 9 to 19 h, some evenings, few nights."""
    r = rng.random()
    hour = rng.uniform(9, 19) if r < 0.8 else rng.uniform(19, 24) if r < 0.95 else rng.uniform(0, 9)
    return day_start + hour * 3600


def _session_plan(rng: random.Random, index: int, project_pick: _Zipf) -> dict[str, Any]:
    project = project_pick.pick(rng) if rng.random() < 0.9 else None
    topic = "-".join(rng.sample(_TOPICS, rng.randint(1, 2)))
    branch = None
    worktree = None
    if project is not None:
        branch = "main" if rng.random() < 0.3 else f"{rng.choice(['feat', 'fix'])}/{topic}"
        worktree = "main" if branch == "main" else topic
        name = f"ccmgr-{project}-{worktree}-{branch.replace('/', '_')}"
        directory = f"/home/user/code/{project}"
    else:
        name = rng.choice(["0", "1", "2", "dev", "notes", "scratch", "htop", "logs"])
        directory = "/home/user"
    # Days: more sessions recently (a growing habit), weekdays busier than weekends.
    while True:
        day = int(SPAN_DAYS * (1 - rng.random() ** 1.5))
        start_of_day = (NOW - timedelta(days=day)).replace(hour=0, minute=0, second=0)
        if start_of_day.weekday() < 5 or rng.random() < 0.3:
            break
    created = _work_time(rng, start_of_day.timestamp())
    # Lifetimes: median ~5 h, a long tail of sessions kept for weeks ("main" ones longest).
    life = math.exp(rng.gauss(math.log(5 * 3600), 1.6))
    if branch == "main":
        life *= 4
    life = min(life, 120 * 86400)
    return {
        "id": f"s-{index:08x}{rng.getrandbits(32):08x}",
        "name": name,
        "project": project,
        "worktree": worktree,
        "branch": branch,
        "directory": directory,
        "created": created,
        "life": life,
        "weight": rng.paretovariate(1.3),  # how busy: a few sessions take most attaches
    }


def _events(rng: random.Random, plan: dict[str, Any], pairs: int, windows: int) -> Any:
    """One session's events (kind, epoch seconds, data) and its final status and times."""
    created, now = plan["created"], NOW.timestamp()
    end = created + plan["life"]
    alive = end > now
    end = min(end, now)
    status = "ended"
    out: list[tuple[str, float, str]] = [
        ("created" if rng.random() < 0.95 else "discovered", created, "{}")
    ]
    clients = [f"/dev/pts/{rng.randint(0, 40)}" for _ in range(3)]
    marks = sorted(rng.uniform(created, end) for _ in range(pairs))
    for i, at in enumerate(marks):
        following = marks[i + 1] if i + 1 < len(marks) else end
        length = min(math.exp(rng.gauss(math.log(20 * 60), 1.2)), following - at)
        client = clients[0] if rng.random() < 0.9 else clients[1]
        out.append(("attached", at, json.dumps({"client": client})))
        r = rng.random()
        if r < 0.03:  # a second client joins for a while
            out.append(("attached", at + length / 3, json.dumps({"client": clients[2]})))
            out.append(("detached", at + length / 2, json.dumps({"client": clients[2]})))
        elif r < 0.04:  # a watcher restart: the same client reported attached again
            out.append(("attached", at + length / 2, json.dumps({"client": client})))
        if i == len(marks) - 1 and alive and rng.random() < 0.3:
            status = "attached"  # still attached now
            break
        if rng.random() < 0.01:  # a watcher restart saw the session detached: no client known
            out.append(("detached", at + length, json.dumps({"client": None})))
        else:
            out.append(("detached", at + length, json.dumps({"client": client})))
    for w in range(windows):
        at = rng.uniform(created, end)
        kind = ("window_added", "window_added", "window_closed", "window_renamed")[w % 4]
        out.append((kind, at, json.dumps({"window_id": f"@{w}", "window_name": "zsh"})))
    if alive:
        status = "attached" if status == "attached" else "detached"
        ended = None
    else:
        out.append(("killed" if rng.random() < 0.95 else "vanished", end, "{}"))
        ended = end
    last = max(at for _, at, _ in out)
    return out, status, ended, last


def _generate(sessions: int, events: int, seed: int = 13) -> tuple[list[Any], list[Any]]:
    """Session rows and event rows (epoch seconds, session id, kind, data), events in time
    order."""
    rng = random.Random(seed)
    project_pick = _Zipf(_PROJECTS, 1.2)
    plans = [_session_plan(rng, i, project_pick) for i in range(sessions)]
    # Spread the event budget: ~2/3 attach/detach pairs, ~1/3 windows, by each session's weight.
    total_weight = sum(p["weight"] for p in plans)
    budget = events - 2 * sessions
    rows_sessions = []
    rows_events: list[tuple[float, str, str, str]] = []
    for plan in plans:
        share = budget * plan["weight"] / total_weight
        pairs = max(1, round(share * 0.66 / 2.05))
        windows = max(1, round(share * 0.34))
        evs, status, ended, last = _events(rng, plan, pairs, windows)
        for kind, at, data in evs:
            rows_events.append((at, plan["id"], kind, data))
        rows_sessions.append(
            (
                plan["id"],
                plan["name"],
                plan["project"],
                plan["worktree"],
                plan["branch"],
                plan["directory"],
                _ts(plan["created"]),
                _ts(last),
                _ts(last),
                status,
                _ts(ended) if ended is not None else None,
            )
        )
    rows_events.sort(key=lambda row: row[0])
    return rows_sessions, rows_events


_INSERT_SESSION = (
    "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
    "updated_at, last_access, status, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_EVENT = (
    "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)"
)


def build(path: Path, sessions: int, events: int, seed: int = 13) -> dict[str, Any]:
    """Create the benchmark database (schema, rows in time order, search index, ANALYZE)."""
    started = time.perf_counter()
    rows_sessions, rows_events = _generate(sessions, events, seed)
    tmp = path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    # The rows go into schema 005, then 006 derives attached_spans from them, 007 its
    # aggregates and 008 the per-day sums (their backfills, timed): the database an existing
    # user has after upgrading, and much faster to build than through the triggers, row by row.
    migrate_sync(tmp, target=5)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(_INSERT_SESSION, rows_sessions)
    conn.executemany(
        _INSERT_EVENT, ((sid, kind, _ts(at), data) for at, sid, kind, data in rows_events)
    )
    conn.execute("COMMIT")
    conn.close()
    backfill_started = time.perf_counter()
    migrate_sync(tmp, target=6)
    backfill_006 = time.perf_counter() - backfill_started
    backfill_started = time.perf_counter()
    migrate_sync(tmp, target=7)
    backfill_007 = time.perf_counter() - backfill_started
    backfill_started = time.perf_counter()
    migrate_sync(tmp, target=8)
    backfill_008 = time.perf_counter() - backfill_started
    migrate_sync(tmp)  # 009 (the name-order snapshot of the search index) and any later
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return {
        "build_seconds": round(time.perf_counter() - started, 1),
        "migration_006_backfill_seconds": round(backfill_006, 1),
        "migration_007_backfill_seconds": round(backfill_007, 1),
        "migration_008_backfill_seconds": round(backfill_008, 2),
        "sessions": sessions,
        "events": len(rows_events),
    }


def _remove(path: Path) -> None:
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)


_STATUS_AFTER = {
    "attached": "attached",
    "detached": "detached",
    "killed": "ended",
    "vanished": "ended",
}


def write_rates(workdir: Path, repeat: int) -> dict[str, Any]:
    """Rows per second of realistic events (300 sessions, ~30,000 events: a third of them
    attaches, detaches and ends) inserted in batches of 1,000 rows, one transaction each,
    into schema 005 (no trigger), 006 (the windowed re-derivation per event), 007 (in time
    order: a few index writes), 009 (008's one more row per day) and 010 (stats_ended: the
    sessions are inserted ended, so every change of their totals rewrites their row: the
    import's case), taking turns; into 010 in a shuffled order (every event late by up to a
    day: the re-derivation path); and as the watcher writes (each event with its session's
    update, sessions alive until their end), 009 against 010. Medians of ``repeat`` runs."""
    rows_sessions, rows_events = _generate(300, 30_000, seed=7)
    in_order = [(sid, kind, _ts(at), data) for at, sid, kind, data in rows_events]
    shuffler = random.Random(3)
    late = sorted(in_order, key=lambda row: (row[2][:10], shuffler.random()))
    cases: dict[str, tuple[int | None, list[Any]]] = {
        "schema_005": (5, in_order),
        "schema_006": (6, in_order),
    }
    cases["schema_007"] = (7, in_order)
    cases["schema_009"] = (9, in_order)
    cases["schema_010"] = (None, in_order)
    cases["schema_010_late_within_a_day"] = (None, late)
    # As the watcher writes: each event with its session's update (last_access, status; the
    # end's ended_at), the sessions alive until their end (sql/010 keeps a row from then on).
    watcher = {"watcher_shaped_schema_009": 9, "watcher_shaped_schema_010": None}
    samples: dict[str, list[float]] = {name: [] for name in [*cases, *watcher]}
    alive = [(*row[:9], "detached", None) for row in rows_sessions]

    def fresh(name: str, run: int, target: int | None, sessions: list[Any]) -> sqlite3.Connection:
        path = workdir / f"writes-{name}-{run}.db"
        _remove(path)
        migrate_sync(path, target=target)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = OFF")
        conn.executemany(_INSERT_SESSION, sessions)
        return conn

    for run in range(repeat):
        for name, target in watcher.items():
            conn = fresh(name, run, target, alive)
            started = time.perf_counter()
            for i in range(0, len(in_order), 1000):
                conn.execute("BEGIN")
                for sid, kind, at, data in in_order[i : i + 1000]:
                    conn.execute(_INSERT_EVENT, (sid, kind, at, data))
                    status = _STATUS_AFTER.get(kind)
                    conn.execute(
                        "UPDATE sessions SET last_access = ?1, updated_at = ?1, "
                        "status = coalesce(?2, status), "
                        "ended_at = CASE WHEN ?2 = 'ended' THEN ?1 ELSE ended_at END "
                        "WHERE id = ?3",
                        (at, status, sid),
                    )
                conn.execute("COMMIT")
            samples[name].append(len(in_order) / (time.perf_counter() - started))
            conn.close()
            _remove(workdir / f"writes-{name}-{run}.db")
        for name, (target, rows) in cases.items():
            conn = fresh(name, run, target, rows_sessions)
            started = time.perf_counter()
            for i in range(0, len(rows), 1000):
                conn.execute("BEGIN")
                conn.executemany(_INSERT_EVENT, rows[i : i + 1000])
                conn.execute("COMMIT")
            samples[name].append(len(rows) / (time.perf_counter() - started))
            conn.close()
            _remove(workdir / f"writes-{name}-{run}.db")
    family = sum(1 for row in in_order if row[1] in ("attached", "detached", "killed", "vanished"))
    return {
        "rows": len(in_order),
        "attach_detach_end_rows": family,
        "rows_per_second_median": {k: round(statistics.median(v)) for k, v in samples.items()},
    }


# --- timing ----

_BASELINE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
print(conn.execute(
    "SELECT count(*) FROM session_events WHERE event_type = 'attached'").fetchone()[0])
"""

# Everything in Python: every attach, detach and end event loaded, one session at a time
# folded with a set of clients (the definition session show used before stats).
_NAIVE = """
import json, sqlite3, sys
from datetime import datetime
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT session_id, event_type, timestamp, data FROM session_events WHERE event_type IN "
    "('attached', 'detached', 'killed', 'vanished') ORDER BY session_id, timestamp, id")
total, current, clients, since = 0.0, None, set(), None
for sid, kind, ts, data in rows:
    if sid != current:
        current, clients, since = sid, set(), None
    t = datetime.fromisoformat(ts[:26]).timestamp()
    client = json.loads(data).get("client")
    if kind == "attached":
        if not clients:
            since = t
        clients.add(client)
    else:
        if kind == "detached" and client:
            clients.discard(client)
        else:
            clients.clear()
        if not clients and since is not None:
            total += t - since
            since = None
print(total)
"""


def _summary(samples: list[float], cpu: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        # The process's own CPU time (user + system): what other load changes least.
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "cpu_min_ms": round(min(cpu), 1),
    }


def _interleaved(argvs: dict[str, list[str]], repeat: int) -> dict[str, dict[str, float]]:
    """Run each command ``repeat`` times, taking turns in a shuffled order (same noise)."""
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}

    def run(argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[:4]} failed: {done.stderr.decode()[-800:]}")

    for argv in argvs.values():
        run(argv)  # warm the page cache and the .pyc files
    samples: dict[str, list[float]] = {name: [] for name in argvs}
    cpu: dict[str, list[float]] = {name: [] for name in argvs}
    order = list(argvs.items())
    shuffler = random.Random(1)
    for _ in range(repeat):
        shuffler.shuffle(order)
        for name, argv in order:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            run(argv)
            samples[name].append((time.perf_counter() - started) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu[name].append(used * 1000)
    return {name: _summary(samples[name], cpu[name]) for name in argvs}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--naive-repeat", type=int, default=3)
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also time the stats shapes with the code in DIR (a source tree of an earlier "
        "commit, e.g. from `git archive`) on --before-db, taking turns with this code",
    )
    parser.add_argument("--before-db", metavar="PATH", help="the database for --before")
    parser.add_argument(
        "--writes", type=int, default=3, metavar="N", help="write-rate runs (0: none)"
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = workdir / f"stats-{args.sessions}-{args.events}-v{GENERATOR_VERSION}.db"
    built: dict[str, Any] = {"reused": True}
    # The same data, one schema older (the newest such copy): copied and migrated.
    candidates = [path.with_name(f"stats-{args.sessions}-{args.events}-v{v}.db") for v in (5, 3)]
    older = next((c for c in candidates if c.exists()), candidates[-1])
    if not path.exists() and older.exists():
        # The same data, one schema older: copied and migrated (its time is worth knowing).
        import shutil

        shutil.copyfile(older, path)
        started = time.perf_counter()
        migrate_sync(path)
        built = {"migrated_from": older.name, "migration_seconds": time.perf_counter() - started}
    if not path.exists():
        built = build(path, args.sessions, args.events)
    if args.build_only:
        print(json.dumps({"database": str(path), **built}, indent=2))
        return
    import compileall

    # An installed package has its .pyc files; compare like with like.
    for package in ("store", "watcher"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    cli = str(Path(sys.executable).with_name("ccmgr-watch"))
    db = ["--db", str(path)]
    load_before = _load()
    argvs = {
        "ccmgr_watch_stats_json": [cli, "stats", "--json", *db],
        "ccmgr_watch_stats_since_7d": [cli, "stats", "--since", "7d", *db],
        "ccmgr_watch_stats_by_day_since_90d": [cli, "stats", "--by", "day", "--since", "90d", *db],
        "ccmgr_watch_stats_query_project": [cli, "stats", "project:webshop", "--json", *db],
        "baseline_one_indexed_query": [sys.executable, "-c", _BASELINE, str(path)],
        "baseline_python_start": [sys.executable, "-c", "pass"],
    }
    if args.before:
        before = str(Path(args.before).resolve())
        compileall_dirs = [Path(before) / "store", Path(before) / "watcher"]
        for folder in compileall_dirs:
            compileall.compile_dir(str(folder), quiet=1)
        launcher = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {before!r}); "
            "from watcher.cli.main import main; sys.exit(main())",
        ]
        old_db = ["--db", args.before_db or str(path)]
        for name, argv in list(argvs.items()):
            if name.startswith("ccmgr_watch_stats"):
                argvs["before_" + name] = [*launcher, *argv[1:-2], *old_db]
    timings = _interleaved(argvs, args.repeat)
    naive = {"naive_load_all_events": [sys.executable, "-c", _NAIVE, str(path)]}
    if args.naive_repeat:
        timings.update(_interleaved(naive, args.naive_repeat))
    writes = write_rates(workdir, args.writes) if args.writes else None
    target_ms = 200.0
    stats_runs = {k: v for k, v in timings.items() if k.startswith("ccmgr_watch_stats")}
    if args.before:
        for name in list(stats_runs):
            old_run = timings.get("before_" + name)
            if old_run:
                timings[name]["before_p50_ms"] = old_run["p50_ms"]
                timings[name]["before_cpu_p50_ms"] = old_run["cpu_p50_ms"]
    report = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "database": {"path": str(path), **built},
        "repeat": args.repeat,
        "load_average_before": load_before,
        "load_average_after": _load(),
        "timings": timings,
        "target_ms": target_ms,
        "target_met": all(v["p50_ms"] < target_ms for v in stats_runs.values()),
        "writes": writes,
        "notes": [
            "whole processes, median (p50) and p95 in ms, commands taking turns in a shuffled "
            "order; the machine is shared: see the load averages",
            "baseline_one_indexed_query: python -c with one indexed count over the events",
            "naive_load_all_events: python -c loading every attach/detach/end event and folding "
            "them in Python (attached time only)",
        ],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
