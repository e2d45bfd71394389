#!/usr/bin/env python3
"""What the name-order snapshot (migrations 009, 012) costs and how its delta ages, on a scratch
copy of a dense benchmark database already migrated (it is written to: never the cached one).

    .venv/bin/python scripts/bench_name_snapshot.py --db /tmp/x/copy-of-dense-1000000.db
    .venv/bin/python scripts/bench_name_snapshot.py --db COPY --folds --runs 3

Prints one JSON object: the rebuild's time (one write transaction: how long the writer waits);
the time of one session inserted, renamed, and its project changed (each its own transaction,
median of ``--writes``) with the snapshot's triggers and without them, in turns; and the
CPU per query (min of ``--repeat``) of the by-name shapes as the delta grows (sessions inserted
since the build, then built sessions renamed), with the plan the planner chooses.

``--folds`` (migration 012, store.name_fold) measures instead, per run (``--runs``, medians
after): the queries with no delta; then for each delta (``--deltas``: sessions inserted next to
existing names, then ``--renamed`` renames, then ``--appended`` names appended at one place) the
queries before folding (the baseline, in the same run), the folds (per transaction and per
session, the longest transaction, rows relabelled) and the queries after; and the longest time
an event waited in the real writer (store.db.Database + SessionWriter on this file) while it
folded a delta, against the same events with nothing to fold.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import name_order  # noqa: E402
from store.query import compile_query, parse_query  # noqa: E402
from store.search import plan_sync, rows_sync  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
QUERIES = ["myapp", "main", "auth project:myapp branch:main", '"auth login"', "cache", "a"]


_WRITES = {
    "insert": (
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, status, metadata) SELECT ?, name || '-w', project, worktree, "
        "branch, directory, created_at, updated_at, last_access, status, metadata "
        "FROM sessions WHERE rowid = ?"
    ),
    "rename": "UPDATE sessions SET name = name || '-r' WHERE rowid = ?",
    "project": "UPDATE sessions SET project = project || 'p' WHERE rowid = ?",
}


def _writes(conn: sqlite3.Connection, count: int) -> dict[str, dict[str, float]]:
    """Median ms of one insert, one rename, one project change (each a transaction), with the
    snapshot's triggers and without them (dropped and created again between rounds of ten,
    so both see the same database and the same load; an insert has no trigger of 009)."""
    triggers = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'sessions_name_%'"
        )
    ]
    built = conn.execute("SELECT max_rowid FROM sessions_name_build").fetchone()[0]
    times: dict[str, dict[str, list[float]]] = {
        side: {kind: [] for kind in _WRITES} for side in ("with", "without")
    }
    n = 0
    for turn in range(max(1, count // 10)):
        for side in ("with", "without") if turn % 2 == 0 else ("without", "with"):
            conn.execute("BEGIN IMMEDIATE")
            for sql in triggers:
                name = sql.split()[2]
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
                if side == "with":
                    conn.execute(sql)
            conn.execute("COMMIT")
            for _ in range(10):
                n += 1
                source = 1 + (n * 7919) % (built // 2)  # built sessions: the triggers act
                for kind, sql in _WRITES.items():
                    params: tuple[Any, ...] = (source + len(kind),)
                    if kind == "insert":
                        params = (f"w-{os.getpid()}-{n}", source)
                    started = time.perf_counter()
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(sql, params)
                    conn.execute("COMMIT")
                    times[side][kind].append((time.perf_counter() - started) * 1000)
    conn.execute("BEGIN IMMEDIATE")
    for sql in triggers:
        conn.execute(f"DROP TRIGGER IF EXISTS {sql.split()[2]}")
        conn.execute(sql)
    conn.execute("COMMIT")
    return {
        side: {kind: round(statistics.median(v), 3) for kind, v in kinds.items()}
        for side, kinds in times.items()
    }


def _queries(conn: sqlite3.Connection, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in QUERIES:
        query = compile_query(parse_query(text, now=NOW), sort="name")
        cpu = []
        for _ in range(repeat):
            started = time.process_time()
            rows_sync(conn, query)
            cpu.append((time.process_time() - started) * 1000)
        out[text] = {"plan": plan_sync(conn, query).name, "cpu_min_ms": round(min(cpu), 2)}
    return out


def _fold_all(conn: sqlite3.Connection) -> dict[str, Any]:
    """Fold the whole delta as the watcher does (one transaction after another, each timed
    with its COMMIT): per transaction, per session, the longest, rows relabelled."""
    from store import name_fold

    times: list[float] = []
    folded = relabelled = 0
    while True:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        done = name_fold.fold(conn)
        conn.execute("COMMIT")
        times.append(time.perf_counter() - started)
        folded += done.folded
        relabelled += done.relabelled
        if done.exhausted or not done.more:
            break
    return {
        "sessions": folded,
        "transactions": len(times),
        "tx_ms_median": round(statistics.median(times) * 1000, 2),
        "tx_ms_max": round(max(times) * 1000, 2),
        "per_session_us": round(sum(times) / max(folded, 1) * 1e6, 1),
        "relabelled": relabelled,
        "gap_used_up": bool(done.exhausted),
    }


def _wall_queries(conn: sqlite3.Connection, repeat: int) -> dict[str, Any]:
    """Each by-name shape's plan, wall p50 and CPU min (ms) over ``repeat`` runs."""
    out: dict[str, Any] = {}
    for text in QUERIES:
        query = compile_query(parse_query(text, now=NOW), sort="name")
        wall, cpu = [], []
        for _ in range(repeat):
            started, used = time.perf_counter(), time.process_time()
            rows_sync(conn, query)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        out[text] = {
            "plan": plan_sync(conn, query).name,
            "p50_ms": round(statistics.median(wall), 2),
            "cpu_min_ms": round(min(cpu), 2),
        }
    return out


