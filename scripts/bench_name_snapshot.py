#!/usr/bin/env python3
"""What the name-order snapshot (migration 009) costs and how its delta ages, on a scratch copy
of a dense benchmark database already migrated to 009 (it is written to: never the cached one).

    .venv/bin/python scripts/bench_name_snapshot.py --db /tmp/x/copy-of-dense-1000000.db

Prints one JSON object: the rebuild's time (one write transaction: how long the writer waits);
the time of one session inserted, renamed, and its project changed (each its own transaction,
median of ``--writes``) with the snapshot's triggers and without them, in turns; and the
CPU per query (min of ``--repeat``) of the by-name shapes as the delta grows (sessions inserted
since the build, then built sessions renamed), with the plan the planner chooses.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, type=Path, help="a scratch copy (written to)")
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--inserted", default="1000,5000,20000")
    parser.add_argument("--renamed", default="1000")
    args = parser.parse_args()
    if "ccmgr-watch-bench" in str(args.db.resolve()):
        parser.error("give a copy: the cached benchmark databases are read-only")
    conn = sqlite3.connect(args.db, isolation_level=None)
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
