#!/usr/bin/env python3
"""Benchmark ``ccmgr-watch pick`` as a person meets it: a real process on a pseudo-terminal.

Measures, at 100 k sessions (the dense data set of scripts/bench_search.py, with events added):

- first frame: from spawning ``ccmgr-watch pick`` to the last byte of its first whole frame
  (the query line, the results and the preview), read from the pty's master side;
- keystroke to results: from writing one key to the last byte of the first frame that shows the
  results of the query as typed so far (not the immediate echo frame that says "searching…"),
  for every prefix of each typed query (``a``, ``au``, ``aut``, ``auth``...);

and, in the same run, the baselines: ``python -c pass`` (the interpreter's own start-up), the
import cost of each terminal library that was considered, and one raw ``search_sync`` call per
query (what a keystroke cannot go below). Prints one JSON object.

    .venv/bin/python scripts/bench_picker.py [--runs 15] [--sessions 100000] [--workdir DIR]

The database is ``/tmp/ccmgr-watch-bench/dense-<N>-v1.db`` (built by bench_search.py if missing)
copied into --workdir with events added (cached there).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.pick.terminal import FRAME_END  # noqa: E402

FIRST_FRAME_TARGET_MS = 150.0
KEY_TARGET_MS = 16.0
COLUMNS, ROWS = 120, 40
EVENTS_VERSION = 1
TYPED = ["auth", "main", "login", "myapp", "zanzibar"]
# A qualifier first, then a word typed letter by letter (the qualifier's part is typed at once).
TYPED_AFTER = [("project:myapp ", "auth"), ("status:ended ", "main")]
REACTION = 0.3
"""Seconds between the first frame and the first key (a person's reaction time; the picker
imports the query language on its search thread meanwhile)."""
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
        "runs": len(ordered),
    }


# --- the data ----


def database(sessions: int, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The dense database with ~6 events per session (a copy, cached in ``workdir``)."""
    from store.db import migrate_sync
    from store.migrations import load_migrations

    # The schema version in the name: a copy cached at an older schema is not read by the CLI.
    schema = len(load_migrations())
    path = workdir / f"pick-{sessions}-e{EVENTS_VERSION}-s{schema}.db"
    if path.exists():
        return path, {"built": False}
    started = time.perf_counter()
    source = Path(f"/tmp/ccmgr-watch-bench/dense-{sessions}-v1.db")
    if not source.exists():
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "bench_search", ROOT / "scripts/bench_search.py"
        )
        assert spec is not None and spec.loader is not None
        bench_search = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench_search)
        source.parent.mkdir(parents=True, exist_ok=True)
        bench_search.build_dense(source, sessions)
    tmp = path.with_suffix(".building")
    shutil.copyfile(source, tmp)
    migrate_sync(tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    rows = conn.execute("SELECT id, created_at, last_access, status FROM sessions").fetchall()

    def events() -> Any:
        for sid, created, last, status in rows:
            yield sid, "created", created, "{}"
            for w, name in enumerate(("editor", "server", "logs")):
                data = json.dumps({"window_id": f"@{w}", "window_name": name})
                yield sid, "window_added", created, data
            yield sid, "attached", created, "{}"
            yield sid, "detached", last, "{}"
            if status == "ended":
                yield sid, "killed", last, "{}"

    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        events(),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return path, {"built": True, "build_seconds": round(time.perf_counter() - started, 1)}


# --- the picker on a pty ----


class Pty:
    """``ccmgr-watch pick`` with a pseudo-terminal as its controlling terminal."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.spawned = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            try:
                os.execve(argv[0], argv, env)  # noqa: S606
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.buffer = b""
        self.arrived = self.spawned

    def frame(self, accept: Any, timeout: float = 10.0) -> tuple[float, bytes]:
        """Read until a whole frame for which ``accept(first_line)`` holds; returns the time
        its last byte arrived and the frame."""
        deadline = time.perf_counter() + timeout
        while True:
            while FRAME_END in self.buffer:
                frame, _, self.buffer = self.buffer.partition(FRAME_END)
                start = frame.rfind(b"\x1b[H")
                first = _ANSI.sub(b"", frame[start:].split(b"\x1b[K", 1)[0]) if start >= 0 else b""
                if accept(first.decode("utf-8", "replace")):
                    return self.arrived, frame
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no accepted frame; last bytes {self.buffer[-300:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                data = os.read(self.fd, 65536)
                self.arrived = time.perf_counter()
                if not data:
                    raise EOFError("the picker exited")
                self.buffer += data

    def send(self, data: bytes) -> float:
        sent = time.perf_counter()
        os.write(self.fd, data)
        return sent

    def close(self) -> None:
        try:
            os.write(self.fd, b"\x03")  # Ctrl-C: the picker leaves with 130
            deadline = time.perf_counter() + 5
            while time.perf_counter() < deadline:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                select.select([self.fd], [], [], 0.05)
                with contextlib.suppress(OSError):
                    os.read(self.fd, 65536)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        finally:
            os.close(self.fd)


def results_for(query: str) -> Any:
    def accept(first: str) -> bool:
        return (
            first.startswith("> " + query)
            and "searching" not in first
            and (first[2 + len(query) :].strip() != "" or query == "")
        )

    return accept


def run_picker(db: Path, runs: int) -> dict[str, Any]:
    cli = str(Path(sys.executable).parent / "ccmgr-watch")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["TERM"] = "xterm-256color"
    argv = [cli, "pick", "--db", str(db)]
    first: list[float] = []
    keys: dict[str, list[float]] = {}
    for _ in range(runs):
        picker = Pty(argv, env)
        try:
            arrived, _ = picker.frame(results_for(""))
            first.append((arrived - picker.spawned) * 1000)
            time.sleep(REACTION)  # a person reads the first frame before typing
            sequences = [("", word) for word in TYPED] + TYPED_AFTER
            for given, word in sequences:
                if given:
                    picker.send(given.encode())
                    picker.frame(results_for(given.rstrip()))
                for n in range(1, len(word) + 1):
                    typed = given + word[:n]
                    sent = picker.send(word[n - 1].encode())
                    arrived, _ = picker.frame(results_for(typed))
                    keys.setdefault(typed, []).append((arrived - sent) * 1000)
                picker.send(b"\x15")  # Ctrl-U: an empty query again
                picker.frame(results_for(""))
        finally:
            picker.close()
    per_key = {query: _summary(samples) for query, samples in keys.items()}
    worst = max(s["p95_ms"] for s in per_key.values())
    return {
        "first_frame": {
            **_summary(first),
            "target_ms": FIRST_FRAME_TARGET_MS,
            "within_target": statistics.median(first) <= FIRST_FRAME_TARGET_MS,
        },
        "keystroke_to_results": per_key,
        "keystroke_worst_p95_ms": worst,
        "keystroke_within_target": {q: s["p95_ms"] <= KEY_TARGET_MS for q, s in per_key.items()},
    }


# --- the baselines ----


def _process_ms(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _import_us(python: str, code: str) -> dict[str, int]:
    """``python -X importtime -c code``: each top-level import's cumulative microseconds."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # imported by -c itself
            found[name.strip()] = int(parts[1])
    return found


CLI_LOADED = "import argparse, json, sqlite3, datetime"
"""What ccmgr-watch has imported before the picker's own modules (every command needs them):
a library's cost is what it imports beyond these."""


def import_costs(runs: int) -> dict[str, Any]:
    """Each candidate library's import cost (``-X importtime``: the modules it imports beyond
    :data:`CLI_LOADED`, median of ``runs``), in the first interpreter that has it."""
    found: dict[str, Any] = {}
    interpreters = [sys.executable]
    system = shutil.which("python3")
    if system:
        interpreters.append(system)
    for module in ("termios, select, signal", "curses", "prompt_toolkit", "blessed", "urwid"):
        for python in interpreters:
            probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
            if probe.returncode != 0:
                continue
            bare = set(_import_us(python, CLI_LOADED))
            totals = []
            for _ in range(runs):
                imports = _import_us(python, f"{CLI_LOADED}; import {module}")
                totals.append(sum(us for name, us in imports.items() if name not in bare))
            found[module] = {
                "import_ms": round(statistics.median(totals) / 1000, 1),
                "python": python,
            }
            break
        else:
            found[module] = "not installed"
    return found


def raw_searches(db: Path, runs: int) -> dict[str, Any]:
    """One search_sync call per typed query (recent order, the picker's limit)."""
    from store.query.compiler import compile_query
    from store.query.parser import parse_query
    from store.reads import open_reader
    from store.search import search_sync
    from watcher.pick.app import LIMIT

    conn = open_reader(str(db))
    now = datetime.now(UTC)
    queries = [w[:n] for w in TYPED for n in range(1, len(w) + 1)]
    queries += [g + w[:n] for g, w in TYPED_AFTER for n in range(1, len(w) + 1)]
    out: dict[str, Any] = {}
    for query in queries:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            search_sync(
                conn,
                compile_query(
                    parse_query(query, now=now, home="/home/user", cwd="/"),
                    sort="recent",
                    limit=LIMIT,
                ),
            )
            samples.append((time.perf_counter() - started) * 1000)
        out[query] = _summary(samples)
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ccmgr-watch-bench-picker"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db, built = database(args.sessions, args.workdir)
    report: dict[str, Any] = {
        "sessions": args.sessions,
        "database": str(db),
        "data": built,
        "load_average_before": os.getloadavg(),
    }
    report["python_c_pass"] = _summary(_process_ms([sys.executable, "-c", "pass"], args.runs))
    report["picker"] = run_picker(db, args.runs)
    report["raw_search_recent"] = raw_searches(db, args.runs)
    report["import_costs"] = import_costs(7)
    report["load_average_after"] = os.getloadavg()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
