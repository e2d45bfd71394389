"""Benchmark: events inserted through the store's batch path (Database.write_batch, as the
capture writer commits) vs plain sqlite3 executemany.

Both sides write the same rows into the same schema (the real migrations) in fresh database
files, in transactions of the same batch size, in the same run. Prints one JSON object.

    .venv/bin/python scripts/bench_store.py [--events 1000000] [--batch 1000]
        [--sessions 100000]

``--sessions N``: also the cost of the search indexes on session writes: N sessions inserted
and then each one's status and last_access updated (as the watcher does), in batches, into a
database migrated to 003 (the search index, no name-order indexes) and one migrated to the
latest schema, side by side in the same run; and the size each index takes.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import Database, connect_sync, migrate_sync
from store.reads import EventRecord as SessionEvent
from store.timefmt import now_ts

SESSIONS = 1000
TYPES = ("created", "attached", "detached", "renamed", "window_added", "window_closed")


def make_events(count: int) -> list[SessionEvent]:
    """Deterministic event rows spread over SESSIONS sessions."""
    base = "2026-11-26T10:00:00.{:06d}Z"
    return [
        SessionEvent(
            session_id=f"s-{i % SESSIONS:06d}",
            event_type=TYPES[i % len(TYPES)],
            timestamp=base.format(i % 1_000_000),
            data={"client": f"/dev/pts/{i % 9}", "seq": i},
        )
        for i in range(count)
    ]


def seed_sessions(conn: sqlite3.Connection) -> None:
    now = now_ts()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, name, created_at, updated_at, last_access) "
        "VALUES (?, ?, ?, ?, ?)",
        [(f"s-{i:06d}", f"session {i}", now, now, now) for i in range(SESSIONS)],
    )
    conn.execute("COMMIT")


async def store_path(path: Path, events: list[SessionEvent], batch: int) -> float:
    """Rows per second through Database.write_batch (events only, sessions seeded first)."""
    migrate_sync(path)
    conn = connect_sync(path)
    seed_sessions(conn)
    conn.close()
    async with await Database.open(path) as db:
        start = time.perf_counter()
        for i in range(0, len(events), batch):
            await db.write_batch([], events[i : i + batch], [])
        elapsed = time.perf_counter() - start
    return len(events) / elapsed


def plain_path(path: Path, events: list[SessionEvent], batch: int) -> float:
    """Rows per second with stdlib sqlite3 executemany of pre-built tuples."""
    migrate_sync(path)
    conn = connect_sync(path)
    seed_sessions(conn)
    rows = [(e.session_id, e.event_type, e.timestamp, json.dumps(e.data)) for e in events]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO session_events (session_id, event_type, timestamp, data) "
            "VALUES (?, ?, ?, ?)",
            rows[i : i + batch],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def session_writes(path: Path, sessions: int, batch: int, target: int | None) -> dict[str, Any]:
    """Sessions inserted, then status and last_access updated, per second, at ``target``."""
    migrate_sync(path, target)
    conn = connect_sync(path)
    stamp = "2026-11-26T10:00:00.{:06d}Z"
    rows = [
        (
            f"s-{i:08d}",
            f"ccmgr-{('myapp', 'webshop', 'infra')[i % 3]}-feat_w{i % 997}-{i}",
            ("myapp", "webshop", "infra")[i % 3],
            f"w{i % 997}",
            "main" if i % 5 < 2 else f"feat/w{i % 997}",
            f"/home/u/code/p{i % 3}",
            stamp.format(i % 1_000_000),
        )
        for i in range(sessions)
    ]
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
            "updated_at, last_access) VALUES (?, ?, ?, ?, ?, ?, ?7, ?7, ?7)",
            rows[i : i + batch],
        )
        conn.execute("COMMIT")
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(
            "UPDATE sessions SET status = 'ended', last_access = ? WHERE id = ?",
            [(stamp.format(999_999 - n), rows[n][0]) for n in range(i, min(i + batch, len(rows)))],
        )
        conn.execute("COMMIT")
    updated = time.perf_counter() - started
    sizes = dict(
        conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'ix_sessions%' GROUP BY name"
        ).fetchall()
    )
    conn.close()
    return {
        "inserts_per_s": round(sessions / inserted),
        "updates_per_s": round(sessions / updated),
        "index_bytes": sizes,
        "file_bytes": path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=0)
    args = parser.parse_args()
    if args.sessions:
        # Taking turns, three rounds, the median of each (the machine is shared).
        runs: dict[str, list[dict[str, Any]]] = {"schema_003": [], "latest": []}
        for round_ in range(3):
            for name, target in (("schema_003", 3), ("latest", None)):
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / f"{name}-{round_}.db"
                    runs[name].append(session_writes(path, args.sessions, args.batch, target))
        before, after = (
            dict(
                max(results, key=lambda r: r["inserts_per_s"]),
                inserts_per_s=statistics.median(r["inserts_per_s"] for r in results),
                updates_per_s=statistics.median(r["updates_per_s"] for r in results),
            )
            for results in runs.values()
        )
        report = {"benchmark": "store.session_writes", "sessions": args.sessions}
        report |= {"schema_003": before, "latest": after}
        report["insert_ratio"] = round(after["inserts_per_s"] / before["inserts_per_s"], 3)
        report["update_ratio"] = round(after["updates_per_s"] / before["updates_per_s"], 3)
        print(json.dumps(report, indent=2))
    events = make_events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_path(Path(tmp) / "plain.db", events, args.batch)
        ours = anyio.run(store_path, Path(tmp) / "store.db", events, args.batch)
    ratio = ours / plain
    print(
        json.dumps(
            {
                "benchmark": "store.insert_batch",
                "events": args.events,
                "batch_size": args.batch,
                "store_rows_per_s": round(ours),
                "plain_executemany_rows_per_s": round(plain),
                "ratio": round(ratio, 3),
                "target_ratio": 0.5,
                "target_met": ratio >= 0.5,
                "sqlite": sqlite3.sqlite_version,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
