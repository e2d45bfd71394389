"""Benchmark: ``ccmgr-watch import`` of one ccmgr-ultra ``tmux-sessions.json`` into a SQLite file
and into a PostgreSQL database, in the same run.

The file holds N sessions shaped like a real user's (a few projects hold most of them, ``main``
everywhere, short names). Per store, each run: the import into an empty database (everything
added), the same file again (nothing changes: the plan alone), a dry run, and a file where every
session is newer (every session merged: N updates). The SQLite side makes no backup (the database
is new or the backup is not what is measured); the PostgreSQL side writes its snapshot, as the
CLI does. PostgreSQL is a private server started like the tests' (tests/pg_server.py), on a Unix
socket, fsync off. Prints one JSON object: medians (seconds) of ``--runs`` runs, and the load
average before and after.

    .venv/bin/python scripts/bench_import.py [--sessions 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_postgres import postgres  # noqa: E402

from watcher.importer.run import import_files, write_snapshot  # noqa: E402

PROJECTS = ["webshop", "myapp", "api", "cli", "notifier", "gateway", "infra", "docs"]


def project_of(n: int) -> str:
    # Skewed: the first two projects hold most sessions.
    return PROJECTS[0 if n % 10 < 5 else 1 if n % 10 < 8 else 2 + n % 6]


def state_file(path: Path, sessions: int, hour: int) -> Path:
    """A tmux-sessions.json of ``sessions`` sessions, last used at ``hour`` (later: newer)."""
    entries = {}
    for n in range(sessions):
        project = project_of(n)
        name = f"ccmgr-{project}-main-f{n}"
        entries[name] = {
            "id": name,
            "name": name,
            "project": project,
            "worktree": "main",
            "branch": f"feature/f{n % 50}",
            "directory": f"/home/u/code/{project}",
            "created": f"2025-06-{1 + n % 28:02d}T08:{n % 60:02d}:00Z",
            "last_access": f"2025-06-28T{hour:02d}:00:00Z",
            "last_state": n % 5,
            "environment": {"CCMGR_PROJECT": project},
            "metadata": {"agent": "claude", "n": n},
        }
    path.write_text(json.dumps(entries, indent=2))
    return path


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def steps_for(
    db: Path, url: str, first: Path, newer: Path, snapshot: Callable[[Any], str]
) -> dict[str, dict[str, Callable[[], Any]]]:
    """Each store's steps of one run, in order, on a fresh database."""
    pg: dict[str, Any] = {"host": "bench", "snapshot": snapshot}
    return {
        "sqlite": {
            "into_empty": lambda: import_files(db, [first]),
            "again_nothing_changes": lambda: import_files(db, [first]),
            "dry_run": lambda: import_files(db, [newer], dry_run=True),
            "every_session_newer": lambda: import_files(db, [newer]),
        },
        "postgresql": {
            "into_empty": lambda: import_files(url, [first], **pg),
            "again_nothing_changes": lambda: import_files(url, [first], **pg),
            "dry_run": lambda: import_files(url, [newer], dry_run=True, host="bench"),
            "every_session_newer": lambda: import_files(url, [newer], **pg),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
    with tempfile.TemporaryDirectory(prefix="ccmgr-bench-import-") as folder:
        root = Path(folder)
        first = state_file(root / "tmux-sessions.json", args.sessions, 10)
        newer = state_file(root / "newer.json", args.sessions, 11)
        file_bytes = first.stat().st_size
        snapshots = root / "snapshots"

        def snapshot(url: str) -> Callable[[Any], str]:
            return lambda done: write_snapshot(snapshots, url, [str(first)], done)

        with postgres(None, None) as database:
            for run in range(args.runs):
                db = root / f"run-{run}.db"
                url = database(f"bench_import_{run}")
                steps = steps_for(db, url, first, newer, snapshot(url))
                for store, work in steps.items():
                    for step, call in work.items():
                        results[store].setdefault(step, []).append(timed(call))
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "file_bytes": file_bytes,
                "runs": args.runs,
                "median_seconds": {
                    store: {step: round(statistics.median(v), 3) for step, v in steps_.items()}
                    for store, steps_ in results.items()
                },
                "all_seconds": {
                    store: {step: [round(x, 3) for x in v] for step, v in steps_.items()}
                    for store, steps_ in results.items()
                },
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
