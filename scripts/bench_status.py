"""Benchmark: the start-up of `ccmgr-watch status --json` against a minimal Python reading the
same status file, run in the same loop (alternating, so both see the same machine load).

Prints one JSON object: medians in milliseconds, the median of the per-round ratios, and the
target (status within 1.5x of the floor, issue 8 item 17).

    .venv/bin/python scripts/bench_status.py [--rounds N] [--source DIR]

``--source DIR`` runs ccmgr-watch from another checkout's source (PYTHONPATH=DIR), e.g. the
code before a change, against the same floor in the same loop.

The figure for the target is that of a byte-compiled ``pip install .``: run this script with the
python of the venv scripts/bench_cli.py installs (``$TMPDIR/ccmgr-watch-bench-cli/venv-*``).
A run with --source under PYTHONDONTWRITEBYTECODE is compiled on every start, and slower.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.5
FLOOR = (
    "import fcntl, json, os, sys\n"
    "p = sys.argv[1]\n"
    "fd = os.open(p + '.watcher.lock', os.O_RDONLY)\n"
    "fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)\n"
    "print(json.dumps(json.load(open(p + '.watcher.json')), indent=2))\n"
)


def status_file() -> dict[str, object]:
    """What a watcher with one server writes (shape of watcher.service.Service.statistics)."""
    return {
        "pid": 12345,
        "database": "/home/me/.config/ccmgr-ultra/data.db",
        "running": False,
        "started_at": "2026-11-27T09:00:00.000000Z",
        "updated_at": "2026-11-27T10:00:00.000000Z",
        "watch_all": False,
        "socket_dir": None,
        "batch_size": 500,
        "servers": [{"socket": "/tmp/tmux-1000/default", "state": "stopped", "restarts": 0}],
        "database_state": {"ok": True, "failing": None, "events_waiting": 0},
        "events_written": 1843,
        "last_event": {"event_type": "detached", "name": "x", "timestamp": "2026-11-27T09:57Z"},
        "last_error": None,
    }


def _cpu_ms() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (used.ru_utime + used.ru_stime) * 1000


CPU: dict[int, list[float]] = {}
"""CPU time (user + system) of each run, by the list its wall time went to."""


def timed(argv: list[str], env: dict[str, str], into: list[float] | None = None) -> float:
    cpu = _cpu_ms()
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if into is not None:
        CPU.setdefault(id(into), []).append(_cpu_ms() - cpu)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--source", help="run ccmgr-watch from this source folder")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "data.db"
        db.with_name("data.db.watcher.json").write_text(json.dumps(status_file()))
        db.with_name("data.db.watcher.lock").write_text("")
        env = {k: v for k, v in os.environ.items() if k != "CCMGR_WATCH_DB"}
        env["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # no config file to look at
        env["HOME"] = tmp
        tool_env = dict(env)
        if args.source:
            tool_env["PYTHONPATH"] = str(Path(args.source).resolve())
        tool = [str(bin_dir / "ccmgr-watch"), "status", "--json", "--db", str(db)]
        floor = [sys.executable, "-c", FLOOR, str(db)]
        for _ in range(3):  # warm the page cache and byte-compile
            timed(tool, tool_env)
            timed(floor, env)
        tools: list[float] = []
        floors: list[float] = []
        ratios: list[float] = []
        for i in range(args.rounds):
            pair = [(tool, tool_env, tools), (floor, env, floors)]
            if i % 2:
                pair.reverse()
            got = {}
            for argv, e, into in pair:
                got[id(into)] = timed(argv, e, into)
                into.append(got[id(into)])
            ratios.append(got[id(tools)] / got[id(floors)])
    ratio = statistics.median(ratios)
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "source": args.source or "installed",
                "status_ms_median": round(statistics.median(tools), 1),
                "floor_ms_median": round(statistics.median(floors), 1),
                "ratio_median": round(ratio, 2),
                "ratio_min": round(min(ratios), 2),
                "ratio_max": round(max(ratios), 2),
                "target_ratio": TARGET_RATIO,
                "target_met": ratio <= TARGET_RATIO,
                # The same runs' CPU time: a second view when other load is present.
                "status_cpu_ms_median": round(statistics.median(CPU[id(tools)]), 1),
                "floor_cpu_ms_median": round(statistics.median(CPU[id(floors)]), 1),
                "cpu_ratio_of_medians": round(
                    statistics.median(CPU[id(tools)]) / statistics.median(CPU[id(floors)]), 2
                ),
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
