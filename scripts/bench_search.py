#!/usr/bin/env python3
"""Benchmark search: the compiled query language against hand-written FTS SQL and a LIKE scan.

Builds databases of realistic sessions (and their events) at each size, then times every query
shape three ways in the same run:

- ``compiled``: the SQL the compiler emits (``parse_and_compile`` is timed on its own);
- ``hand``: hand-written FTS5 SQL with the same meaning (and the same ranking);
- ``like``: ccmgr-ultra's approach, ``LIKE '%word%'`` over name, project, worktree and branch.

Then, at the smallest size, the whole ``ccmgr-watch query ... --json`` process beside a minimal
``python3 -c`` script running the same SQL. Prints one JSON object: numbers, targets, met/missed.

    .venv/bin/python scripts/bench_search.py [--sizes 10000,100000,1000000] [--quick]
        [--process-only] [--dataset realistic|dense|both] [--no-baselines]

The dense data set (issue 11) puts a word in half of all sessions, a project in 30 %, the branch
main in 40 % and a project in 0.05 %, and times every shape (and one- to three-letter prefixes)
in every sort against the issue's targets: p95 under 15 ms (OR and NOT: 30 ms).

Databases are cached in --workdir (default: $TMPDIR/ccmgr-watch-bench) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
sys.path.insert(0, str(ROOT))

from store.db import migrate_sync  # noqa: E402
from store.query import compile_query, parse_query  # noqa: E402
from store.query.compiler import RESULT_COLUMNS  # noqa: E402
from store.search import plan_sync, rows_sync  # noqa: E402

GENERATOR_VERSION = 4
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
COLS = ", ".join(f"s.{c}" for c in RESULT_COLUMNS)
W = "10.0, 4.0, 3.0, 3.0, 1.0"
SINCE_30D = (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
# "since:104w" from NOW: nearly every generated session (last access within 730 days) passes.
SINCE_104W = (NOW - timedelta(weeks=104)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
EXACT_NAME = "ccmgr-pikavo-auth-feat_auth"  # at every size: 2 sessions at 10 k, 7 at 1 M

# --- realistic data ----

_SYLLABLES = "ka lo mi ne ru ta vo xe zu pi an el or ur is ba co de fa gu".split()  # noqa: SIM905
_COMMON = (  # noqa: SIM905
    "auth login api web app ui db cache queue worker billing search admin docs infra deploy "
    "payments notify metrics gateway storage sync export import user profile session config "
    "test bench migrate refactor cleanup hotfix release mobile ios android cli core shared"
).split()


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Words by how often they occur: the everyday ones (auth, api, ...) at ranks 8 to 60."""
    words: set[str] = set()
    while len(words) < size - len(_COMMON):
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in _COMMON:
            words.add(word)
    rare = sorted(words)
    rng.shuffle(rare)
    common = list(_COMMON)
    rng.shuffle(common)
    return rare[:8] + common + rare[8:]


class _Zipf:
    """Draws items with probability proportional to 1 / rank**s."""

    def __init__(self, items: list[Any], s: float = 1.0) -> None:
        self.items = items
        total, self.cum = 0.0, []
        for rank in range(1, len(items) + 1):
            total += 1.0 / rank**s
            self.cum.append(total)

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.items, cum_weights=self.cum)[0]


