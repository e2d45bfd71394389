#!/usr/bin/env python3
"""Benchmark backups: full backup, verify, restore and an incremental, beside sqlite3 + tar.

At 10 k sessions with 1 M events (by default), in the same run:

- ``ccmgr-watch``: ``create_backup`` (full), ``verify_backup``, ``restore_backup`` (a whole
  restore with every check: hashes, integrity_check, migration status, atomic swap), for each
  compression asked for; then an incremental after 1 k new events (time and bytes).
- ``baseline``: what a careful user would do by hand: ``sqlite3 .backup`` (Python's
  ``Connection.backup``, the same online backup API) plus ``tar czf`` of the copy; restore is
  ``tar xzf`` plus a rename.

Medians of --runs runs. Prints one JSON object with the targets and whether they are met. The
generated database is cached in --workdir (default: $TMPDIR/ccmgr-watch-bench-backup).

    .venv/bin/python scripts/bench_backup.py [--sessions 10000] [--events 1000000] [--runs 3]
        [--compression gzip,zstd]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.db import migrate_sync  # noqa: E402
from watcher.backup import catalog  # noqa: E402
from watcher.backup.create import create_backup  # noqa: E402
from watcher.backup.crypto import Keys  # noqa: E402
from watcher.backup.restore import restore_backup, verify_backup  # noqa: E402
from watcher.backup.rotation import Policy  # noqa: E402

GENERATOR_VERSION = 1
TYPES = ("attached", "detached", "window_added", "window_closed", "window_renamed", "renamed")


def _ts(seconds: float) -> str:
    whole = int(seconds)
    t = time.gmtime(whole)
    micro = int((seconds - whole) * 1e6)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{micro:06d}Z"


def build(path: Path, sessions: int, events: int) -> None:
    """A database shaped like a year of real use: sessions with git fields, JSON event data."""
    rng = random.Random(11)
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    start = 1_764_000_000.0
    projects = [f"project{n}" for n in range(60)]
    conn.execute("BEGIN")
    rows = []
    for n in range(sessions):
        project = rng.choice(projects)
        branch = f"feat/{rng.choice(['auth', 'api', 'ui', 'db', 'docs'])}-{n % 97}"
        created = start + n * 3000
        rows.append(
            (
                f"s-{n:016x}",
                f"ccmgr-{project}-main-{branch.replace('/', '_')}",
                project,
                f"/home/me/code/{project}/.worktrees/{branch}",
                branch,
                f"/home/me/code/{project}",
                _ts(created),
                _ts(created + 5000),
                _ts(created + 5000),
                '{"enriched_from": "git"}',
                "ended" if n < sessions - 50 else "detached",
                _ts(created + 6000) if n < sessions - 50 else None,
                f"/tmp/tmux-1000/default#{1000 + n // 500}@{_ts(start)}",
                f"${n % 500}",
            )
        )
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, metadata, status, ended_at, tmux_server, tmux_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    per = max(1, events // sessions)
    batch = []
    for i in range(events):
        n = min(i // per, sessions - 1)
        kind = TYPES[rng.randrange(len(TYPES))]
        data = (
            f'{{"client": "/dev/pts/{rng.randrange(40)}", "window": "@{rng.randrange(300)}"}}'
            if kind.startswith("window") or kind in ("attached", "detached")
            else '{"from": "old-name"}'
        )
        batch.append((f"s-{n:016x}", kind, _ts(start + n * 3000 + (i % per) * 10), data))
        if len(batch) == 100_000:
            conn.executemany(
                "INSERT INTO session_events (session_id, event_type, timestamp, data) "
                "VALUES (?, ?, ?, ?)",
                batch,
            )
            batch.clear()
    if batch:
        conn.executemany(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            batch,
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def cached_database(workdir: Path, sessions: int, events: int) -> Path:
    path = workdir / f"bench-v{GENERATOR_VERSION}-{sessions}-{events}.db"
    if not path.exists():
        tmp = path.with_name(path.name + ".building")
        for leftover in workdir.glob(tmp.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        build(tmp, sessions, events)
        tmp.rename(path)
        print(f"built {path} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def settings_for(folder: Path, compression: str) -> catalog.Settings:
    return catalog.Settings(
        folder=folder,
        compression=compression,
        encryption="none",
        keys=Keys(),
        policy=Policy(last=100),
        schedule="off",
    )


def add_events(db: Path, count: int) -> None:
    """``count`` new events, and their sessions touched, as the watcher would write them."""
    conn = sqlite3.connect(db, isolation_level=None)
    ids = [row[0] for row in conn.execute("SELECT id FROM sessions ORDER BY rowid DESC LIMIT 20")]
    now = time.time()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?, ?, ?, ?)",
        [
            (ids[i % len(ids)], "attached", _ts(now + i), '{"client": "/dev/pts/3"}')
            for i in range(count)
        ],
    )
    conn.executemany(
        "UPDATE sessions SET updated_at = ?, last_access = ? WHERE id = ?",
        [(_ts(now + count), _ts(now + count), i) for i in ids],
    )
    conn.execute("COMMIT")
    conn.close()


def bench_compression(source: Path, work: Path, compression: str) -> dict[str, Any]:
    """Full create, verify, restore, then an incremental after 1 k events, for one compression."""
    live = work / "live" / "data.db"
    live.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "backups", ignore_errors=True)
    for path in live.parent.iterdir():
        path.unlink()
    shutil.copyfile(source, live)
    settings = settings_for(work / "backups", compression)
    create_s, entry = timed(lambda: create_backup(live, settings, kind="full"))
    entries = catalog.list_backups(settings.folder)
    verify_s, _ = timed(lambda: verify_backup(entries, entries[-1], settings))
    restore_s, _ = timed(lambda: restore_backup(entries, entries[-1], settings, live))
    add_events(live, 1000)
    inc_s, inc = timed(lambda: create_backup(live, settings, kind="incremental"))
    return {
        "create_s": create_s,
        "verify_s": verify_s,
        "restore_s": restore_s,
        "create_plus_restore_s": create_s + restore_s,
        "full_bytes": entry.size,
        "incremental_s": inc_s,
        "incremental_bytes": inc.size,
        "incremental_rows": inc.counts,
    }


def one_run(source: Path, work: Path, compressions: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {c: bench_compression(source, work, c) for c in compressions}
    # The baseline on the same database.
    base = work / "baseline"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    copy = base / "copy.db"

    def sqlite_backup() -> None:
        src = sqlite3.connect(source)
        dst = sqlite3.connect(copy)
        src.backup(dst)
        dst.close()
        src.close()

    backup_s, _ = timed(sqlite_backup)
    tar_s, _ = timed(
        lambda: subprocess.run(
            ["tar", "czf", str(base / "copy.tar.gz"), "-C", str(base), "copy.db"], check=True
        )
    )
    out = base / "out"
    out.mkdir()

    def untar() -> None:
        subprocess.run(["tar", "xzf", str(base / "copy.tar.gz"), "-C", str(out)], check=True)
        os.replace(out / "copy.db", base / "restored.db")

    untar_s, _ = timed(untar)
    result["baseline"] = {
        "sqlite_backup_s": backup_s,
        "tar_czf_s": tar_s,
        "create_s": backup_s + tar_s,
        "restore_s": untar_s,
        "create_plus_restore_s": backup_s + tar_s + untar_s,
        "full_bytes": (base / "copy.tar.gz").stat().st_size,
    }
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        merged[key] = {}
        for field, value in first.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values = [run[key][field] for run in runs]
                merged[key][field] = round(statistics.median(values), 4)
            else:
                merged[key][field] = value
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compression", default="gzip,zstd")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ccmgr-watch-bench-backup"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    source = cached_database(args.workdir, args.sessions, args.events)
    compressions = [c for c in args.compression.split(",") if c]
    load_before = os.getloadavg()
    runs = [one_run(source, args.workdir / "run", compressions) for _ in range(args.runs)]
    result = median_of(runs)
    baseline = result["baseline"]
    targets: dict[str, Any] = {}
    for compression in compressions:
        r = result[compression]
        targets[compression] = {
            "create_plus_restore_under_2s": r["create_plus_restore_s"] < 2.0,
            "within_1_5x_of_baseline": r["create_plus_restore_s"]
            <= 1.5 * baseline["create_plus_restore_s"],
            "ratio_to_baseline": round(
                r["create_plus_restore_s"] / baseline["create_plus_restore_s"], 2
            ),
            "incremental_under_100ms": r["incremental_s"] < 0.1,
            "incremental_under_1pct_of_full": r["incremental_bytes"] < 0.01 * r["full_bytes"],
        }
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "events": args.events,
                "database_bytes": source.stat().st_size,
                "runs": args.runs,
                "statistic": "median",
                "results": result,
                "targets": targets,
                "load_average_before_after": [
                    [round(x, 2) for x in load_before],
                    [round(x, 2) for x in os.getloadavg()],
                ],
                "cpus": os.cpu_count(),
                "note": "2-CPU machine shared with other helpers' builds and tests while measured",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
