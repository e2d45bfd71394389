"""Benchmark `ccmgr-watch revive` of a 10-window session on a private tmux server.

Prints one JSON object with medians (milliseconds) of interleaved runs, side by side:

* ``cli``: the whole command as a user runs it (``ccmgr-watch revive ID --name ...``: Python
  start-up, reading the database, checking tmux, creating the session with libtmux, recording
  the ``revived`` events);
* ``libtmux``: only the part that creates the session and its windows (``carry_out``, in
  process, libtmux already imported);
* ``raw_tmux``: the baseline, the same session (same names, directories, panes and layout)
  created by plain ``tmux new-session`` / ``new-window`` / ``split-window`` / ``select-layout``
  processes;
* ``libtmux_import_ms``: importing libtmux in a fresh Python (a one-off cost of every revive);
* ``cli_cpu_ms``: CPU time of the whole command and the tmux processes it runs (less at the
  mercy of other load than wall time).

The recorded session: 10 windows, the third split in three panes with a recorded layout, each
window in its own directory. Panes run ``sleep`` (CCMGR_WATCH_REVIVE_COMMAND), not a shell.
With ``--postgresql`` the same session is also copied (``db copy``) into a PostgreSQL database on
a private server (started like the tests', scripts/bench_postgres.py) and ``cli_postgresql``
times the whole command on its URL, interleaved with the others.
Target: the CLI under 1 s. Usage:
``.venv/bin/python scripts/bench_revive.py [--runs N] [--postgresql]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

from store.db import Database
from store.reads import find_session, open_reader
from store.repositories import LayoutRow, LifecycleRow
from store.timefmt import now_ts
from watcher.capture.events import PaneShape, WindowShape, server_key, session_id
from watcher.revive import carry_out
from watcher.revive_plan import COMMAND_ENV, plan_revive

BIN = Path(sys.executable).parent
WINDOWS = 10
SPLIT = 2  # the index of the window with three panes


def with_checksum(body: str) -> str:
    """A layout with tmux's checksum in front (layout_checksum in tmux's layout-custom.c)."""
    csum = 0
    for c in body.encode():
        csum = ((csum >> 1) + ((csum & 1) << 15) + c) & 0xFFFF
    return f"{csum:04x},{body}"


LAYOUT3 = with_checksum("80x24,0,0[80x12,0,0,1,80x11,0,13{40x11,0,13,2,39x11,41,13,3}]")
LAYOUT1 = with_checksum("80x24,0,0,1")
COMMAND = "sleep 3600"


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    out[COMMAND_ENV] = COMMAND
    return out


class Tmux:
    def __init__(self) -> None:
        self.name = f"bench-revive-{uuid.uuid4().hex[:8]}"
        uid = os.getuid()
        base = os.environ.get("TMUX_TMPDIR") or "/tmp"
        self.socket = f"{base}/tmux-{uid}/{self.name}"

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=env(),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux {args[:2]} failed: {result.stderr}")
        return result.stdout


def windows(dirs: list[Path]) -> tuple[WindowShape, ...]:
    out = []
    for i, d in enumerate(dirs):
        split = i == SPLIT
        panes = (
            tuple(PaneShape(f"%{n}", str(d)) for n in (1, 2, 3))
            if split
            else (PaneShape("%1", str(d)),)
        )
        out.append(
            WindowShape(
                window_id=f"@{i}",
                index=i,
                name=f"win-{i}",
                layout=LAYOUT3 if split else LAYOUT1,
                panes=panes,
            )
        )
    return tuple(out)


async def record(db: Path, server: str, shapes: tuple[WindowShape, ...], directory: str) -> str:
    """Store an ended session with these windows through the store's write API."""
    sid = session_id(server, "$99")
    ts = now_ts()
    async with await Database.open(db) as database:
        await database.write_batch(
            [
                LifecycleRow(
                    id=sid,
                    name="bench",
                    timestamp=ts,
                    status="ended",
                    server=server,
                    tmux_id="$99",
                    directory=directory,
                    ended_at=ts,
                )
            ],
            [],
            [],
            [LayoutRow(id=sid, recorded_at=ts, windows=shapes)],
        )
    return sid