def _sessions(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 3000)
    projects = [
        f"{rng.choice(vocab)}-{rng.choice(vocab)}" if i % 3 else rng.choice(vocab)
        for i in range(max(20, n // 500))
    ]
    projects[2:6] = ["myapp", "webshop", "api-server", "dotfiles"]
    project_pick, word_pick = _Zipf(projects, 0.9), _Zipf(vocab, 1.0)
    rows = []
    span = 730 * 86400
    for i in range(n):
        project = project_pick.pick(rng) if rng.random() < 0.9 else None
        kind = rng.random()
        topic = [word_pick.pick(rng) for _ in range(rng.randint(1, 3))]
        branch_kind = rng.choice(["feat", "fix", "chore", "feature", "bug"])
        branch = None if project is None else f"{branch_kind}/{'-'.join(topic)}"
        if kind < 0.15 and project:
            branch = "main"
        worktree = None if project is None else ("main" if branch == "main" else "-".join(topic))
        if project is None:
            name = rng.choice(["0", "1", "2", "dev", "notes", "scratch", "htop", "logs"])
            name += f"-{i % 97}" if rng.random() < 0.5 else ""
            directory = rng.choice(["/home/user", "/tmp", "/home/user/Downloads", "/srv/logs"])
        else:
            name = f"ccmgr-{project}-{worktree}-{(branch or 'main').replace('/', '_')}"
            directory = f"/home/user/code/{project}"
            if worktree != "main":
                directory += f"/.worktrees/{worktree}"
        created = NOW - timedelta(seconds=rng.randint(0, span))
        last = min(NOW, created + timedelta(seconds=rng.randint(0, 40 * 86400)))
        r = rng.random()
        status = "attached" if r < 0.02 else "detached" if r < 0.08 else "ended"
        ended = None if status != "ended" else last.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        c = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        la = last.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        rows.append(
            (
                f"{i:08x}{rng.getrandbits(32):08x}",
                name,
                project,
                worktree,
                branch,
                directory,
                c,
                la,
                la,
                "{}",
                status,
                ended,
            )
        )
    return rows


def build(path: Path, n: int) -> dict[str, Any]:
    """Create a database of ``n`` sessions with 3 events each (schema 1, rows, then 002)."""
    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    migrate_sync(tmp, 1)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    rows = _sessions(n)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, metadata, status, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        (
            (row[0], kind, stamp, "{}")
            for row in rows
            for kind, stamp in (("created", row[6]), ("attached", row[6]), ("detached", row[8]))
        ),
    )
    conn.execute("COMMIT")
    conn.close()
    migrate_sync(tmp)  # 002 builds the FTS index over the rows already there
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA optimize")
    conn.execute("ANALYZE")
    conn.execute("INSERT INTO sessions_fts (sessions_fts) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return {"build_seconds": round(time.perf_counter() - started, 1), "events": 3 * n}


# --- the shapes ----

_FTS_IN = "s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)"
_RANK_JOIN = (
    "SELECT {cols}, -r.score FROM (SELECT rowid AS rid, bm25(sessions_fts, {w}) AS score "
    "FROM sessions_fts WHERE sessions_fts MATCH ?) AS r JOIN sessions AS s ON s.rowid = r.rid "
    "{where}ORDER BY r.score, s.last_access DESC, s.rowid DESC LIMIT 20"
)
_RECENT = "ORDER BY s.last_access DESC, s.rowid DESC LIMIT 20"


def _like_words(words: list[str]) -> tuple[str, list[str]]:
    clauses, params = [], []
    for word in words:
        clauses.append(
            "(s.name LIKE ? OR s.project LIKE ? OR s.worktree LIKE ? OR s.branch LIKE ?)"
        )
        params.extend([f"%{word}%"] * 4)
    return " AND ".join(clauses), params


def shapes() -> list[dict[str, Any]]:
    """Each shape: the query text, hand-written FTS SQL + params, LIKE SQL + params."""
    out: list[dict[str, Any]] = []

    def add(
        name: str, query: str, hand: tuple[str, list[Any]], like: tuple[str, list[Any]]
    ) -> None:
        out.append({"shape": name, "query": query, "hand": hand, "like": like})

    def ranked(
        match: str, where: str = "", params: list[Any] | None = None
    ) -> tuple[str, list[Any]]:
        sql = _RANK_JOIN.format(cols=COLS, w=W, where=f"WHERE {where} " if where else "")
        return sql, [match, *(params or [])]

    lw, lp = _like_words(["auth"])
    add(
        "term",
        "auth",
        ranked('"auth"*'),
        (f"SELECT {COLS} FROM sessions s WHERE {lw} {_RECENT}", lp),
    )
    lw, lp = _like_words(["pay"])
    add(
        "prefix",
        "pay",
        ranked('"pay"*'),
        (f"SELECT {COLS} FROM sessions s WHERE {lw} {_RECENT}", lp),
    )
    lw, lp = _like_words(["fix-login"])
    add(
        "phrase",
        '"fix login"',
        ranked('"fix login"'),
        (f"SELECT {COLS} FROM sessions s WHERE {lw} {_RECENT}", lp),
    )
    lw, lp = _like_words(["auth", "api"])
    add(
        "and",
        "auth api",
        ranked('("auth"*) AND ("api"*)'),
        (f"SELECT {COLS} FROM sessions s WHERE {lw} {_RECENT}", lp),
    )
    l1, p1 = _like_words(["auth"])
    l2, p2 = _like_words(["login"])
    add(
        "or",
        "auth OR login",
        ranked('("auth"*) OR ("login"*)'),
        (f"SELECT {COLS} FROM sessions s WHERE ({l1}) OR ({l2}) {_RECENT}", p1 + p2),
    )
    add(
        "not",
        "auth -test",
        ranked('(("auth"*)) NOT (("test"*))'),
        (
            f"SELECT {COLS} FROM sessions s WHERE ({l1}) "
            f"AND NOT ({_like_words(['test'])[0]}) {_RECENT}",
            p1 + _like_words(["test"])[1],
        ),
    )
    add(
        "qualifier_only",
        "project:webshop",
        (
            f"SELECT {COLS} FROM sessions s WHERE s.project = ? COLLATE NOCASE {_RECENT}",
            ["webshop"],
        ),
        (f"SELECT {COLS} FROM sessions s WHERE s.project LIKE ? {_RECENT}", ["%webshop%"]),
    )
    lw, lp = _like_words(["auth"])
    add(
        "words_project_since",
        "auth project:myapp since:30d",
        ranked(
            '"auth"*', "s.project = ? COLLATE NOCASE AND s.last_access >= ?", ["myapp", SINCE_30D]
        ),
        (
            f"SELECT {COLS} FROM sessions s WHERE {lw} AND s.project LIKE ? "
            f"AND s.last_access >= ? {_RECENT}",
            [*lp, "%myapp%", SINCE_30D],
        ),
    )
    out[-1]["naive"] = (
        f"SELECT {COLS}, -bm25(sessions_fts, {W}) FROM sessions_fts JOIN sessions AS s "
        "ON s.rowid = sessions_fts.rowid WHERE sessions_fts MATCH ? AND s.project = ? "
        "COLLATE NOCASE AND s.last_access >= ? ORDER BY bm25(sessions_fts, " + W + "), "
        "s.last_access DESC, s.rowid DESC LIMIT 20",
        ['"auth"*', "myapp", SINCE_30D],
    )
    # Filters that keep most matches (or all of them): the worst case for computing bm25 only for
    # the survivors, and, when an index covers the filter, the planner's trap for a plain join.
    add(
        "words_project_big",
        "auth project:pikavo",
        ranked('"auth"*', "s.project = ? COLLATE NOCASE", ["pikavo"]),
        (
            f"SELECT {COLS} FROM sessions s WHERE {lw} AND s.project LIKE ? {_RECENT}",
            [*lp, "%pikavo%"],
        ),
    )
    add(
        "words_since_all",
        "auth since:104w",
        ranked('"auth"*', "s.last_access >= ?", [SINCE_104W]),
        (
            f"SELECT {COLS} FROM sessions s WHERE {lw} AND s.last_access >= ? {_RECENT}",
            [*lp, SINCE_104W],
        ),
    )
    add(
        "words_status_active",
        "auth status:active",
        ranked('"auth"*', "s.status IN ('attached', 'detached')"),
        (f"SELECT {COLS} FROM sessions s WHERE {lw} AND s.status != 'ended' {_RECENT}", lp),
    )
    # A filter that picks out a handful of rows by an index: here SQLite's own choice (walk the
    # name index, run the full-text query once per row) beats always scanning the matches first.
    add(
        "words_name_exact",
        "auth name:ccmgr-pikavo-auth-feat_auth",
        ranked('"auth"*', "s.name = ? COLLATE NOCASE", [EXACT_NAME]),
        (
            f"SELECT {COLS} FROM sessions s WHERE {lw} AND s.name LIKE ? {_RECENT}",
            [*lp, EXACT_NAME],
        ),
    )
    out[-1]["extra"] = True
    add(
        "status_active",
        "status:active",
        (f"SELECT {COLS} FROM sessions s WHERE s.status IN ('attached', 'detached') {_RECENT}", []),
        (f"SELECT {COLS} FROM sessions s WHERE s.status != 'ended' {_RECENT}", []),
    )
    add(
        "empty",
        "",
        (f"SELECT {COLS} FROM sessions s {_RECENT}", []),
        (f"SELECT {COLS} FROM sessions s {_RECENT}", []),
    )
    return out


def _summary(samples: list[float], digits: int = 3) -> dict[str, float]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {"p50_ms": round(statistics.median(samples), digits), "p95_ms": round(p95, digits)}


def _interleaved(fns: dict[str, Any], repeat: int) -> dict[str, dict[str, float]]:
    """Time each function ``repeat`` times, taking turns, so all see the same machine noise.

    The order is shuffled every round: whatever runs right after a full-table LIKE scan finds
    the caches cold, and that must not always be the same contender.
    """
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns.items())
    shuffler = random.Random(1)
    for _ in range(repeat):
        shuffler.shuffle(order)
        for name, fn in order:
            started = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: _summary(values) for name, values in samples.items()}