def _insert_near(conn: sqlite3.Connection, count: int, tag: str) -> None:
    """``count`` sessions copied from existing ones spread over the table, each named after its
    source (so it sorts right after it: anywhere in A-Z, as new sessions of many projects)."""
    (top,) = conn.execute("SELECT max(rowid) FROM sessions").fetchone()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, status, metadata) SELECT ? || rowid, name || ? , project, "
        "worktree, branch, directory, created_at, updated_at, last_access, 'ended', metadata "
        "FROM sessions WHERE rowid IN (SELECT value FROM json_each(?))",
        (f"{tag}-", f"-{tag}", json.dumps([1 + (n * 7919) % top for n in range(count)])),
    )
    conn.execute("COMMIT")


def _append_at_one_place(conn: sqlite3.Connection, count: int, tag: str) -> None:
    """``count`` sessions of one project named by counter: each sorts right after the last."""
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO sessions (id, name, project, branch, created_at, updated_at, last_access, "
        "status) VALUES (?, ?, 'myapp', 'main', '2026-11-27T00:00:00Z', "
        "'2026-11-27T00:00:00Z', '2026-11-27T00:00:00Z', 'ended')",
        [(f"{tag}-{n}", f"ccmgr-myapp-main-{tag}-{n:06d}") for n in range(count)],
    )
    conn.execute("COMMIT")


def _rename(conn: sqlite3.Connection, count: int, tag: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "UPDATE sessions SET name = name || ? WHERE rowid IN "
        "(SELECT rowid FROM sessions WHERE rowid % 97 = ? LIMIT ?)",
        (f"-{tag}", len(tag) % 97, count),
    )
    conn.execute("COMMIT")


def _stamp(times: list[float]) -> None:
    times.append(time.perf_counter())


async def _event_waits(path: Path, delta: int, events: int) -> dict[str, Any]:
    """Events sent to the real writer at random moments while it folds a delta of ``delta``
    sessions (inserted next to existing names), and the same events with nothing to fold: the
    time from each event's send to its commit (ms)."""
    import random

    import anyio

    from store.db import Database
    from watcher.capture import writer as writer_module
    from watcher.capture.events import Lifecycle, server_key
    from watcher.capture.writer import SessionWriter

    writer_module.CHECK_INTERVAL = 0.03  # idle after 30 ms (2 s in the watcher)
    writer_module.MAINTAIN_INTERVAL = 0.0
    server = server_key("/tmp/bench-fold/socket", os.getpid(), 1795690000)
    out: dict[str, Any] = {}
    for label in ("nothing_to_fold", f"folding_{delta}"):
        with sqlite3.connect(path, isolation_level=None) as conn:
            if label == "nothing_to_fold":
                _fold_all(conn)  # what an earlier run left (events sent faster than it folds)
            else:
                _insert_near(conn, delta, f"ev{os.getpid()}x{time.monotonic_ns()}")
        db = await Database.open(path, migrate=False)
        committed: list[float] = []
        writer = SessionWriter(db, on_commit=partial(_stamp, committed))
        send, receive = anyio.create_memory_object_stream[Any](100)
        waits: list[float] = []
        async with anyio.create_task_group() as group:
            group.start_soon(writer.run, receive)
            async with send:
                for n in range(events):
                    await anyio.sleep(random.uniform(0.035, 0.08))  # past CHECK_INTERVAL mostly
                    seen = len(committed)
                    sent = time.perf_counter()
                    await send.send(
                        Lifecycle(
                            server=server,
                            tmux_id="$1",
                            event_type="attached" if n % 2 else "detached",
                            timestamp=f"2026-11-27T10:00:{n % 60:02d}.000000Z",
                            name="bench-fold-events",
                            status="attached" if n % 2 else "detached",
                        )
                    )
                    while len(committed) == seen:
                        await anyio.sleep(0.0005)
                    waits.append((committed[-1] - sent) * 1000)
        left = name_order.snapshot_facts(sqlite3.connect(path))
        await db.close()
        waits.sort()
        out[label] = {
            "events": len(waits),
            "p50_ms": round(statistics.median(waits), 2),
            "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 2),
            "max_ms": round(waits[-1], 2),
            "delta_left": left,
        }
    return out


