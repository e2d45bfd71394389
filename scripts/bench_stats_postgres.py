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

``--write-cost`` instead measures what keeping ``attached_spans`` costs the writers, in fresh
databases at schema 1 (no triggers) and 2, taking turns --repeat times: 3,000 attach/detach
events written one statement each in one transaction (as the watcher's writer does), and 20,000
events over 1,000 sessions merged in one ``INSERT ... SELECT`` (as ``db copy`` does).

    .venv/bin/python scripts/bench_stats_postgres.py [--sessions 10000] [--events 1000000]
        [--repeat 5] [--cache] [--url URL] [--workdir DIR] [--write-cost]
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


def _stamp(i: int) -> str:
    day, hour, minute, second = 1 + i // 86400, (i // 3600) % 24, (i // 60) % 60, i % 60
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.000000Z"


def write_cost(database: Any, repeat: int) -> dict[str, Any]:
    """Per-event and bulk insert times at schema 1 and 2 (see the module's note)."""
    from store.postgres.migrate import migrate_conn

    single_sql = (
        b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
        b"VALUES (%s, %s, %s, %s::json)"
    )
    bulk_sql = (
        b"INSERT INTO session_events (session_id, event_type, timestamp, data) "
        b"SELECT 's' || (g % 1000), CASE WHEN g % 3 = 0 THEN 'window_added' "
        b"WHEN g % 3 = 1 THEN 'attached' ELSE 'detached' END, "
        b"'2026-11-02T00:00:00.000000Z', '{\"client\": \"c\"}'::json "
        b"FROM generate_series(0, 19999) AS g"
    )
    rows = [
        ("s0", "attached" if i % 2 == 0 else "detached", _stamp(10 * i), '{"client": "c"}')
        for i in range(3000)
    ]
    results: dict[str, dict[str, list[float]]] = {}
    for turn in range(repeat):
        for version in (1, 2):
            url = database(f"write_cost_{turn}_{version}")
            with connect_sync(url) as conn:
                migrate_conn(conn, version)
                conn.execute(b"DELETE FROM sessions")
                conn.execute(
                    b"INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
                    b"SELECT 's' || g, 'n', '2026-11-01T00:00:00.000000Z', 'x', 'x' "
                    b"FROM generate_series(0, 999) AS g"
                )
                started = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(single_sql, rows)
                single = (time.perf_counter() - started) / len(rows) * 1e6
                started = time.perf_counter()
                conn.execute(bulk_sql)
                bulk = time.perf_counter() - started
            mine = results.setdefault(f"schema_{version}", {"event_us": [], "bulk_20000_s": []})
            mine["event_us"].append(round(single, 1))
            mine["bulk_20000_s"].append(round(bulk, 3))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--url", help="an existing database (its rows are replaced)")
    parser.add_argument("--write-cost", action="store_true", help="the triggers' cost instead")
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache = workdir / "pg-stats-cache" if args.cache else None
    if args.write_cost:
        with postgres(args.url, cache) as database:
            load_before = [round(x, 2) for x in os.getloadavg()]
            costs = write_cost(database, args.repeat)
        report = {
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            **costs,
        }
        print(json.dumps(report, indent=2))
        return
    version = bench_stats.GENERATOR_VERSION
    path = workdir / f"stats-{args.sessions}-{args.events}-v{version}.db"
    if not path.exists():
        bench_stats.build(path, args.sessions, args.events)
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