def bench_size(path: Path, repeat: int) -> dict[str, Any]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    results = {}
    for shape in shapes():
        text = shape["query"]

        query = compile_query(parse_query(text, now=NOW))

        def compiled(query: Any = query) -> list[Any]:
            # What store.search runs: the planner's reads, the chosen plan (and its fallback).
            return rows_sync(conn, query)

        def parse_and_compile(text: str = text) -> None:
            compile_query(parse_query(text, now=NOW))

        hand_sql, hand_params = shape["hand"]
        like_sql, like_params = shape["like"]
        got = compiled()
        hand_rows = conn.execute(hand_sql, hand_params).fetchall()
        fns: dict[str, Any] = {
            "compiled": compiled,
            "hand": lambda s=hand_sql, p=hand_params: conn.execute(s, p).fetchall(),
        }
        if "naive" in shape:
            naive_sql, naive_params = shape["naive"]
            fns["hand_naive_join"] = lambda s=naive_sql, p=naive_params: conn.execute(
                s, p
            ).fetchall()
        timings = _interleaved(fns, repeat)
        # The LIKE scan reads the whole table and leaves the caches cold for whatever runs next:
        # timed on its own so it does not skew the compiled-versus-hand comparison.
        timings["like"] = _interleaved(
            {"like": lambda s=like_sql, p=like_params: conn.execute(s, p).fetchall()},
            max(5, repeat // 3),
        )["like"]
        timings["parse_and_compile"] = _interleaved({"p": parse_and_compile}, repeat)["p"]
        fts_matches = None
        if shape["hand"][0].startswith("SELECT") and "MATCH" in shape["hand"][0]:
            fts_matches = conn.execute(
                "SELECT count(*) FROM sessions_fts WHERE sessions_fts MATCH ?", (hand_params[0],)
            ).fetchone()[0]
        entry: dict[str, Any] = {
            "query": text,
            "plan": plan_sync(conn, query).name,
            "rows": len(got),
            "fts_matches": fts_matches,
            "same_as_hand": [r[0] for r in got] == [r[0] for r in hand_rows],
            **timings,
        }
        if shape.get("extra"):
            entry["extra"] = True
        entry["compiled_vs_hand_p50"] = round(
            timings["compiled"]["p50_ms"] / max(timings["hand"]["p50_ms"], 1e-3), 2
        )
        results[shape["shape"]] = entry
    conn.close()
    return results


# --- the dense data set (issue 11) ----
#
# Sessions as one user with three big projects records them: rowid in creation order, "auth" in
# ~50 % of sessions, "login" ~25 %, "api" ~5 %, "cache" ~1 %, "billing" ~0.1 %, "zanzibar" in one;
# project myapp ~30 % (webshop 20 %, infra 15 %), tinyproj ~0.05 %; branch main ~40 %.

DENSE_VERSION = 3
"""3: the same sessions as 1, at the latest schema (004 hosts, 005 name-order indexes); built by
copying a cached version-1 database and migrating it, when there is one. (2 was built on a
branch where the name-order migration was numbered 004: its schema_migrations rows do not match
main's files.)"""


def _dense_sessions(n: int, seed: int = 11) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    vocab = sorted(
        {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(4000)}
    )
    rng.shuffle(vocab)
    others = [f"{vocab[i]}-{vocab[i + 1]}" for i in range(0, 1000, 2)]
    span = 730 * 86400
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    out = []
    for i in range(n):
        r = rng.random()
        project: str | None
        if r < 0.30:
            project = "myapp"
        elif r < 0.50:
            project = "webshop"
        elif r < 0.65:
            project = "infra"
        elif r < 0.6505:
            project = "tinyproj"
        elif r < 0.70:
            project = None
        else:
            project = others[int(len(others) * rng.random() ** 2)]
        topic = []
        for word, share in (
            ("auth", 0.5),
            ("login", 0.25),
            ("api", 0.05),
            ("cache", 0.01),
            ("billing", 0.001),
        ):
            if rng.random() < share:
                topic.append(word)
        topic.append(vocab[int(len(vocab) * rng.random() ** 3)])
        rng.shuffle(topic)
        slug = "-".join(topic)
        if project is None:
            branch = worktree = None
            name = f"{rng.choice(['dev', 'notes', 'scratch', 'logs'])}-{slug}"
            directory = rng.choice(["/home/user", "/tmp", "/srv/logs"])
        else:
            if rng.random() < 0.42:
                branch = "main"
            else:
                branch = f"{rng.choice(['feat', 'fix', 'chore'])}/{slug}"
            worktree = "main" if branch == "main" else slug
            name = f"ccmgr-{project}-{worktree}-{branch.replace('/', '_')}"
            if branch == "main":
                name += f"-{slug}"
            directory = f"/home/user/code/{project}"
            if worktree != "main":
                directory += f"/.worktrees/{worktree}"
        if i == n // 2:
            name += "-zanzibar"
        created = NOW - timedelta(seconds=span * (1 - i / n) + rng.randint(0, 3600))
        last = min(NOW, created + timedelta(seconds=int(rng.random() ** 4 * 40 * 86400)))
        q = rng.random()
        status = "attached" if q < 0.0005 else "detached" if q < 0.002 else "ended"
        out.append(
            (
                f"{i:08x}{rng.getrandbits(32):08x}",
                name,
                project,
                worktree,
                branch,
                directory,
                created.strftime(fmt),
                last.strftime(fmt),
                last.strftime(fmt),
                "{}",
                status,
                None if status != "ended" else last.strftime(fmt),
            )
        )
    return out


def build_dense(path: Path, n: int) -> dict[str, Any]:
    """Create the dense database of ``n`` sessions (no events: only search reads it)."""
    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    migrate_sync(tmp, 1)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, metadata, status, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        _dense_sessions(n),
    )
    conn.execute("COMMIT")
    conn.close()
    migrated = time.perf_counter()
    migrate_sync(tmp)
    migrate_seconds = time.perf_counter() - migrated
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("ANALYZE")
    conn.execute("INSERT INTO sessions_fts (sessions_fts) VALUES ('optimize')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return {
        "build_seconds": round(time.perf_counter() - started, 1),
        "migrate_seconds": round(migrate_seconds, 1),
    }


