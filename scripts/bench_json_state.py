"""Benchmark: one lifecycle workload stored as a JSON state file (ccmgr-ultra's approach: the
whole file rewritten for every event) and as SQLite rows through the watcher's real writer path
(``Database.write_batch``, one event per transaction as at capture time), at several sizes.

For each size N the store first holds N sessions (shaped like a real user's: a few projects hold
most of them, ``main`` everywhere, short names). Then the same events run against both: a session
created, attached, detached, renamed, a window added, killed, over and over. Per event: wall time
(median and p95) and bytes written (``wchar`` from /proc/self/io, what the process handed to
write(2); ``write_bytes``, what reached the block device, is printed too). The JSON side renders
with :func:`watcher.importer.export.render_state` (msgspec, C speed, as dual mode does) and writes
the way ccmgr-ultra's ``SaveState`` does (temporary file, rename, no fsync); ``--fsync`` adds the
fsync dual mode does. Prints one JSON object.

    .venv/bin/python scripts/bench_json_state.py [--sizes 100,1000,10000] [--events 300] [--runs 3]
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

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import Database
from store.reads import EventRecord, SessionRecord
from store.repositories import LifecycleRow
from store.timefmt import format_ts, utcnow
from watcher.importer.export import render_state

PROJECTS = ("webshop", "api", "infra", "docs", "ml", "cli", "web", "db")
STEPS = ("created", "attached", "window_added", "detached", "renamed", "killed")
SERVER = "/tmp/tmux-1000/default#4242@1700000000"


def io_counters() -> dict[str, int]:
    """This process's I/O counters (Linux)."""
    values: dict[str, int] = {}
    with open("/proc/self/io") as f:
        for line in f:
            key, _, value = line.partition(":")
            values[key] = int(value)
    return values


def project_of(n: int) -> str:
    # Skewed: the first two projects hold most sessions.
    return PROJECTS[0] if n % 3 == 0 else PROJECTS[1] if n % 3 == 1 else PROJECTS[n % 8]


def initial_sessions(count: int) -> list[SessionRecord]:
    """``count`` ended sessions of history."""
    base = utcnow()
    rows = []
    for n in range(count):
        stamp = format_ts(base.replace(microsecond=n % 1_000_000))
        project = project_of(n)
        rows.append(
            SessionRecord(
                id=f"s-{n:016x}",
                name=f"ccmgr-{project}-main-f{n % 50}",
                created_at=stamp,
                updated_at=stamp,
                last_access=stamp,
                project=project,
                worktree="main",
                branch=f"f{n % 50}" if n % 4 else "main",
                directory=f"/home/u/code/{project}",
                status="ended",
                ended_at=stamp,
                tmux_server=SERVER,
                tmux_id=f"${n}",
            )
        )
    return rows


