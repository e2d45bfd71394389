#!/usr/bin/env python3
"""Benchmark the read commands' whole process against a minimal python floor, in the same loop.

Installs the repository (``pip install .``: byte-compiled, as users get it) into a private venv,
builds a database of realistic sessions with their events, then runs every read command
(``query``, ``session list|show|history``, and ``status`` for comparison) as a real process,
each one paired with the floor: that venv's ``python -c`` opening the same database with sqlite3
and running one indexed query. The pair's order alternates, so both see the same machine noise.
Prints one JSON object: per command the medians, the ratio of the medians, the spread of the
per-pair ratios, and whether it is within the target (1.5x the floor).

    .venv/bin/python scripts/bench_cli.py [--runs 21] [--sessions 10000] [--repo PATH]

``--repo`` measures another checkout (``--repo /path/to/main`` for the numbers before a change).
The venv and the database are cached in --workdir (default: $TMPDIR/ccmgr-watch-bench-cli); the
venv is reinstalled when the repository's files changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
GENERATOR_VERSION = 1
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

FLOOR = (
    "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "rows = c.execute('SELECT id, name, status, last_access FROM sessions "
    "ORDER BY last_access DESC LIMIT 20').fetchall(); "
    "print(json.dumps(rows, indent=2))"
)
"""The floor: start python, open the database, one query on an index (ix_sessions_last_access),
print the rows as JSON. Every read command does at least this."""

SHOWN_NAME = "ccmgr-myapp-main-main"  # a session every size has (see _sessions)


# --- the installation ----


def _source_digest(repo: Path) -> str:
    """A hash of what ``pip install`` would package, to know when the venv is stale."""
    digest = hashlib.sha256()
    files = [repo / "pyproject.toml"]
    for folder in ("watcher", "store", "sql"):
        files += sorted(p for p in (repo / folder).rglob("*") if p.suffix in (".py", ".sql"))
    for path in files:
        digest.update(str(path.relative_to(repo)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install(repo: Path, venv: Path) -> dict[str, Any]:
    """``pip install repo`` into ``venv`` (created if missing) unless it holds this source."""
    stamp = venv / "installed-source.sha256"
    wanted = _source_digest(repo)
    if stamp.exists() and stamp.read_text() == wanted and (venv / "bin" / "ccmgr-watch").exists():
        return {"reinstalled": False}
    started = time.perf_counter()
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            str(repo),
        ],
        check=True,
    )
    # Dependencies once (they do not change with the source): a second install resolves them.
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(repo),
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return {"reinstalled": True, "install_seconds": round(time.perf_counter() - started, 1)}


# --- the database ----


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sessions(n: int) -> list[tuple[Any, ...]]:
    """``n`` sessions: ccmgr-ultra style names over a few dozen projects, some scratch ones."""
    rng = random.Random(8)
    words = ["auth", "login", "api", "web", "ui", "db", "cache", "queue", "billing", "search"]
    words += ["admin", "docs", "infra", "deploy"]
    projects = ["myapp", "webshop", "api-server", "dotfiles"] + [f"proj{i}" for i in range(40)]
    rows = []
    for i in range(n):
        project: str | None
        worktree: str | None
        branch: str | None
        created = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
        last = min(NOW, created + timedelta(seconds=rng.randint(0, 20 * 86400)))
        if i == 0:  # the session `session show` looks at
            project, worktree, branch, last = "myapp", "main", "main", NOW
        elif rng.random() < 0.9:
            project = rng.choice(projects[:4]) if rng.random() < 0.4 else rng.choice(projects)
            worktree = "-".join(rng.sample(words, rng.randint(1, 2)))
            branch = f"{rng.choice(['feat', 'fix', 'chore'])}/{worktree}"
        else:
            project = worktree = branch = None
        if project is None:
            name = f"{rng.choice(['dev', 'notes', 'scratch', 'logs'])}-{i}"
            directory = "/home/user"
        else:
            name = f"ccmgr-{project}-{worktree}-{(branch or 'main').replace('/', '_')}"
            directory = f"/home/user/code/{project}"
        r = rng.random()
        status = "attached" if r < 0.02 or i == 0 else "detached" if r < 0.08 else "ended"
        ended = None if status != "ended" else _stamp(last)
        sid = f"s-{i:08x}{rng.getrandbits(32):08x}"
        stamps = (_stamp(created), _stamp(last), _stamp(last))
        rows.append((sid, name, project, worktree, branch, directory, *stamps, "{}", status, ended))
    return rows


def build_database(path: Path, venv: Path, n: int) -> dict[str, Any]:
    """A database of ``n`` sessions with 6 events each, migrated by the installed package."""
    if path.exists():
        return {"reused": True}
    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    subprocess.run(
        [str(venv / "bin" / "ccmgr-watch"), "db", "migrate", "--db", str(tmp)],
        check=True,
        capture_output=True,
    )
    conn = sqlite3.connect(tmp, isolation_level=None)
    rows = _sessions(n)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, metadata, status, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    kinds = ("created", "window_added", "attached", "detached", "attached", "detached")
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        (
            (row[0], kind, row[6] if k < 2 else row[7], '{"client": "/dev/pts/1"}')
            for row in rows
            for k, kind in enumerate(kinds)
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return {"reused": False, "build_seconds": round(time.perf_counter() - started, 1)}


# --- the measurement ----


def commands(cli: str, db: str) -> dict[str, list[str]]:
    """The read commands measured, by name."""
    return {
        "query_json": [cli, "query", "auth project:myapp", "--json", "--db", db],
        "query_table": [cli, "query", "auth", "--db", db],
        "session_list": [cli, "session", "list", "--db", db],
        "session_list_json": [cli, "session", "list", "--json", "--db", db],
        "session_show": [cli, "session", "show", SHOWN_NAME, "--db", db],
        "session_show_json": [cli, "session", "show", SHOWN_NAME, "--json", "--db", db],
        "session_history": [cli, "session", "history", "--db", db],
        "session_history_json": [
            cli,
            "session",
            "history",
            "--session",
            SHOWN_NAME,
            "--json",
            "--db",
            db,
        ],
        "status_json": [cli, "status", "--json", "--db", db],
        # Not a read command (no target): builds every command's parser; for before/after.
        "help": [cli, "--help"],
    }


def _cpu_ms() -> float:
    """CPU time (user + system) of the finished child processes so far, in ms."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (used.ru_utime + used.ru_stime) * 1000


