#!/usr/bin/env python3
"""Benchmark ``ccmgr-watch pick`` on PostgreSQL beside SQLite, in the same run.

scripts/bench_picker.py's measures (the real process on a pseudo-terminal: first frame, and
keystroke to results for every prefix of each typed query) over its database (100 k dense
sessions with ~6 events each), once on the SQLite file and once on PostgreSQL holding the same
rows (loaded with ``db copy``'s function the first time; --cache keeps the cluster in
WORKDIR/pg-stats-cache). The two stores take turns, --rounds times, each round --runs pickers.
Prints one JSON object with the load average before and after.

    .venv/bin/python scripts/bench_picker_postgres.py [--runs 5] [--rounds 2] [--cache]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_picker  # noqa: E402
from bench_postgres import postgres  # noqa: E402
from bench_stats_postgres import load  # noqa: E402


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of run_picker into one summary: medians of the rounds' p50 and p95."""
    first = [r["first_frame"] for r in runs]
    keys: dict[str, dict[str, float]] = {}
    for query in runs[0]["keystroke_to_results"]:
        samples = [r["keystroke_to_results"][query] for r in runs]
        keys[query] = {
            "p50_ms": round(statistics.median(s["p50_ms"] for s in samples), 1),
            "p95_ms": round(statistics.median(s["p95_ms"] for s in samples), 1),
        }
    return {
        "first_frame": {
            "p50_ms": round(statistics.median(f["p50_ms"] for f in first), 1),
            "p95_ms": round(statistics.median(f["p95_ms"] for f in first), 1),
        },
        "keystroke_to_results": keys,
        "keystroke_worst_p95_ms": max(k["p95_ms"] for k in keys.values()),
        "keystroke_median_p95_ms": round(statistics.median(k["p95_ms"] for k in keys.values()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--url", help="an existing database (its rows are replaced)")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ccmgr-watch-bench-picker"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db, built = bench_picker.database(args.sessions, args.workdir)
    cache = Path(tempfile.gettempdir()) / "ccmgr-watch-bench" / "pg-stats-cache"
    with postgres(args.url, cache if args.cache else None) as database:
        url = database(f"pick_{args.sessions}_e{bench_picker.EVENTS_VERSION}")
        started = time.perf_counter()
        loaded = load(db, url)
        if not loaded.get("reused"):
            loaded["load_seconds"] = round(time.perf_counter() - started, 1)
        report: dict[str, Any] = {
            "sessions": args.sessions,
            "sqlite_database": str(db),
            "data": built,
            "postgres": {"database": url.split("?")[0], **loaded},
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
        rounds: dict[str, list[dict[str, Any]]] = {"sqlite": [], "postgres": []}
        for _ in range(args.rounds):
            rounds["sqlite"].append(bench_picker.run_picker(db, args.runs))
            rounds["postgres"].append(bench_picker.run_picker(url, args.runs))  # type: ignore[arg-type]
        report["sqlite_picker"] = _merge(rounds["sqlite"])
        report["postgres_picker"] = _merge(rounds["postgres"])
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        report["notes"] = [
            "the real `ccmgr-watch pick` on a pty, 120x40; per store the median over rounds of "
            "each round's p50/p95 (ms); stores take turns round by round",
            "PostgreSQL on a Unix socket, fsync off (tests/pg_server.py's settings)",
        ]
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