def workload(count: int, start: int) -> list[tuple[str, int]]:
    """``count`` events: (step, session number), lifecycles of new sessions one after another."""
    return [(STEPS[i % len(STEPS)], start + i // len(STEPS)) for i in range(count)]


def _name(n: int, step: str) -> str:
    return f"ccmgr-{project_of(n)}-main-{'renamed' if step in ('renamed', 'killed') else 'x'}{n}"


def json_side(
    path: Path, sessions: list[SessionRecord], events: list[tuple[str, int]], fsync: bool
) -> dict[str, Any]:
    """ccmgr-ultra's way: the map in memory, the whole file rewritten after every event."""
    state = {s.id: s for s in sessions}
    path.write_bytes(render_state(state.values()))
    times: list[float] = []
    writes: list[float] = []
    before = io_counters()
    for step, n in events:
        started = time.perf_counter()
        sid = f"s-{n:016x}"
        now = format_ts(utcnow())
        old = state.get(sid)
        state[sid] = SessionRecord(
            id=sid,
            name=_name(n, step),
            created_at=old.created_at if old else now,
            updated_at=now,
            last_access=now,
            project=project_of(n),
            worktree="main",
            branch="main",
            directory=f"/home/u/code/{project_of(n)}",
            status="ended"
            if step == "killed"
            else "attached"
            if step == "attached"
            else "detached",
            ended_at=now if step == "killed" else None,
            tmux_server=SERVER,
            tmux_id=f"${n}",
        )
        data = render_state(state.values())
        rendered = time.perf_counter()
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        done = time.perf_counter()
        times.append(done - started)
        writes.append(done - rendered)
    after = io_counters()
    # The write alone (no rendering): what any language pays to rewrite the file.
    write_only = round(statistics.median(writes) * 1000, 3)
    return summary(times, before, after, len(events)) | {
        "ms_write_only_median": write_only,
        "file_bytes": path.stat().st_size,
    }


async def sqlite_side(
    path: Path, sessions: list[SessionRecord], events: list[tuple[str, int]]
) -> dict[str, Any]:
    """The watcher's way: one lifecycle row and one event row per transaction (write_batch)."""
    async with await Database.open(path) as db:
        for start in range(0, len(sessions), 1000):
            chunk = sessions[start : start + 1000]
            await db.write_batch(
                [
                    LifecycleRow(
                        id=s.id,
                        name=s.name,
                        timestamp=s.last_access,
                        status="ended",
                        server=SERVER,
                        tmux_id=s.tmux_id or "",
                        directory=s.directory,
                        created_at=s.created_at,
                        ended_at=s.ended_at,
                    )
                    for s in chunk
                ],
                [
                    EventRecord(session_id=s.id, event_type="created", timestamp=s.created_at)
                    for s in chunk
                ],
                [],
            )
        times: list[float] = []
        before = io_counters()
        for step, n in events:
            started = time.perf_counter()
            sid = f"s-{n:016x}"
            now = format_ts(utcnow())
            ended = step == "killed"
            row = LifecycleRow(
                id=sid,
                name=_name(n, step),
                timestamp=now,
                status="ended" if ended else "attached" if step == "attached" else "detached",
                server=SERVER,
                tmux_id=f"${n}",
                directory=f"/home/u/code/{project_of(n)}",
                created_at=now if step == "created" else None,
                ended_at=now if ended else None,
            )
            event = EventRecord(session_id=sid, event_type=step, timestamp=now)
            await db.write_batch([row], [event], [])
            times.append(time.perf_counter() - started)
        after = io_counters()
    size = sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))
    return summary(times, before, after, len(events)) | {"file_bytes": size}


def summary(
    times: list[float], before: dict[str, int], after: dict[str, int], count: int
) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "ms_per_event_median": round(statistics.median(ordered) * 1000, 3),
        "ms_per_event_p95": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "bytes_per_event": round((after["wchar"] - before["wchar"]) / count),
        "device_bytes_per_event": round((after["write_bytes"] - before["write_bytes"]) / count),
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--events", type=int, default=300, help="events per size and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fsync", action="store_true", help="fsync the JSON file (dual mode)")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "events": args.events,
        "runs": args.runs,
        "json_fsync": args.fsync,
        "sizes": {},
    }
    for size in (int(s) for s in args.sizes.split(",")):
        sessions = initial_sessions(size)
        events = workload(args.events, size)
        json_runs, sqlite_runs = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
                json_runs.append(
                    json_side(Path(folder) / "tmux-sessions.json", sessions, events, args.fsync)
                )
                sqlite_runs.append(
                    anyio.run(sqlite_side, Path(folder) / "data.db", sessions, events)
                )
        j, s = median_of(json_runs), median_of(sqlite_runs)
        results["sizes"][str(size)] = {
            "json_rewrite": j,
            "sqlite_writer": s,
            "json_over_sqlite_time": round(j["ms_per_event_median"] / s["ms_per_event_median"], 2),
            "json_over_sqlite_bytes": round(j["bytes_per_event"] / max(1, s["bytes_per_event"]), 1),
        }
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