def raw(tmux: Tmux, name: str, shapes: tuple[WindowShape, ...]) -> None:
    """The baseline: the same session through plain tmux processes."""
    first = shapes[0]
    tmux("new-session", "-d", "-s", name, "-n", first.name, "-c", first.panes[0].path, COMMAND)
    for w in shapes[1:]:
        target = f"={name}:{w.index}"
        tmux("new-window", "-d", "-t", target, "-n", w.name, "-c", w.panes[0].path, COMMAND)
        for pane in w.panes[1:]:
            tmux("split-window", "-d", "-t", target, "-c", pane.path, COMMAND)
        if len(w.panes) > 1:
            tmux("select-layout", "-t", target, w.layout)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--postgresql", action="store_true", help="also time the CLI on a PostgreSQL URL"
    )
    args = parser.parse_args()
    tmux = Tmux()
    timings: dict[str, list[float]] = {"cli": [], "libtmux": [], "raw_tmux": []}
    # CPU of the command and its tmux client processes: less at the mercy of the load than wall
    # time (the tmux server's own work is not in it).
    cpu: dict[str, list[float]] = {"cli": []}
    stack = contextlib.ExitStack()
    url: str | None = None
    if args.postgresql:
        from bench_postgres import postgres

        url = stack.enter_context(postgres(None, None))("bench_revive")
        timings["cli_postgresql"], cpu["cli_postgresql"] = [], []
    with stack, tempfile.TemporaryDirectory(prefix="ccmgr-watch-bench-revive-") as tmp:
        dirs = [Path(tmp) / f"project {i}" for i in range(WINDOWS)]
        for d in dirs:
            d.mkdir()
        tmux("new-session", "-d", "-s", "base", COMMAND)
        try:
            pid, start = tmux("display-message", "-p", "#{pid} #{start_time}").split()
            server = server_key(tmux.socket, int(pid), int(start))
            db = Path(tmp) / "data.db"
            shapes = windows(dirs)
            old = anyio.run(record, db, server, shapes, str(dirs[0]))
            conn = open_reader(str(db))
            try:
                session = find_session(conn, old)
            finally:
                conn.close()
            plan = plan_revive(session, home=str(Path.home()))
            import libtmux  # noqa: F401  # the in-process runs measure creating, not importing

            if url is not None:
                from store.copy import copy_store

                copy_store(str(db), url, host=None)
            for n in range(args.runs):
                if url is not None:
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    started = time.perf_counter()
                    argv = ["revive", "--db", url, old, "--name", f"p{n}"]
                    done = subprocess.run(
                        [str(BIN / "ccmgr-watch"), *argv],
                        env=env(),
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    timings["cli_postgresql"].append(time.perf_counter() - started)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu["cli_postgresql"].append(
                        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                    )
                    if done.returncode != 0 or done.stderr:
                        raise RuntimeError(done.stderr)
                    tmux("kill-session", "-t", f"=p{n}")
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                done = subprocess.run(
                    [str(BIN / "ccmgr-watch"), "revive", "--db", str(db), old, "--name", f"c{n}"],
                    env=env(),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                timings["cli"].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu["cli"].append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
                if done.returncode != 0:
                    raise RuntimeError(done.stderr)
                started = time.perf_counter()
                made = carry_out(plan, f"l{n}", environ=env())
                timings["libtmux"].append(time.perf_counter() - started)
                if made.warnings or done.stderr:
                    raise RuntimeError(f"{made.warnings} {done.stderr}")
                started = time.perf_counter()
                raw(tmux, f"r{n}", shapes)
                timings["raw_tmux"].append(time.perf_counter() - started)
                for name in (f"c{n}", f"l{n}", f"r{n}"):
                    tmux("kill-session", "-t", f"={name}")
            imports = []
            for _ in range(args.runs):
                code = "import time; t = time.perf_counter(); import libtmux; "
                code += "print(time.perf_counter() - t)"
                out = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                )
                imports.append(float(out.stdout))
        finally:
            subprocess.run(
                ["tmux", "-S", tmux.socket, "kill-server"], capture_output=True, check=False
            )
            Path(tmux.socket).unlink(missing_ok=True)
    medians = {k: ms(statistics.median(v)) for k, v in timings.items()}
    result: dict[str, Any] = {
        "windows": WINDOWS,
        "panes": WINDOWS + 2,
        "runs": args.runs,
        "median_ms": medians,
        "cli_cpu_ms": ms(statistics.median(cpu["cli"])),
        "all_ms": {k: [ms(x) for x in v] for k, v in timings.items()},
        "libtmux_import_ms": ms(statistics.median(imports)),
        "libtmux_vs_raw": round(medians["libtmux"] / medians["raw_tmux"], 2),
        **(
            {"cli_postgresql_cpu_ms": ms(statistics.median(cpu["cli_postgresql"]))}
            if "cli_postgresql" in cpu
            else {}
        ),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "target_cli_under_1s": medians["cli"] < 1000,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