def upgrade_dense(old: Path, path: Path) -> dict[str, Any] | None:
    """``path`` as a copy of the version-1 database ``old`` (the same sessions) migrated to the
    latest schema, if ``old`` exists (``old`` is only read); None otherwise."""
    import shutil

    if not old.exists():
        return None
    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    shutil.copyfile(old, tmp)
    migrated = time.perf_counter()
    migrate_sync(tmp)
    migrate_seconds = time.perf_counter() - migrated
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    return {
        "upgraded_from": old.name,
        "build_seconds": round(time.perf_counter() - started, 1),
        "migrate_seconds": round(migrate_seconds, 1),
    }


_DENSE_ORDER = {
    "recent": "s.last_access DESC, s.rowid DESC",
    "created": "s.created_at DESC, s.rowid DESC",
    "name": "s.name COLLATE NOCASE ASC, s.last_access DESC, s.rowid DESC",
}
DENSE_SORTS = ("relevance", "recent", "created", "name")


def dense_shapes() -> list[dict[str, Any]]:
    """Each shape: query text, its FTS MATCH and other filters for the hand-written SQL, the
    LIKE words and filters; ``wide``: the 30 ms target (OR, NOT)."""

    def shape(
        name: str,
        query: str,
        match: str | None,
        words: list[str],
        where: str = "",
        params: list[Any] | None = None,
        like_where: str | None = None,
        wide: bool = False,
    ) -> dict[str, Any]:
        return {
            "shape": name,
            "query": query,
            "match": match,
            "words": words,
            "where": where,
            "params": params or [],
            "like_where": where if like_where is None else like_where,
            "wide": wide,
        }

    project = "s.project = ? COLLATE NOCASE"
    return [
        shape("word_50pct", "auth", '"auth"*', ["auth"]),
        shape("word_main_40pct", "main", '"main"*', ["main"]),
        shape("word_project_30pct", "myapp", '"myapp"*', ["myapp"]),
        shape("word_5pct", "api", '"api"*', ["api"]),
        shape("word_1pct", "cache", '"cache"*', ["cache"]),
        shape("word_0.1pct", "billing", '"billing"*', ["billing"]),
        shape("word_one_session", "zanzibar", '"zanzibar"*', ["zanzibar"]),
        shape("prefix_1", "a", '"a"*', ["a"]),
        shape("prefix_2", "au", '"au"*', ["au"]),
        shape("prefix_3", "aut", '"aut"*', ["aut"]),
        shape("prefix_1_m", "m", '"m"*', ["m"]),
        shape("phrase", '"auth login"', '"auth login"', ["auth-login"]),
        shape("and_dense", "auth login", '("auth"*) AND ("login"*)', ["auth", "login"]),
        shape("or_dense", "auth OR login", '("auth"*) OR ("login"*)', [], wide=True),
        shape("not_dense", "auth -login", '(("auth"*)) NOT (("login"*))', ["auth"], wide=True),
        shape(
            "dense_word_selective_filter",
            "auth project:tinyproj",
            '"auth"*',
            ["auth"],
            project,
            ["tinyproj"],
        ),
        shape(
            "rare_word_dense_filter",
            "billing project:myapp",
            '"billing"*',
            ["billing"],
            project,
            ["myapp"],
        ),
        shape(
            "dense_word_dense_filters",
            "auth project:myapp branch:main",
            '"auth"*',
            ["auth"],
            f"{project} AND s.branch = ? COLLATE NOCASE",
            ["myapp", "main"],
        ),
        shape(
            "dense_word_status_active",
            "auth status:active",
            '"auth"*',
            ["auth"],
            "s.status IN ('attached', 'detached')",
        ),
        shape("qualifier_dense", "project:myapp", None, [], project, ["myapp"]),
        shape(
            "qualifier_status_active",
            "status:active",
            None,
            [],
            "s.status IN ('attached', 'detached')",
        ),
        shape("qualifier_status_ended", "status:ended", None, [], "s.status = 'ended'"),
        shape(
            "qualifier_branch_main",
            "branch:main",
            None,
            [],
            "s.branch = ? COLLATE NOCASE",
            ["main"],
        ),
        # Relevance with a filter (fifth round): dense filters, a word in 1 % with a selective
        # one, a negated status, phrases and NOT beside one, an AND of two short prefixes.
        shape("word_dense_project", "auth project:myapp", '"auth"*', ["auth"], project, ["myapp"]),
        shape(
            "word_dense_branch",
            "auth branch:main",
            '"auth"*',
            ["auth"],
            "s.branch = ? COLLATE NOCASE",
            ["main"],
        ),
        # A project in ~0.5 % of the sessions (too many to count, few of the newest matches).
        shape(
            "word_mid_project",
            "auth project:isxecoru-faguka",
            '"auth"*',
            ["auth"],
            project,
            ["isxecoru-faguka"],
        ),
        shape("prefix_w1", "w1*", '"w1"*', ["w1"]),
        shape("and_prefixes", "a b", '("a"*) AND ("b"*)', ["a", "b"]),
        shape(
            "word_1pct_status_active",
            "cache status:active",
            '"cache"*',
            ["cache"],
            "s.status IN ('attached', 'detached')",
        ),
        shape("word_not_ended", "auth -status:ended", '"auth"*', ["auth"], "s.status != 'ended'"),
        shape(
            "phrase_status_active",
            '"auth login" status:active',
            '"auth login"',
            ["auth-login"],
            "s.status IN ('attached', 'detached')",
        ),
        shape(
            "not_status_active",
            "auth -login status:active",
            '(("auth"*)) NOT (("login"*))',
            ["auth"],
            "s.status IN ('attached', 'detached')",
            wide=True,
        ),
        # Time windows (sixth round): a dense word with since:/until: windows of the old
        # sessions keeping ~0.1 %, ~1 % and ~10 % of them (their newest matches pass none),
        # a week in the middle (~1 %), the last day (~1.3 %), a word in 1 % with the old 10 %.
        *(
            shape(name, f"{word} {window}", f'"{word}"*', [word], where, list(params))
            for name, word, window, where, params in _window_shapes()
        ),
        # ninth round: a window beside a filter (a project in 30 %, the branch main in 40 %,
        # the ended sessions), windows in the past (none of the newest matches pass them)
        # and one open towards now, a dense and a rare word, a one-letter prefix.
        *(
            shape(name, f"{word} {window} {other}", f'"{word}"*', [word], where, list(params))
            for name, word, window, other, where, params in _beside_shapes()
        ),
        # Words ORed with a filter, a word in every branch (ranked within the window since
        # the sixth round; "hand" here is the filter alone, sorted, as a baseline).
        shape(
            "or_words_filter",
            "auth OR (login status:active)",
            None,
            [],
            "(s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH '\"auth\"*') "
            "OR (s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH '\"login\"*') "
            "AND s.status IN ('attached', 'detached')))",
            wide=True,
        ),
        # Seventh round: ORs with a filter whose word branch is rare or absent, an alive
        # status beside a dense project, a word in 1 % in a project in 30 %.
        shape(
            "or_rare_word_filter",
            "zanzibar OR (auth status:active)",
            None,
            [],
            "(s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH "
            "'\"zanzibar\"*') OR (s.rowid IN (SELECT rowid FROM sessions_fts WHERE "
            "sessions_fts MATCH '\"auth\"*') AND s.status IN ('attached', 'detached')))",
            wide=True,
        ),
        shape(
            "or_word_qualifier",
            "auth OR project:myapp",
            None,
            [],
            "(s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH '\"auth\"*') "
            "OR s.project = ? COLLATE NOCASE)",
            ["myapp"],
            wide=True,
        ),
        shape(
            "word_project_status_active",
            "auth project:myapp status:active",
            '"auth"*',
            ["auth"],
            f"{project} AND s.status IN ('attached', 'detached')",
            ["myapp"],
        ),
        shape(
            "word_1pct_dense_project",
            "cache project:myapp",
            '"cache"*',
            ["cache"],
            project,
            ["myapp"],
        ),
        # Eighth round: an exact field's value as a column phrase of the MATCH (phrase_scored),
        # with a project in 0.5 %: a word in 1 %, one- and two-letter prefixes.
        shape(
            "word_1pct_mid_project",
            "cache project:isxecoru-faguka",
            '"cache"*',
            ["cache"],
            project,
            ["isxecoru-faguka"],
        ),
        shape(
            "prefix_1_mid_project",
            "a project:isxecoru-faguka",
            '"a"*',
            ["a"],
            project,
            ["isxecoru-faguka"],
        ),
        shape(
            "prefix_2_mid_project",
            "au project:isxecoru-faguka",
            '"au"*',
            ["au"],
            project,
            ["isxecoru-faguka"],
        ),
        # Windows of filters alone (eighth round: window_created walks from their end).
        *(
            shape(
                f"qualifier_{name.removeprefix('window_')}", window, None, [], where, list(params)
            )
            for name, _, window, where, params in _window_shapes()
            if name in ("window_old_10pct", "window_mid_1pct")
        ),
        shape(
            "qualifier_status_ended_window",
            "status:ended until:2025-02-11",
            None,
            [],
            "s.status = 'ended' AND s.last_access <= ?",
            ["2025-02-11T23:59:59.999999Z"],
        ),
        # Filters alone (eighth round): a prefix of the name most sessions share, beside a
        # status, and a project in 0.5 % beside the branch main.
        shape("qualifier_name_prefix", "name:ccmgr-*", None, [], "s.name LIKE ?", ["ccmgr-%"]),
        shape(
            "qualifiers_prefix_status",
            "name:ccmgr-* status:ended",
            None,
            [],
            "s.name LIKE ? AND s.status = 'ended'",
            ["ccmgr-%"],
        ),
        shape(
            "qualifiers_mid_project_branch",
            "project:isxecoru-faguka branch:main",
            None,
            [],
            f"{project} AND s.branch = ? COLLATE NOCASE",
            ["isxecoru-faguka", "main"],
        ),
        # Ninth round: a project's prefix keeping ~0.7 % (7,415 of 1 M: too many for the first
        # count, few in the sort order), alone and beside a status.
        shape("qualifier_mid_prefix", "project:isx*", None, [], "s.project LIKE ?", ["isx%"]),
        shape(
            "qualifiers_mid_prefix_status",
            "project:isx* status:ended",
            None,
            [],
            "s.project LIKE ? AND s.status = 'ended'",
            ["isx%"],
        ),
        # Ninth round: a worktree in 40 % of the sessions, its names bunched in A-Z.
        shape(
            "qualifier_worktree_main",
            "worktree:main",
            None,
            [],
            "s.worktree = ? COLLATE NOCASE",
            ["main"],
        ),
        # Ninth round: a window in the past beside the home most sessions run in (walks of the
        # recent order start at its end), words all negated beside a status and a window, a
        # word no session holds beside a dense worktree (known_first).
        shape(
            "word_window_dir_home",
            "auth until:2025-06-01 dir:/home/user",
            '"auth"*',
            ["auth"],
            "s.last_access <= ? AND (s.directory = ? OR (s.directory >= ? AND s.directory < ?))",
            ["2025-06-01T23:59:59.999999Z", "/home/user", "/home/user/", "/home/user0"],
        ),
        shape(
            "qualifier_window_dir_home",
            "until:2025-06-01 dir:/home/user",
            None,
            [],
            "s.last_access <= ? AND (s.directory = ? OR (s.directory >= ? AND s.directory < ?))",
            ["2025-06-01T23:59:59.999999Z", "/home/user", "/home/user/", "/home/user0"],
        ),
        shape(
            "not_word_window_ended",
            "-api until:2025-06-01 status:ended",
            None,
            [],
            "s.rowid NOT IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH "
            "'\"api\"*') AND s.last_access <= ? AND s.status = 'ended'",
            ["2025-06-01T23:59:59.999999Z"],
            wide=True,
        ),
        shape(
            "word_none_dense_worktree",
            "db worktree:main",
            '"db"*',
            ["db"],
            "s.worktree = ? COLLATE NOCASE",
            ["main"],
        ),
        # Ninth round: words beside a project's prefix (0.7 %): a word the prefix's sessions
        # never hold (myapp, 30 %), a word in half of all sessions.
        shape(
            "word_none_in_prefix",
            "myapp project:isx*",
            '"myapp"*',
            ["myapp"],
            "s.project LIKE ?",
            ["isx%"],
        ),
        shape(
            "word_dense_prefix",
            "auth project:isx*",
            '"auth"*',
            ["auth"],
            "s.project LIKE ?",
            ["isx%"],
        ),
        # Ninth round: four words typed, the last a prefix: an AND whose words are dense but
        # together rare (22 of 1 M sessions), one of 0.6 %, one-letter prefixes (0.2 %).
        shape(
            "and_four_sparse",
            "auth api cache d",
            '("auth"*) AND ("api"*) AND ("cache"*) AND ("d"*)',
            ["auth", "api", "cache", "d"],
        ),
        shape(
            "and_four_mid",
            "auth login api c",
            '("auth"*) AND ("login"*) AND ("api"*) AND ("c"*)',
            ["auth", "login", "api", "c"],
        ),
        shape(
            "and_four_prefixes",
            "a b c d",
            '("a"*) AND ("b"*) AND ("c"*) AND ("d"*)',
            ["a", "b", "c", "d"],
        ),
        # A folder (eighth round: its index counted): the home most sessions run in, and a
        # project's folder (~0.1 %) beside a dense word.
        shape(
            "qualifier_dir_home",
            "dir:/home/user",
            None,
            [],
            "(s.directory = ? OR (s.directory >= ? AND s.directory < ?))",
            ["/home/user", "/home/user/", "/home/user0"],
        ),
        shape(
            "word_project_dir",
            "auth dir:/home/user/code/ancozu-zupiru",
            '"auth"*',
            ["auth"],
            "(s.directory = ? OR (s.directory >= ? AND s.directory < ?))",
            [
                "/home/user/code/ancozu-zupiru",
                "/home/user/code/ancozu-zupiru/",
                "/home/user/code/ancozu-zupiru0",
            ],
        ),
        # Negated words alone beside a project (eighth round: the planner's pass rate).
        *(
            shape(
                f"not_word_{size}_project",
                f"-auth project:{value}",
                None,
                [],
                "s.rowid NOT IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH "
                f"'\"auth\"*') AND {project}",
                [value],
                wide=True,
            )
            for size, value in (("dense", "myapp"), ("mid", "isxecoru-faguka"))
        ),
        shape("empty", "", None, []),
        # ninth round: negated words by name and created (names start with their project's:
        # the sessions without an a-word come after every project starting with "a").
        *(
            shape(
                name,
                query,
                None,
                [],
                "s.rowid NOT IN (SELECT rowid FROM sessions_fts WHERE sessions_fts "
                f"MATCH '{words}')" + filters,
                values,
                wide=True,
            )
            for name, query, words, filters, values in (
                ("not_prefix_1", "-a", '"a"*', "", []),
                ("not_prefix_1_and_1", "-a -b", '("a"*) OR ("b"*)', "", []),
                (
                    "not_prefix_1_dense_project",
                    "-a project:myapp",
                    '"a"*',
                    f" AND {project}",
                    ["myapp"],
                ),
                (
                    "not_word_dense_project_branch",
                    "-auth project:myapp branch:main",
                    '"auth"*',
                    f" AND {project} AND s.branch = ? COLLATE NOCASE",
                    ["myapp", "main"],
                ),
                (
                    "not_words_mid_project",
                    "-auth -login project:isxecoru-faguka",
                    '("auth"*) OR ("login"*)',
                    f" AND {project}",
                    ["isxecoru-faguka"],
                ),
            )
        ),
    ]


