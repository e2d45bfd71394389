"""Benchmark the tmux side alone (no database): watch_server against a private tmux server.

Prints one JSON object:

* ``latency_ms``: from ``tmux new-session -d`` returning to the ``created`` Lifecycle event
  leaving ``watch_server`` (p50, p95), and, as the baseline measured in the same run, to the raw
  ``%sessions-changed`` line reaching a bare control client (the floor any watcher pays);
* ``burst``: N sessions created back to back by separate ``tmux`` processes, with and without
  the watcher (wall time of the burst: the watcher's cost to tmux), and how long after the
  burst's end the last ``created`` event arrived.

Targets: p95 latency < 10 ms; burst overhead < 5 %; caught up < 2 s after the burst.
Usage: ``.venv/bin/python scripts/bench_tmux_side.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.tmux_server import TmuxServer, _env, private_server
from watcher.capture.events import CaptureItem, KnownSession, Lifecycle
from watcher.capture.protocol import SessionsChanged
from watcher.capture.server_task import ServerState, watch_server
from watcher.capture.tmux_client import open_control_client


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _new(server: TmuxServer, name: str) -> None:
    await anyio.run_process(
        ["tmux", "-L", server.name, "new-session", "-d", "-s", name, "sleep 3600"],
        env=_env(),
        stdin=subprocess.DEVNULL,
    )


# The burst runs in its own process: a thread here would compete with the watcher for the GIL.
_BURST = """
import subprocess, sys, time
name, n = sys.argv[1], int(sys.argv[2])
start = time.monotonic()
for i in range(n):
    subprocess.run(["tmux", "-L", name, "new-session", "-d", "-s", f"s{i}", "sleep 3600"],
                   check=True, stdin=subprocess.DEVNULL)
print(start, time.monotonic())
"""


async def _no_store(_socket: str) -> list[KnownSession]:
    return []


async def latency_baseline(n: int) -> list[float]:
    """``tmux new -d`` returning -> ``%sessions-changed`` read by a bare control client."""
    with private_server() as server:
        base = await server.new_session("base")
        out = []
        async with open_control_client(server.socket_path, base) as client:
            for i in range(n):
                await _new(server, f"b{i}")
                returned = time.monotonic()
                with anyio.fail_after(10):
                    async for note in client.notifications:
                        if isinstance(note, SessionsChanged):
                            break
                out.append((time.monotonic() - returned) * 1000)
        return out


async def latency_watcher(n: int) -> list[float]:
    """``tmux new -d`` returning -> ``created`` event out of watch_server."""
    with private_server() as server:
        await server.new_session("base")
        send, receive = anyio.create_memory_object_stream[CaptureItem](1000)
        connected = anyio.Event()

        def on_state(state: ServerState) -> None:
            if state.connected:
                connected.set()

        out = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: watch_server(
                    server.socket_path, send=send, known_alive=_no_store, on_state=on_state
                )
            )
            await connected.wait()
            for i in range(n):
                name = f"w{i}"
                await _new(server, name)
                returned = time.monotonic()
                with anyio.fail_after(10):
                    async for event in receive:
                        if not isinstance(event, Lifecycle):
                            continue  # a window record
                        if event.event_type == "created" and event.name == name:
                            break
                out.append((time.monotonic() - returned) * 1000)
            tg.cancel_scope.cancel()
        return out


async def _burst(server: TmuxServer, n: int) -> tuple[float, float]:
    result = await anyio.run_process(
        [sys.executable, "-c", _BURST, server.name, str(n)], env=_env(), check=True
    )
    start, end = result.stdout.decode().split()
    return float(start), float(end)


async def burst(n: int, watched: bool) -> dict[str, Any]:
    with private_server() as server:
        await server.new_session("base")
        if not watched:
            start, end = await _burst(server, n)
            return {"seconds": round(end - start, 3)}
        send, receive = anyio.create_memory_object_stream[CaptureItem](1000)
        connected, done = anyio.Event(), anyio.Event()
        last = [0.0]
        created = 0

        async def consume() -> None:
            nonlocal created
            async for event in receive:
                if isinstance(event, Lifecycle) and event.event_type == "created":
                    created += 1
                    last[0] = time.monotonic()
                    if created == n:
                        done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: watch_server(
                    server.socket_path,
                    send=send,
                    known_alive=_no_store,
                    on_state=lambda s: connected.set() if s.connected else None,
                )
            )
            tg.start_soon(consume)
            await connected.wait()
            start, end = await _burst(server, n)
            with anyio.fail_after(60):
                await done.wait()
            tg.cancel_scope.cancel()
        return {
            "seconds": round(end - start, 3),
            "recorded": created,
            "caught_up_ms": round(max(0.0, last[0] - end) * 1000, 1),
        }


async def main(quick: bool) -> dict[str, Any]:
    n_latency = 30 if quick else 100
    n_burst = 200 if quick else 500
    rounds = 3 if quick else 5
    baseline = await latency_baseline(n_latency)
    watcher = await latency_watcher(n_latency)
    # Interleaved rounds and medians: other load on the machine moves single runs a lot.
    plain_runs, watched_runs = [], []
    for _ in range(rounds):
        plain_runs.append(await burst(n_burst, watched=False))
        watched_runs.append(await burst(n_burst, watched=True))
    plain = statistics.median(r["seconds"] for r in plain_runs)
    watched = statistics.median(r["seconds"] for r in watched_runs)
    overhead = (watched - plain) / plain * 100
    caught_up = max(r["caught_up_ms"] for r in watched_runs)
    recorded = min(r["recorded"] for r in watched_runs)
    p95 = _pct(watcher, 0.95)
    return {
        "latency_ms": {
            "watcher": {
                "p50": _pct(watcher, 0.5),
                "p95": p95,
                "mean": round(statistics.mean(watcher), 3),
            },
            "baseline_raw_notification": {"p50": _pct(baseline, 0.5), "p95": _pct(baseline, 0.95)},
            "n": n_latency,
        },
        "burst": {
            "sessions": n_burst,
            "rounds": rounds,
            "without_watcher_s": [r["seconds"] for r in plain_runs],
            "with_watcher_s": [r["seconds"] for r in watched_runs],
            "median_without_s": plain,
            "median_with_s": watched,
            "overhead_percent": round(overhead, 2),
            "recorded_min": recorded,
            "caught_up_ms_max": caught_up,
        },
        "targets": {
            "p95_latency_under_10ms": p95 < 10,
            "burst_overhead_under_5_percent": overhead < 5,
            "burst_recorded_within_2s": recorded == n_burst and caught_up < 2000,
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, smaller burst")
    args = parser.parse_args()
    print(json.dumps(anyio.run(main, args.quick), indent=2))
