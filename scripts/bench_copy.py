#!/usr/bin/env python3
"""Benchmark ``ccmgr-watch db copy`` (store.copy.copy_store) in both directions. Prints one JSON
object: seconds for SQLite to PostgreSQL (first copy into an empty database, then the same copy
again, which must add nothing), and PostgreSQL back to a new SQLite file; with the counts.

The source is a copy of the dense data set of scripts/bench_search.py (--source, default
$TMPDIR/ccmgr-watch-bench/dense-100000-v1.db; read-only, never written) with --events events per
session added (created, attached, detached, ...: the dense set has none), so the events' path
is measured too. PostgreSQL: a private server started like the tests' (tests/pg_server.py).

    .venv/bin/python scripts/bench_copy.py [--source FILE] [--events 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.copy import copy_store  # noqa: E402
from store.db import migrate_sync  # noqa: E402

KINDS = ("created", "attached", "detached", "renamed", "ended")


def prepared(source: Path, events: int, folder: Path) -> Path:
    """A migrated copy of ``source`` with ``events`` events per session."""
    lite = folder / "source.db"
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(lite)) as dst,
    ):
        src.backup(dst)
    migrate_sync(lite)
    with contextlib.closing(sqlite3.connect(lite)) as conn, conn:
        for n in range(events):
            conn.execute(
                "INSERT INTO session_events (session_id, event_type, timestamp, data) "
                "SELECT id, ?, created_at, ? FROM sessions",
                (KINDS[n % len(KINDS)], json.dumps({"client": "/dev/pts/3", "n": n})),
            )
    return lite


def timed(source: str, dest: str) -> dict[str, object]:
    started = time.perf_counter()
    result = copy_store(source, dest, host="bench")
    return result.as_dict() | {"seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    """Run the benchmark; print its JSON."""
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "ccmgr-watch-bench"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=workdir / "dense-100000-v1.db")
    parser.add_argument("--events", type=int, default=3, help="events added per session")
    args = parser.parse_args()
    from tests.pg_server import running_server

    folder = Path(tempfile.mkdtemp(prefix="benchcopy-"))
    try:
        lite = prepared(args.source, args.events, folder)
        with running_server() as server:
            server.execute("CREATE DATABASE bench_copy TEMPLATE ccmgr_template")
            url = server.url("bench_copy")
            report = {
                "source": str(args.source),
                "load_before": os.getloadavg(),
                "sqlite_to_postgresql": timed(str(lite), url),
                "again_adds_nothing": timed(str(lite), url),
                "postgresql_to_sqlite": timed(url, str(folder / "back.db")),
                "load_after": os.getloadavg(),
            }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