def _window_shapes() -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """The time-window shapes: name, word, window, the hand-written SQL's filter and params
    (UTC days: the benchmark's machine runs in UTC, as the parser's local days)."""
    until, between = "s.last_access <= ?", "s.last_access >= ? AND s.last_access <= ?"
    end, start = "T23:59:59.999999Z", "T00:00:00.000000Z"
    return [
        ("window_old_0.1pct", "auth", "until:2024-11-27", until, (f"2024-11-27{end}",)),
        ("window_old_1pct", "auth", "until:2024-12-07", until, (f"2024-12-07{end}",)),
        ("window_old_10pct", "auth", "until:2025-02-11", until, (f"2025-02-11{end}",)),
        (
            "window_mid_1pct",
            "auth",
            "since:2025-06-01 until:2025-06-07",
            between,
            (f"2025-06-01{start}", f"2025-06-07{end}"),
        ),
        (
            "window_last_day",
            "auth",
            "since:2026-11-25",
            "s.last_access >= ?",
            (f"2026-11-25{start}",),
        ),
        ("word_1pct_window_old_10pct", "cache", "until:2025-02-11", until, (f"2025-02-11{end}",)),
    ]


def _beside_shapes() -> list[tuple[str, str, str, str, str, tuple[str, ...]]]:
    """The ninth round's shapes, a window beside another filter: name, word, window, the
    other filter, the hand-written SQL's filter and params."""
    until = "s.last_access <= ?"
    end, start = "T23:59:59.999999Z", "T00:00:00.000000Z"
    june = (f"2025-06-01{end}",)
    project, branch = "s.project = ? COLLATE NOCASE", "s.branch = ? COLLATE NOCASE"
    ended = "s.status = 'ended'"
    month = "s.last_access >= ? AND s.last_access <= ?"
    return [
        ("window_old_25pct_project", "auth", "until:2025-06-01", "project:myapp",
         f"{until} AND {project}", (*june, "myapp")),
        ("window_old_25pct_branch", "auth", "until:2025-06-01", "branch:main",
         f"{until} AND {branch}", (*june, "main")),
        ("window_old_25pct_status", "auth", "until:2025-06-01", "status:ended",
         f"{until} AND {ended}", june),
        ("word_1pct_window_old_project", "cache", "until:2025-06-01", "project:myapp",
         f"{until} AND {project}", (*june, "myapp")),
        ("word_1pct_window_old_status", "cache", "until:2025-06-01", "status:ended",
         f"{until} AND {ended}", june),
        ("prefix_1_window_old_project", "a", "until:2025-06-01", "project:myapp",
         f"{until} AND {project}", (*june, "myapp")),
        ("window_month_project", "auth", "since:2026-01-01 until:2026-02-01", "project:myapp",
         f"{month} AND {project}", (f"2026-01-01{start}", f"2026-02-01{end}", "myapp")),
        ("window_mid_1pct_status", "auth", "since:2025-06-01 until:2025-06-07", "status:ended",
         f"{month} AND {ended}", (f"2025-06-01{start}", f"2025-06-07{end}")),
        ("window_new_project", "auth", "since:2026-11-01", "project:myapp",
         f"s.last_access >= ? AND {project}", (f"2026-11-01{start}", "myapp")),
    ]  # fmt: skip