def _timed(argv: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...]) -> float:
    return _timed_cpu(argv, env, cwd, ok)[0]


def _timed_cpu(
    argv: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...]
) -> tuple[float, float]:
    """The process's wall time and CPU time in ms (CPU time varies less with other load)."""
    cpu = _cpu_ms()
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode not in ok:
        raise RuntimeError(f"{argv[1:4]} exited {done.returncode}: {done.stderr.decode()[-400:]}")
    return elapsed, _cpu_ms() - cpu


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    argvs: dict[str, list[str]], floor: list[str], runs: int, env: dict[str, str], cwd: Path
) -> dict[str, Any]:
    """Each command beside its own floor run, ``runs`` times; the pair's order alternates."""
    ok_codes = {"status_json": (0, 1)}  # status exits 1 when no watcher runs
    for name, argv in argvs.items():  # warm the page cache and fail early
        _timed(argv, env, cwd, ok_codes.get(name, (0,)))
    _timed(floor, env, cwd, (0,))
    samples: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in argvs}
    cpu: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in argvs}
    for run in range(runs):
        for name, argv in argvs.items():
            ok = ok_codes.get(name, (0,))
            if run % 2:
                command = _timed_cpu(argv, env, cwd, ok)
                base = _timed_cpu(floor, env, cwd, (0,))
            else:
                base = _timed_cpu(floor, env, cwd, (0,))
                command = _timed_cpu(argv, env, cwd, ok)
            samples[name][0].append(command[0])
            samples[name][1].append(base[0])
            cpu[name][0].append(command[1])
            cpu[name][1].append(base[1])
    results: dict[str, Any] = {}
    for name, (command_ms, floor_ms) in samples.items():
        command_cpu, floor_cpu = (statistics.median(values) for values in cpu[name])
        ratios = [c / f for c, f in zip(command_ms, floor_ms, strict=True)]
        ratio = statistics.median(command_ms) / statistics.median(floor_ms)
        results[name] = {
            "argv": argvs[name][1:-2],
            "median_ms": round(statistics.median(command_ms), 1),
            "floor_median_ms": round(statistics.median(floor_ms), 1),
            "ratio_of_medians": round(ratio, 2),
            "paired_ratio_median": round(statistics.median(ratios), 2),
            "paired_ratio_p10_p90": [
                round(_quantile(ratios, 0.1), 2),
                round(_quantile(ratios, 0.9), 2),
            ],
            "paired_ratio_min_max": [round(min(ratios), 2), round(max(ratios), 2)],
            f"within_{TARGET_RATIO}x": ratio <= TARGET_RATIO,
            # The same pairs' CPU time (user + system): a second view when other load is present.
            "cpu_median_ms": round(command_cpu, 1),
            "floor_cpu_median_ms": round(floor_cpu, 1),
            "cpu_ratio_of_medians": round(command_cpu / floor_cpu, 2),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="paired runs per command (>= 21)")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to install")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ccmgr-watch-bench-cli",
        help="where the venv and database are kept between runs",
    )
    parser.add_argument("--only", default="", help="comma-separated command names to measure")
    args = parser.parse_args()
    repo = args.repo.resolve()
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    # One venv per checkout: measuring main and a branch in turn does not reinstall each time.
    venv = workdir / f"venv-{hashlib.sha256(str(repo).encode()).hexdigest()[:10]}"
    installed = install(repo, venv)
    db = workdir / f"sessions-{args.sessions}-v{GENERATOR_VERSION}.db"
    built = build_database(db, venv, args.sessions)
    # An empty config home and a folder outside any project: the user's config is not measured.
    home = workdir / "home"
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "CCMGR_WATCH_DB")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1")
    argvs = commands(str(venv / "bin" / "ccmgr-watch"), str(db))
    if args.only:
        wanted = set(args.only.split(","))
        argvs = {name: argv for name, argv in argvs.items() if name in wanted}
    floor = [str(venv / "bin" / "python"), "-c", FLOOR, str(db)]
    results = measure(argvs, floor, max(1, args.runs), env, home)
    load = os.getloadavg()
    report = {
        "repo": str(repo),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "sessions": args.sessions,
        "runs": args.runs,
        "install": installed,
        "database": built,
        "load_average_after": [round(x, 2) for x in load],
        "floor": "python -c: import sqlite3 and json, open the database, one indexed query "
        "(20 rows by last_access), print them as JSON",
        "notes": [
            "times in ms for the whole process; each command is paired with its own floor run, "
            "in alternating order; ratio_of_medians is the figure the target applies to; "
            "cpu_* are the same runs' CPU time (user + system), less moved by other load",
            "status_json is compared here with the database floor; scripts/bench_status.py "
            "compares it with its own floor (a python reading the status file)",
        ],
        "commands": results,
        "all_within_target": all(
            r[f"within_{TARGET_RATIO}x"] for name, r in results.items() if name != "help"
        ),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
