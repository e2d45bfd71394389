#!/usr/bin/env python3
"""Benchmark ``ccmgr-watch stats`` on PostgreSQL beside SQLite, in the same run.

The data is scripts/bench_stats.py's (10 k sessions, ~1 M events shaped like a heavy user's
year; the SQLite file built and cached by it), loaded into PostgreSQL with ``db copy``'s
function (timed the first time; --cache keeps the cluster in WORKDIR/pg-stats-cache so a repeat
run does not load again). Then the real CLI processes take turns, in a shuffled order, over
both stores (median and p95 of --repeat runs): every session over all time (``--json``), the
last 7 days, ``--by day`` over 90 days, one big project, ``--by hour``; with baselines:
``python -c pass`` and ``python -c`` importing psycopg, connecting and running ``SELECT 1``
(what any command on a URL pays before its work).

Prints one JSON object, with the load average before and after.

    .venv/bin/python scripts/bench_stats_postgres.py [--sessions 10000] [--events 1000000]
        [--repeat 5] [--cache] [--url URL] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_stats  # noqa: E402
from bench_postgres import postgres  # noqa: E402

from store.copy import copy_store  # noqa: E402
from store.postgres.connect import connect_sync  # noqa: E402

_PG_BASELINE = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn:
    print(conn.execute("SELECT 1").fetchone()[0])
"""


def _count(url: str) -> tuple[int, int]:
    with connect_sync(url) as conn:
        row = conn.execute(
            b"SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM session_events)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def load(path: Path, url: str) -> dict[str, Any]:
    """The SQLite file's rows into the PostgreSQL database (once: a loaded one is reused)."""
    import sqlite3

    lite = sqlite3.connect(path)
    want = (
        lite.execute("SELECT count(*) FROM sessions").fetchone()[0],
        lite.execute("SELECT count(*) FROM session_events").fetchone()[0],
    )
    lite.close()
    if _count(url) == want:
        return {"reused": True}
    started = time.perf_counter()
    copy_store(str(path), url, host="bench")
    seconds = time.perf_counter() - started
    with connect_sync(url) as conn:
        conn.execute(b"VACUUM ANALYZE")
    return {"load_seconds": round(seconds, 1), "sessions": want[0], "events": want[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--url", help="an existing database (its rows are replaced)")
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    version = bench_stats.GENERATOR_VERSION
    path = workdir / f"stats-{args.sessions}-{args.events}-v{version}.db"
    if not path.exists():
        bench_stats.build(path, args.sessions, args.events)
    cache = workdir / "pg-stats-cache" if args.cache else None
    with postgres(args.url, cache) as database:
        url = database(f"stats_{args.sessions}_{args.events}_v{version}")
        loaded = load(path, url)
        import compileall

        for package in ("store", "watcher"):
            compileall.compile_dir(str(ROOT / package), quiet=1)
        cli = str(Path(sys.executable).with_name("ccmgr-watch"))
        shapes = {
            "stats_json": ["stats", "--json"],
            "stats_since_7d": ["stats", "--since", "7d"],
            "stats_by_day_since_90d": ["stats", "--by", "day", "--since", "90d"],
            "stats_query_project": ["stats", "project:webshop", "--json"],
            "stats_by_hour": ["stats", "--by", "hour", "--json"],
        }
        argvs: dict[str, list[str]] = {}
        for name, argv in shapes.items():
            argvs[f"sqlite_{name}"] = [cli, *argv, "--db", str(path)]
            argvs[f"postgres_{name}"] = [cli, *argv, "--db", url]
        argvs["baseline_python_start"] = [sys.executable, "-c", "pass"]
        argvs["baseline_postgres_connect_select_1"] = [sys.executable, "-c", _PG_BASELINE, url]
        load_before = [round(x, 2) for x in os.getloadavg()]
        timings = bench_stats._interleaved(argvs, args.repeat)
        report = {
            "sqlite_database": str(path),
            "postgres": {"database": url.split("?")[0], **loaded},
            "repeat": args.repeat,
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "timings": timings,
            "notes": [
                "whole CLI processes, p50 and p95 in ms, taking turns in a shuffled order; "
                "the machine is shared: see the load averages",
                "PostgreSQL on a Unix socket, fsync off (tests/pg_server.py's settings)",
            ],
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
