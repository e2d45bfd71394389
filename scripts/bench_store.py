"""Benchmark: events inserted through the store's batch path (Database.write_batch, as the
capture writer commits) vs plain sqlite3 executemany.

Both sides write the same rows into the same schema (the real migrations) in fresh database
files, in transactions of the same batch size, in the same run. Prints one JSON object.

    .venv/bin/python scripts/bench_store.py [--events 1000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
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