def _folds(conn: sqlite3.Connection, args: argparse.Namespace) -> dict[str, Any]:
    """One run of ``--folds``: the queries with no delta, then per delta before and after the
    folds, and the folds themselves."""
    run: dict[str, Any] = {"load": os.getloadavg()}
    tag = f"r{os.getpid()}x{time.monotonic_ns() % 100000}"
    if name_order.snapshot_facts(conn) != (0, 0):
        run["initial_fold"] = _fold_all(conn)
    run["delta 0"] = _wall_queries(conn, args.repeat)
    steps = [(f"inserted {n}", _insert_near, n) for n in map(int, args.deltas.split(",")) if n]
    steps += [(f"renamed {args.renamed_folds}", _rename, args.renamed_folds)]
    steps += [(f"appended {args.appended}", _append_at_one_place, args.appended)]
    for label, write, count in steps:
        write(conn, count, f"{tag}{count}")
        run[label] = {
            "facts": name_order.snapshot_facts(conn),
            "before": _wall_queries(conn, args.repeat),
            "fold": _fold_all(conn),
            "after": _wall_queries(conn, args.repeat),
        }
        print(label, json.dumps(run[label]["fold"]), file=sys.stderr, flush=True)
    return run


def _median_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians over runs of every number at the same place (plans from the first run)."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {key: merge([v[key] for v in values]) for key in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return round(statistics.median(values), 2)
        return first

    keys = [key for key in runs[0] if key not in ("load", "initial_fold")]
    merged: dict[str, Any] = merge([{key: run[key] for key in keys} for run in runs])
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="a scratch copy (written to)")
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--inserted", default="1000,5000,20000")
    parser.add_argument("--renamed", default="1000")
    parser.add_argument("--folds", action="store_true", help="measure folds (migration 012)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deltas", default="1000,10000")
    parser.add_argument("--renamed-folds", type=int, default=100)
    parser.add_argument("--appended", type=int, default=2000)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--event-delta", type=int, default=10000)
    parser.add_argument("--only-events", action="store_true", help="--folds: the event waits only")
    args = parser.parse_args()
    if "ccmgr-watch-bench" in str(args.db.resolve()):
        parser.error("give a copy: the cached benchmark databases are read-only")
    conn = sqlite3.connect(args.db, isolation_level=None)
    if args.folds:
        import asyncio
        import subprocess

        uptime = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
        runs = [_folds(conn, args) for _ in range(0 if args.only_events else args.runs)]
        conn.close()
        waits = [asyncio.run(_event_waits(args.db, args.event_delta, args.events))]
        for _ in range(args.runs - 1):
            waits.append(asyncio.run(_event_waits(args.db, args.event_delta, args.events)))
        uptime.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        print(
            json.dumps(
                {
                    "db": str(args.db),
                    "uptime": uptime,
                    "runs": runs,
                    "median": _median_runs(runs) if runs else None,
                    "event_waits": waits,
                    "event_waits_median": _median_runs(waits),
                },
                indent=2,
            )
        )
        return
    report: dict[str, Any] = {"db": str(args.db), "load_before": os.getloadavg()}
    started, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    held = name_order.rebuild(conn)
    conn.execute("COMMIT")
    report["rebuild"] = {
        "sessions": held,
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }
    report["delta"] = {"0": _queries(conn, args.repeat)}
    top = conn.execute("SELECT max(rowid) FROM sessions").fetchone()[0]
    done = 0
    for target in (int(n) for n in args.inserted.split(",") if n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
            "updated_at, last_access, status, metadata) SELECT ? || rowid, name || '-d', "
            "project, worktree, branch, directory, created_at, updated_at, last_access, status, "
            "metadata FROM sessions WHERE rowid > ? AND rowid <= ?",
            (f"d-{os.getpid()}-", top - target, top - done),
        )
        conn.execute("COMMIT")
        done = target
        report["delta"][f"inserted {target}"] = _queries(conn, args.repeat)
        print(target, report["delta"][f"inserted {target}"], file=sys.stderr, flush=True)
    for renamed in (int(n) for n in args.renamed.split(",") if n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE sessions SET name = name || '-n' WHERE rowid IN "
            "(SELECT rowid FROM sessions WHERE rowid % 97 = 3 LIMIT ?)",
            (renamed,),
        )
        conn.execute("COMMIT")
        report["delta"][f"inserted {done}, renamed {renamed}"] = _queries(conn, args.repeat)
    conn.execute("BEGIN IMMEDIATE")
    name_order.rebuild(conn)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rebuild's WAL out of the writes' way
    report["writes_ms"] = _writes(conn, args.writes)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
