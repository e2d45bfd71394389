#!/usr/bin/env python3
"""Benchmark the PostgreSQL store beside SQLite, in the same run. Prints one JSON object:

* ``capture``: the real ``ccmgr-watch run`` on a private tmux server, once into a SQLite file
  and once into PostgreSQL: ``latency_ms`` (``tmux new-session -d`` returning to the session's
  row being visible, p50/p95 of --sessions sessions) and ``burst`` (1,000 sessions created back
  to back: all recorded? seconds from the burst's end to the last one visible);
* ``search``: at each size, the dense data set of scripts/bench_search.py (a word in half of all
  sessions, a project in 30 %, ...), in a migrated SQLite copy and in PostgreSQL (loaded with
  ``db copy``'s function), every query shape in two sorts, p50/p95 of --runs runs, in process
  (parse + compile + run + records).

PostgreSQL: --url (an existing, empty-able database: its sessions are replaced), else a private
server started like the tests' (tests/pg_server.py). The SQLite dense databases are read from
--workdir (default $TMPDIR/ccmgr-watch-bench, made by scripts/bench_search.py --dataset dense);
a size without one is skipped. --cache keeps the loaded PostgreSQL cluster and the migrated
SQLite copies in WORKDIR/pg-cache, so a repeat run at 1 M does not load again.

    .venv/bin/python scripts/bench_postgres.py [--sizes 100000,1000000] [--cache] [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store.copy import copy_store  # noqa: E402
from store.db import migrate_sync  # noqa: E402
from store.postgres.connect import connect_sync  # noqa: E402
from store.postgres.migrate import migrate  # noqa: E402
from store.postgres.reads import PgReader  # noqa: E402
from store.postgres.search import search_pg  # noqa: E402
from store.query import compile_query, parse_query  # noqa: E402
from store.search import search_sync  # noqa: E402

CCMGR_WATCH = str(Path(sys.executable).parent / "ccmgr-watch")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
QUERIES = [
    ("word_50pct", "auth"),
    ("word_0.1pct", "billing"),
    ("prefix_1", "a"),
    ("prefix_2", "au"),
    ("phrase", '"auth login"'),
    ("and_dense", "auth login"),
    ("or_dense", "auth OR login"),
    ("not_dense", "auth -login"),
    ("dense_word_selective_filter", "auth project:tinyproj"),
    ("rare_word_dense_filter", "billing project:myapp"),
    ("dense_word_dense_filters", "auth project:myapp branch:main"),
    ("qualifier_dense", "project:myapp"),
    ("empty", ""),
]
SORTS = ("relevance", "recent")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)


@contextlib.contextmanager
def postgres(url: str | None, cache: Path | None) -> Iterator[Callable[[str], str]]:
    """A function giving the URL of a named database (created if missing): on ``url``, else on
    a server in ``cache`` (kept between runs: loading 1 M sessions is the slow part), else on a
    private server deleted afterwards."""
    if url is not None:
        yield lambda name: url
        return
    import pytest

    from tests.pg_server import running_server

    try:
        with cached_server(cache) if cache is not None else running_server() as server:

            def database(name: str) -> str:
                with contextlib.suppress(Exception):
                    server.execute(f"CREATE DATABASE {name} TEMPLATE ccmgr_template")
                migrate(server.url(name))  # a cached database may predate a migration
                return server.url(name)

            yield database
    except pytest.skip.Exception as skipped:
        print(json.dumps({"skipped": str(skipped)}))
        sys.exit(0)


@contextlib.contextmanager
def cached_server(root: Path) -> Iterator[Any]:
    """A server whose cluster lives in ``root`` (created the first time, as the tests' is:
    initdb, a migrated template); stopped afterwards, never deleted."""
    import pwd

    import pytest

    from tests.pg_server import TEMPLATE, PgServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("no initdb/pg_ctl found")
    run_as = "postgres" if os.geteuid() == 0 else None  # initdb refuses root
    server = PgServer(bin_dir, root, run_as)
    fresh = not (root / "data").exists()
    if fresh:
        (root / "socket").mkdir(mode=0o700, parents=True, exist_ok=True)
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            for path in (root, root / "socket"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(root, 0o700)
        server.init()
    server.start()
    try:
        if fresh:
            server.execute(f"CREATE DATABASE {TEMPLATE}")
        migrate(server.url(TEMPLATE))
        yield server
    finally:
        server.stop()


class Tmux:
    def __init__(self) -> None:
        self.name = f"benchpg-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            env=env,
            capture_output=True,
            check=False,
        )


def capture(location: str, count: Callable[[], int], sessions: int, burst: int) -> dict[str, Any]:
    """Latency and burst of the real watcher writing into ``location``."""
    tmux = Tmux()
    tmux("new-session", "-d", "-s", "keep", "sleep 3600")
    home = tempfile.mkdtemp(prefix="benchpg-home-")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env.update(CCMGR_WATCH_DB=location, HOME=home, XDG_CONFIG_HOME=f"{home}/.config")
    watcher = subprocess.Popen(
        [CCMGR_WATCH, "run", "-L", tmux.name], env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait(lambda: count() >= 1, 30)
        latencies = []
        for i in range(sessions):
            before = count()
            tmux("new-session", "-d", "-s", f"lat{i}", "sleep 3600")
            started = time.perf_counter()
            wait(lambda: count() > before, 10)  # noqa: B023 - called before the next turn
            latencies.append((time.perf_counter() - started) * 1000)
        before = count()
        for i in range(burst):
            tmux("new-session", "-d", "-s", f"burst{i}", "sleep 3600")
        ended = time.perf_counter()
        recorded = wait(lambda: count() >= before + burst, 60)
        return {
            "latency_ms": {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95)},
            "burst": {
                "sessions": burst,
                "all_recorded": recorded,
                "seconds_after_end": round(time.perf_counter() - ended, 3),
            },
        }
    finally:
        watcher.terminate()
        watcher.wait(timeout=15)
        tmux("kill-server")
        # tmux 3.3a leaves its socket file behind: remove our own.
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(f"/tmp/tmux-{os.getuid()}", tmux.name))
        shutil.rmtree(home, ignore_errors=True)


def wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


def sqlite_count(path: Path) -> Callable[[], int]:
    def count() -> int:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
                return int(conn.execute("SELECT count(*) FROM sessions").fetchone()[0])
        except sqlite3.Error:
            return 0

    return count


def pg_count(url: str) -> Callable[[], int]:
    conn = connect_sync(url)

    def count() -> int:
        try:
            row = conn.execute(b"SELECT count(*) FROM sessions").fetchone()
            return int(row[0]) if row else 0
        except Exception:
            return 0

    return count


def search(
    size: int, workdir: Path, url: str, runs: int, cache: Path | None
) -> dict[str, Any] | None:
    source = workdir / f"dense-{size}-v1.db"
    if not source.exists():
        return None
    folder = cache if cache is not None else Path(tempfile.mkdtemp(prefix="benchpg-"))
    lite = folder / f"dense-{size}-sqlite.db"
    try:
        if not lite.exists():
            # A copy: the cached database is read-only, and this schema adds hosts (sql/004).
            with (
                contextlib.closing(sqlite3.connect(source)) as src,
                contextlib.closing(sqlite3.connect(lite)) as dst,
            ):
                src.backup(dst)
        migrate_sync(lite)
        reader = PgReader.open(url)
        (have,) = reader.conn.execute(b"SELECT count(*) FROM sessions").fetchone() or (0,)
        load_seconds = None
        if have != size:
            reader.conn.execute(b"SET default_transaction_read_only = off")
            reader.conn.execute(b"TRUNCATE sessions RESTART IDENTITY CASCADE")
            started = time.perf_counter()
            copy_store(str(lite), url, host="bench", events=False)
            reader.conn.execute(b"VACUUM ANALYZE sessions")
            load_seconds = round(time.perf_counter() - started, 1)
            reader.conn.execute(b"SET default_transaction_read_only = on")
        conn = sqlite3.connect(f"file:{lite}?mode=ro", uri=True)
        shapes: dict[str, Any] = {}
        for name, text in QUERIES:
            for sort in SORTS:
                lite_ms: list[float] = []
                pg_ms: list[float] = []
                for _ in range(runs):
                    started = time.perf_counter()
                    tree = parse_query(text, now=NOW)
                    search_sync(conn, compile_query(tree, sort=sort, limit=20))  # type: ignore[arg-type]
                    lite_ms.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    search_pg(reader, parse_query(text, now=NOW), sort=sort, limit=20)
                    pg_ms.append((time.perf_counter() - started) * 1000)
                shapes[f"{name} {sort}"] = {
                    "query": text,
                    "sqlite_ms": {"p50": pct(lite_ms, 0.5), "p95": pct(lite_ms, 0.95)},
                    "postgresql_ms": {"p50": pct(pg_ms, 0.5), "p95": pct(pg_ms, 0.95)},
                }
        conn.close()
        reader.close()
        pg95 = [s["postgresql_ms"]["p95"] for s in shapes.values()]
        lite95 = [s["sqlite_ms"]["p95"] for s in shapes.values()]
        return {
            "sessions": size,
            "postgresql_load_seconds": load_seconds,
            "worst_p95_ms": {"sqlite": max(lite95), "postgresql": max(pg95)},
            "median_p95_ms": {
                "sqlite": round(statistics.median(lite95), 3),
                "postgresql": round(statistics.median(pg95), 3),
            },
            "shapes": shapes,
        }
    finally:
        if cache is None:
            shutil.rmtree(folder, ignore_errors=True)


class _SkipCapture(Exception):
    """--search-only."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing PostgreSQL database (else a private server)")
    parser.add_argument("--sizes", default="100000", help="search sizes, comma-separated")
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sessions", type=int, default=30, help="latency samples")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="fewer samples, no search")
    parser.add_argument("--search-only", action="store_true", help="skip the capture part")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="keep the PostgreSQL cluster and the migrated SQLite copies in WORKDIR/pg-cache "
        "between runs (the loads are the slow part at 1 M)",
    )
    args = parser.parse_args()
    cache = Path(args.workdir) / "pg-cache" if args.cache else None
    result: dict[str, Any] = {"load_average": os.getloadavg()}
    with postgres(args.url, cache) as database:
        sessions, burst = (10, 200) if args.quick else (args.sessions, args.burst)
        folder = Path(tempfile.mkdtemp(prefix="benchpg-lite-"))
        try:
            if args.search_only:
                raise _SkipCapture
            lite = folder / "data.db"
            pg_url = database("bench_capture")
            with connect_sync(pg_url) as conn:
                conn.execute(b"TRUNCATE sessions RESTART IDENTITY CASCADE")
            result["capture"] = {
                "sqlite": capture(str(lite), sqlite_count(lite), sessions, burst),
                "postgresql": capture(pg_url, pg_count(pg_url), sessions, burst),
            }
        except _SkipCapture:
            pass
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        result["search"] = []
        if not args.quick:
            for size in (int(s) for s in args.sizes.split(",") if s):
                measured = search(
                    size, Path(args.workdir), database(f"bench_dense_{size}"), args.runs, cache
                )
                result["search"].append(measured or {"sessions": size, "skipped": "no data set"})
    result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