def _dense_hand(shape: dict[str, Any], sort: str) -> tuple[str, list[Any]]:
    """Hand-written FTS SQL for ``shape``: exact bm25 over every match, or the sort."""
    match, where, params = shape["match"], shape["where"], shape["params"]
    order = _DENSE_ORDER["recent" if sort == "relevance" else sort]
    if match is None:
        clause = f"WHERE {where} " if where else ""
        return f"SELECT {COLS} FROM sessions s {clause}ORDER BY {order} LIMIT 20", list(params)
    if sort == "relevance":
        sql = _RANK_JOIN.format(cols=COLS, w=W, where=f"WHERE {where} " if where else "")
        return sql, [match, *params]
    clause = f" AND {where}" if where else ""
    return (
        f"SELECT {COLS} FROM sessions s WHERE {_FTS_IN}{clause} ORDER BY {order} LIMIT 20",
        [match, *params],
    )


def _dense_like(shape: dict[str, Any], sort: str) -> tuple[str, list[Any]]:
    """ccmgr-ultra's approach: LIKE '%word%' over four fields (OR: either word)."""
    order = _DENSE_ORDER["recent" if sort == "relevance" else sort]
    if shape["shape"] == "or_dense":
        l1, p1 = _like_words(["auth"])
        l2, p2 = _like_words(["login"])
        clauses, params = [f"(({l1}) OR ({l2}))"], p1 + p2
    elif shape["words"]:
        lw, lp = _like_words(shape["words"])
        clauses, params = [lw], lp
        if shape["shape"] == "not_dense":
            nw, np_ = _like_words(["login"])
            clauses.append(f"NOT ({nw})")
            params += np_
    else:
        clauses, params = [], []
    if shape["like_where"]:
        clauses.append(shape["like_where"])
        params += shape["params"]
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    return f"SELECT {COLS} FROM sessions s {where}ORDER BY {order} LIMIT 20", params


