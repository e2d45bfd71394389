#!/usr/bin/env python3
"""The write cost of the alive sessions' index (migration 011): the watcher's own statement for
one lifecycle event (store.repositories' upsert) on a database with the index and without it,
taking turns, in the same run. ``--indexes`` measures others instead (the time windows' of
migration 013: ``--indexes ix_sessions_access_day,ix_sessions_used_early``), dropped together.

    .venv/bin/python scripts/bench_alive_index.py --db COPY [--events 500] [--rounds 5]
        [--indexes NAME,NAME]

COPY is a database migrated to 011 (a copy of a cached dense one: it is written to, and every
round is rolled back, the index dropped inside the round's transaction when measured without
it, so the file ends as it began). Kinds of event: an alive session attached or detached
again (last access and status move: its index entry moves), a new session (created alive:
its insert runs the full-text triggers too), an alive session ending (its entry leaves the
index), an ended session's last access moved (no entry). Prints one JSON object: per kind,
the median µs per event of each variant (CPU, within one transaction: no commit).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.query.alive import ALIVE_INDEX
from store.repositories import _LIFECYCLE_UPSERT


def _event(sid: str, stamp: str, status: str, name: str = "") -> dict[str, Any]:
    return {
        "id": sid,
        "name": name or sid,
        "directory": None,
        "created_at": None,
        "timestamp": stamp,
        "now": stamp,
        "status": status,
        "ended_at": stamp if status == "ended" else None,
        "server": None,
        "tmux_id": None,
        "host": None,
    }


def _round(
    conn: sqlite3.Connection, events: int, without: list[str], turn: int
) -> dict[str, float]:
    """One round in one transaction, rolled back: µs of CPU per event of each kind, with
    the indexes ``without`` dropped first."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for index in without:
            conn.execute(f"DROP INDEX {index}")
        alive = [
            sid
            for (sid,) in conn.execute(
                "SELECT id FROM sessions WHERE status <> 'ended' ORDER BY rowid DESC LIMIT ?",
                (events,),
            )
        ]
        ended = [
            sid
            for (sid,) in conn.execute(
                "SELECT id FROM sessions WHERE status = 'ended' ORDER BY rowid DESC LIMIT ?",
                (events,),
            )
        ]
        stamp = f"2099-01-01T00:00:{turn:02d}.000000Z"
        kinds = {
            "alive_attach_detach": [
                _event(sid, stamp, "detached" if i % 2 else "attached")
                for i, sid in enumerate(alive)
            ],
            "new_session": [
                _event(f"bench-new-{turn}-{i}", stamp, "attached", name=f"bench-auth-{i}")
                for i in range(len(alive))
            ],
            "alive_ends": [_event(sid, stamp, "ended") for sid in alive],
            "ended_touched": [_event(sid, stamp, "ended") for sid in ended],
        }
        out = {}
        for kind, rows in kinds.items():
            started = time.process_time()
            for row in rows:
                conn.execute(_LIFECYCLE_UPSERT, row)
            out[kind] = (time.process_time() - started) * 1e6 / max(1, len(rows))
        return out
    finally:
        conn.execute("ROLLBACK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a database migrated to 011 (a copy)")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--indexes", default=ALIVE_INDEX, help="the indexes measured (a,b)")
    args = parser.parse_args()
    conn = sqlite3.connect(args.db, isolation_level=None)
    indexes = [name for name in args.indexes.split(",") if name]
    for index in indexes:
        present = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?"
        if not conn.execute(present, (index,)).fetchone()[0]:
            raise SystemExit(f"{args.db} has no {index}: migrate a copy first")
    runs: dict[str, dict[str, list[float]]] = {"with_index": {}, "without_index": {}}
    loads = [os.getloadavg()]
    for turn in range(args.rounds):
        order = [True, False] if turn % 2 == 0 else [False, True]
        for with_index in order:
            name = "with_index" if with_index else "without_index"
            dropped = [] if with_index else indexes
            for kind, value in _round(conn, args.events, dropped, turn).items():
                runs[name].setdefault(kind, []).append(value)
    loads.append(os.getloadavg())
    report = {
        "db": args.db,
        "indexes": indexes,
        "sessions": conn.execute("SELECT max(rowid) FROM sessions").fetchone()[0],
        "events_per_kind": args.events,
        "rounds": args.rounds,
        "loadavg": loads,
        "us_per_event_median": {
            kind: {
                name: round(statistics.median(runs[name][kind]), 1)
                for name in ("without_index", "with_index")
            }
            for kind in runs["with_index"]
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
