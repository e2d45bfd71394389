#!/usr/bin/env python3
"""How long an event waits in the real writer while it folds the name-order snapshot's delta,
and how big the WAL grows, for two source trees in the same run (before/after a change of the
writer's checkpoints: store.wal, watcher.capture.checkpoints), on a scratch copy of a dense
benchmark database migrated to 012 or later (it is written to: never the cached one).

    .venv/bin/python scripts/bench_writer_checkpoints.py --db /tmp/x/copy-of-m013-1000000.db \\
        --baseline /work/main --runs 3

Per run and tree (the trees alternate: A B, B A, ...), in a process of its own that imports that
tree's store and watcher: the delta left by the run before is folded first; then ``--events``
events are sent to the real writer (store.db.Database + SessionWriter) at random moments with
nothing to fold; then ``--delta`` sessions are inserted next to existing names (one transaction,
its WAL checkpointed away, as a watcher that has been idle), and the same events are sent while
the writer folds them. Each event's time from send to commit (ms: p50, p95, max), the largest
size of the WAL file while it folded (sampled every 5 ms), the seconds until the delta was all
folded in, and the load. Prints one JSON object: every run, and the medians per tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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


def _fold_all(conn: sqlite3.Connection) -> None:
    from store import name_fold

    while True:
        conn.execute("BEGIN IMMEDIATE")
        done = name_fold.fold(conn)
        conn.execute("COMMIT")
        if not done.more or done.exhausted:
            return


def _summary(waits: list[float]) -> dict[str, float]:
    waits = sorted(waits)
    return {
        "p50_ms": round(statistics.median(waits), 2),
        "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 2),
        "max_ms": round(waits[-1], 2),
    }


async def _phase(path: Path, events: int, folding: bool) -> dict[str, Any]:
    """Events sent to the real writer at random moments; the WAL's size sampled meanwhile."""
    import anyio

    from store import name_order
    from store.db import Database
    from watcher.capture import writer as writer_module
    from watcher.capture.events import Lifecycle, server_key
    from watcher.capture.writer import SessionWriter

    writer_module.CHECK_INTERVAL = 0.03  # idle after 30 ms (2 s in the watcher)
    writer_module.MAINTAIN_INTERVAL = 0.0
    server = server_key("/tmp/bench-checkpoints/socket", os.getpid(), 1795690000)
    wal = path.with_name(path.name + "-wal")
    db = await Database.open(path, migrate=False)
    committed: list[float] = []
    writer = SessionWriter(db, on_commit=partial(committed.append, 0.0))
    stamps: list[float] = []
    send, receive = anyio.create_memory_object_stream[Any](100)
    waits: list[float] = []
    largest = 0
    folded_after: float | None = None
    started = time.perf_counter()

    def left() -> tuple[int, int] | None:
        with sqlite3.connect(path) as conn:
            return name_order.snapshot_facts(conn)

    async def sample(stop: anyio.Event) -> None:
        nonlocal largest
        while not stop.is_set():
            with contextlib.suppress(OSError):  # no WAL at this moment
                largest = max(largest, os.path.getsize(wal))
            await anyio.sleep(0.005)

    # The writer's own DEBUG lines: each fold transaction's time (both trees) and each
    # checkpoint's (this one), to see what an event waited for.
    folds: list[float] = []
    checkpoints: list[float] = []

    class Times(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("name-order fold: "):
                folds.append(float(record.args[2]))  # type: ignore[index, arg-type]
            elif record.msg.startswith("WAL checkpoint: "):
                checkpoints.append(float(record.args[3]))  # type: ignore[index, arg-type]

    logger = logging.getLogger("ccmgr_watch.writer")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Times())
    logger.propagate = False
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run, receive)
        group.start_soon(sample, stop)
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
                        name="bench-checkpoint-events",
                        status="attached" if n % 2 else "detached",
                    )
                )
                while len(committed) == seen:
                    await anyio.sleep(0.0005)
                stamps.append(time.perf_counter())
                waits.append((stamps[-1] - sent) * 1000)
            if folding:
                # The writer goes on folding once the events are over: until the delta is in.
                with anyio.move_on_after(120):
                    while left() != (0, 0):
                        await anyio.sleep(0.05)
                folded_after = time.perf_counter() - started
        stop.set()
    await db.close()
    return {
        **_summary(waits),
        "fold_transactions": len(folds),
        "fold_ms": _summary(folds) if folds else None,
        "checkpoints": len(checkpoints),
        "checkpoint_ms": _summary(checkpoints) if checkpoints else None,
        "wal_max_mb": round(largest / 2**20, 1),
        "folded_in_s": None if folded_after is None else round(folded_after, 2),
        "delta_left": left(),
    }


def worker(args: argparse.Namespace) -> None:
    """One run of one tree (this process imports that tree)."""
    import asyncio

    path = args.db
    load = [os.getloadavg()[0]]
    with sqlite3.connect(path, isolation_level=None) as conn:
        _fold_all(conn)  # what an earlier run left
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out: dict[str, Any] = {"nothing_to_fold": asyncio.run(_phase(path, args.events, False))}
    with sqlite3.connect(path, isolation_level=None) as conn:
        _insert_near(conn, args.delta, f"ck{os.getpid()}x{time.monotonic_ns() % 10**9}")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out[f"folding_{args.delta}"] = asyncio.run(_phase(path, args.events, True))
    load.append(os.getloadavg()[0])
    out["load"] = load
    print(json.dumps(out))


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {key: merge([v[key] for v in values]) for key in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return round(statistics.median(values), 2)
        return first

    return merge([{k: v for k, v in run.items() if k != "load"} for run in runs])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="a scratch copy (written to)")
    parser.add_argument("--baseline", type=Path, help="the other source tree (e.g. /work/main)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--delta", type=int, default=10000)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=BUDGET_MS,PAGES",
        help="this tree again with another fold budget and merge step (store.name_fold)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fold", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if "ccmgr-watch-bench" in str(args.db.resolve()):
        parser.error("give a copy: the cached benchmark databases are read-only")
    if args.worker is not None:
        sys.path.insert(0, str(args.worker))
        if args.fold:
            from store import name_fold

            budget, pages = args.fold.split(",")
            name_fold.FOLD_BUDGET = float(budget) / 1000
            name_fold.MERGE_PAGES = int(pages)
        worker(args)
        return
    trees = {"this": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    folds = {}
    for variant in args.variant:
        name, _, fold = variant.partition("=")
        trees[name], folds[name] = ROOT, fold
    uptime = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    rotation = list(trees)
    for number in range(args.runs):
        order = rotation[number % len(rotation) :] + rotation[: number % len(rotation)]
        for name in order:
            argv = [sys.executable, __file__, "--db", str(args.db), "--worker", str(trees[name])]
            argv += ["--events", str(args.events), "--delta", str(args.delta)]
            if name in folds:
                argv += ["--fold", folds[name]]
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(name, runs[name][-1], file=sys.stderr, flush=True)
    uptime.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    report = {
        "db": str(args.db),
        "trees": {name: str(path) for name, path in trees.items()},
        "variants": folds,
        "uptime": uptime,
        "runs": runs,
        "medians": {name: _medians(found) for name, found in runs.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