def bench_dense_size(path: Path, repeat: int, *, baselines: bool) -> dict[str, Any]:
    """Every dense shape in every sort: compiled (what store.search runs), and, for relevance
    and recent, the hand-written FTS SQL and the LIKE scan (fewer repetitions: they are slow)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    results: dict[str, Any] = {}
    for shape in dense_shapes():
        for sort in DENSE_SORTS:
            query = compile_query(parse_query(shape["query"], now=NOW), sort=sort)  # type: ignore[arg-type]

            def compiled(query: Any = query) -> list[Any]:
                return rows_sync(conn, query)

            rows = compiled()
            timings: dict[str, Any] = _interleaved({"compiled": compiled}, repeat)
            entry: dict[str, Any] = {
                "query": shape["query"],
                "plan": plan_sync(conn, query).name,
                "rows": len(rows),
                **timings,
            }
            if baselines and sort in ("relevance", "recent"):
                hand_sql, hand_params = _dense_hand(shape, sort)
                like_sql, like_params = _dense_like(shape, sort)
                few = max(3, repeat // 10)
                entry["hand"] = _interleaved(
                    {"h": lambda s=hand_sql, p=hand_params: conn.execute(s, p).fetchall()}, few
                )["h"]
                entry["like"] = _interleaved(
                    {"l": lambda s=like_sql, p=like_params: conn.execute(s, p).fetchall()}, few
                )["l"]
                hand_ids = [r[0] for r in conn.execute(hand_sql, hand_params)]
                entry["same_as_hand"] = [r[0] for r in rows] == hand_ids
            cap = 30.0 if shape["wide"] else 15.0
            entry["target_ms"] = cap
            entry["target_met"] = entry["compiled"]["p95_ms"] < cap
            results[f"{shape['shape']}/{sort}"] = entry
    conn.close()
    return results


def bench_dense_process(path: Path, repeat: int) -> dict[str, Any]:
    """``ccmgr-watch query ... --json`` beside a minimal python running the chosen plan's SQL."""
    import compileall

    for package in ("store", "watcher"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    cli = Path(sys.executable).with_name("ccmgr-watch")
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    out: dict[str, Any] = {}
    for text in ("auth", "auth project:tinyproj", "a", "zanzibar"):
        query = compile_query(parse_query(text, now=NOW))
        with sqlite3.connect(path) as conn:
            plan = plan_sync(conn, query)
        argvs = {
            "ccmgr_watch_query_json": [str(cli), "query", text, "--json", "--db", str(path)],
            "minimal_python_c": [
                sys.executable,
                "-c",
                _MINIMAL,
                str(path),
                plan.sql,
                json.dumps(list(plan.params)),
            ],
        }

        def runner(argv: list[str]) -> Any:
            def run() -> None:
                done = subprocess.run(argv, capture_output=True, env=env, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"{argv[:3]} failed: {done.stderr.decode()[-500:]}")

            return run

        timings: dict[str, Any] = dict(
            _interleaved({k: runner(v) for k, v in argvs.items()}, repeat)
        )
        timings["ratio_p50"] = round(
            timings["ccmgr_watch_query_json"]["p50_ms"] / timings["minimal_python_c"]["p50_ms"], 2
        )
        timings["within_2x"] = timings["ratio_p50"] <= 2.0
        out[text] = timings
    return out


# --- the whole process ----

_MINIMAL = (
    "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "rows = c.execute(sys.argv[2], json.loads(sys.argv[3])).fetchall(); "
    "print(json.dumps([list(r) for r in rows], indent=2))"
)


def bench_process(path: Path, repeat: int) -> dict[str, Any]:
    """The whole ``ccmgr-watch query --json`` process beside ``python3 -c`` with the same SQL."""
    import compileall

    # An installed package has its .pyc files; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module on every start. Compare like with like.
    for package in ("store", "watcher"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    cli = Path(sys.executable).with_name("ccmgr-watch")
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    out: dict[str, Any] = {}
    for text in ("auth project:myapp since:30d", "auth", "status:active"):
        query = compile_query(parse_query(text, now=NOW))
        with sqlite3.connect(path) as conn:
            plan = plan_sync(conn, query)
            sql, params = plan.sql, plan.params
        argvs = {
            "ccmgr_watch_query_json": [str(cli), "query", text, "--json", "--db", str(path)],
            "minimal_python_c": [
                sys.executable,
                "-c",
                _MINIMAL,
                str(path),
                sql,
                json.dumps(list(params)),
            ],
            "python_startup_only": [sys.executable, "-c", "pass"],
        }

        def runner(argv: list[str]) -> Any:
            def run() -> None:
                done = subprocess.run(argv, capture_output=True, env=env, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"{argv[:3]} failed: {done.stderr.decode()[-500:]}")

            return run

        timings: dict[str, Any] = dict(
            _interleaved({k: runner(v) for k, v in argvs.items()}, repeat)
        )
        timings["ratio_p50"] = round(
            timings["ccmgr_watch_query_json"]["p50_ms"] / timings["minimal_python_c"]["p50_ms"], 2
        )
        out[text] = timings
    return out


# --- targets ----


def _targets(size: int, results: dict[str, Any], *, extra: bool = False) -> dict[str, Any]:
    """Met/missed per shape: the issue's shapes, or (``extra``) the ones added beside them."""
    limit = 5.0 if size <= 10_000 else 20.0 if size >= 1_000_000 else None
    verdicts: dict[str, Any] = {}
    for shape, entry in results.items():
        if bool(entry.get("extra")) != extra:
            continue
        p95 = entry["compiled"]["p95_ms"]
        if limit is not None:
            cap = 50.0 if (size >= 1_000_000 and shape in ("or", "not")) else limit
            verdicts[f"{shape}_p95_under_{cap:g}ms"] = p95 < cap
        # Sub-0.2 ms differences are timer noise; within 1.5x or within 0.2 ms counts as met.
        diff = entry["compiled"]["p50_ms"] - entry["hand"]["p50_ms"]
        verdicts[f"{shape}_within_1.5x_of_hand"] = (
            entry["compiled_vs_hand_p50"] <= 1.5 or diff < 0.2
        )
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="10k and 100k, fewer repetitions")
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    parser.add_argument(
        "--process-only",
        action="store_true",
        help="only the whole-process comparison, at the smallest size",
    )
    parser.add_argument(
        "--dataset",
        choices=("realistic", "dense", "both"),
        default="both",
        help="realistic: the original sessions; dense: words in half of all sessions (issue 11)",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="dense: skip the hand-written SQL and LIKE (slow on dense words)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.quick and args.sizes == parser.get_default("sizes"):
        sizes = [10_000, 100_000]
    repeat = 15 if args.quick else 60
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "repeat": repeat,
        "sizes": {},
        "targets_met": True,
        "notes": [
            "times in ms; compiled and hand-written SQL take turns in shuffled order; the LIKE "
            "scan is timed on its own (it leaves the caches cold for whatever runs next)",
            "compiled = what ccmgr-watch runs: the planner's bounded reads, the plan it chose "
            "(plan), and a walk's fallback; parse_and_compile = the Python side, alone",
            "relevance ranks the newest 1,000 matches (docs/search.md); the hand-written SQL "
            "ranks every match (fts_matches says how many), so same_as_hand is false past 1,000",
            "within_1.5x_of_hand counts as met below a 0.2 ms difference (timer noise)",
            "hand_naive_join: FTS joined with the filters, the shape the performance notes warn "
            "about; SQLite's plan for it wins when the filters are very selective",
            "hand = SQLite's free choice of join order; compiled always scans the full-text "
            "matches first (bounded, never one full-text query per row). words_project_big, "
            "words_since_all, words_status_active: filters that keep most matches. "
            "words_name_exact (not in the targets): an index picks out a handful of rows, where "
            "SQLite's free choice wins",
        ],
    }
    realistic = args.dataset in ("realistic", "both")
    for size in sizes if realistic else []:
        path = workdir / f"sessions-{size}-v{GENERATOR_VERSION}.db"
        built: dict[str, Any] = {"reused": True}
        if not path.exists():
            built = build(path, size)
        if args.process_only:
            if size == min(sizes):
                report["sizes"][str(size)] = {"database": built}
            continue
        results = bench_size(path, repeat if size < 1_000_000 else max(15, repeat // 2))
        verdicts = _targets(size, results)
        report["sizes"][str(size)] = {
            "database": built,
            "shapes": results,
            "targets": verdicts,
            "extra_shapes_not_in_targets": _targets(size, results, extra=True),
        }
        report["targets_met"] &= all(verdicts.values())
        print(f"{size}: done", file=sys.stderr)
    if realistic:
        small = min(sizes)
        process = bench_process(
            workdir / f"sessions-{small}-v{GENERATOR_VERSION}.db", 10 if args.quick else 25
        )
        process_ok = all(v["ratio_p50"] <= 2.0 for v in process.values())
        report["process"] = {"size": small, **process, "target_within_2x": process_ok}
        report["targets_met"] &= process_ok
    if args.dataset in ("dense", "both"):
        dense: dict[str, Any] = {"sizes": {}}
        for size in sizes:
            path = workdir / f"dense-{size}-v{DENSE_VERSION}.db"
            built = {"reused": True}
            if not path.exists():
                built = upgrade_dense(workdir / f"dense-{size}-v1.db", path) or build_dense(
                    path, size
                )
            if args.process_only:
                continue
            results = bench_dense_size(path, repeat // 2, baselines=not args.no_baselines)
            missed = [name for name, entry in results.items() if not entry["target_met"]]
            dense["sizes"][str(size)] = {
                "database": built,
                "shapes": results,
                "targets_missed": missed,
            }
            report["targets_met"] &= not missed
            print(f"dense {size}: done", file=sys.stderr)
        big = max(sizes)
        process = bench_dense_process(
            workdir / f"dense-{big}-v{DENSE_VERSION}.db", 10 if args.quick else 20
        )
        dense["process"] = {"size": big, **process}
        report["targets_met"] &= all(v["within_2x"] for v in process.values())
        report["dense"] = dense
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
