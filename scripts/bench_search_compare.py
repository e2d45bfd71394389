#!/usr/bin/env python3
"""Search before and after a change, in the same run: the dense shapes of bench_search.py, each
timed through ``store.search.rows_sync`` of two source trees (this one and ``--before``, e.g.
a worktree of main), taking turns, on the same cached dense database.

    .venv/bin/python scripts/bench_search_compare.py --before /work/main [--size 1000000]
        [--repeat 11] [--shapes status,cache] [--sorts name,created] [--db PATH]
        [--extra QUERY ...]

``--random N`` adds N composed queries drawn from a fixed ``--seed`` (words, one- and
two-letter prefixes, fields and wildcards, windows, negations, ORs of them, one to five
parts: what the benchmark's shapes do not compose), and a summary of both trees over all pairs
(how many over 15 and 100 ms p50, the median, how many faster or slower by 1.5× and 3 ms):

    .venv/bin/python scripts/bench_search_compare.py --before /work/main --size 1000000 \
        --shapes none --random 150 --seed 1 --repeat 3

Prints one JSON object: per shape and sort, each tree's plan, wall p50/p95 (ms, under whatever
load the machine has: `uptime` is recorded) and CPU per query (process time, min of the runs:
what load does not change), and whether both returned the same rows. The databases are
bench_search.py's (built there; read-only here); ``--db`` names another (a copy migrated to a
newer schema: the cached files stay as they are), ``--extra`` adds queries to the shapes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _store_modules() -> dict[str, Any]:
    return {n: m for n, m in sys.modules.items() if n == "store" or n.startswith("store.")}


def _load(root: Path) -> tuple[Any, Any, Any, Any, Any]:
    """compile_query, parse_query, rows_sync, plan_sync, open_reader from the tree at ``root``, each
    running with that tree's ``store`` modules in ``sys.modules`` (the search modules import
    some of theirs when first called, e.g. store.query.alive: without this a tree would get
    the other's, whose classes its own isinstance tests do not know)."""
    for name in _store_modules():
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        from store.query import compile_query, parse_query
        from store.reads import open_reader
        from store.search import plan_sync, rows_sync

        # Every module of the tree's store/query and store/*.py, imported now.
        for path in sorted((root / "store").glob("*.py")) + sorted(
            (root / "store" / "query").glob("*.py")
        ):
            relative = path.relative_to(root).with_suffix("")
            if relative.name != "__init__":
                # An optional dependency may be missing (e.g. the PostgreSQL driver).
                with contextlib.suppress(ImportError):
                    importlib.import_module(".".join(relative.parts))
    finally:
        sys.path.remove(str(root))
    modules = _store_modules()

    def bound(function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            for name in _store_modules():
                del sys.modules[name]
            sys.modules.update(modules)
            return function(*args, **kwargs)

        return call

    return (
        bound(compile_query),
        bound(parse_query),
        bound(rows_sync),
        bound(plan_sync),
        bound(open_reader),
    )


# The random queries' parts (bench_search's dense data set: its words, projects, branches,
# folders and the windows its two years of sessions span).
_WORDS = (
    *("auth", "login", "api", "cache", "billing", "zanzibar", "myapp", "webshop", "infra"),
    *("main", "fix", "feat", "web", "a", "m", "c", "w", "d", "au", "lo", "ma", "fe", "ca"),
    *("ka", "lomi", '"auth login"', '"main"', "code", "home", "chore", "tinyproj"),
)
_FIELDS = (
    *("project:myapp", "project:isx*", "project:tinyproj", "project:web*", "branch:main"),
    *("branch:feat*", "branch:fix/*", "worktree:main", "status:active", "status:ended"),
    *("since:1w", "since:30d", "until:2025-06-01", "since:2025-01-01", "dir:/home/user"),
    *("dir:/home/user/code/myapp", "project:infra", "branch:chore*"),
)


def random_queries(count: int, seed: int) -> list[str]:
    """``count`` composed queries, the same for the same ``seed``."""
    import random

    rng = random.Random(seed)

    def part() -> str:
        draw = rng.random()
        if draw >= 0.9:
            return f"({part()} OR {part()})"
        text = rng.choice(_WORDS) if draw < 0.55 else rng.choice(_FIELDS)
        return "-" + text if rng.random() < 0.15 else text

    queries = []
    for _ in range(count):
        parts = [part() for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5)))]
        if all(p.startswith("-") for p in parts):
            parts.append(rng.choice(_WORDS))
        queries.append(" ".join(parts))
    return queries


def summary(pairs: dict[str, Any]) -> dict[str, Any]:
    """Both trees over all pairs: how many over 15 and 100 ms (p50), the median p50, and how
    many pairs each is faster in by more than 1.5× and 3 ms."""
    out: dict[str, Any] = {"pairs": len(pairs)}
    for name in ("before", "after"):
        p50s = [entry[name]["p50_ms"] for entry in pairs.values()]
        out[name] = {
            "over_15ms": sum(p > 15 for p in p50s),
            "over_100ms": sum(p > 100 for p in p50s),
            "median_p50_ms": round(statistics.median(p50s), 2) if p50s else None,
        }

    def faster(a: str, b: str) -> int:
        return sum(entry[b]["p50_ms"] > 1.5 * entry[a]["p50_ms"] + 3 for entry in pairs.values())

    out["after_faster"] = faster("after", "before")
    out["after_slower"] = faster("before", "after")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the other source tree (e.g. main)")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--shapes", default="", help="substrings of shape names (default all)")
    parser.add_argument("--sorts", default="relevance,recent,created,name")
    parser.add_argument(
        "--skip", default="", help="shape/sort pairs to leave out (e.g. a before tree's minutes)"
    )
    parser.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "ccmgr-watch-bench")
    )
    parser.add_argument("--db", help="the database (default: the cached one of --size)")
    parser.add_argument("--extra", action="append", default=[], help="one more query (repeat)")
    parser.add_argument("--random", type=int, default=0, help="N random composed queries too")
    parser.add_argument("--seed", type=int, default=1, help="the random queries' seed")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_search import DENSE_VERSION, NOW, dense_shapes

    trees = {"before": _load(Path(args.before)), "after": _load(ROOT)}
    path = Path(args.db or Path(args.workdir) / f"dense-{args.size}-v{DENSE_VERSION}.db")
    # Each tree reads through its own connection, opened as the CLI opens it (its own
    # store.reads.open_reader: its pragmas are part of what is measured), each with its own
    # page cache.
    conns = {name: tree[4](str(path)) for name, tree in trees.items()}
    wanted = [s for s in args.shapes.split(",") if s]
    report: dict[str, Any] = {
        "size": args.size,
        "db": str(path),
        "uptime_before": os.getloadavg(),
        "shapes": {},
    }
    extra = [{"shape": f"extra:{query}", "query": query} for query in args.extra]
    extra += [
        {"shape": f"random:{query}", "query": query}
        for query in dict.fromkeys(random_queries(args.random, args.seed))
    ]
    for shape in [*dense_shapes(), *extra]:
        chosen = shape["shape"].startswith(("extra:", "random:")) or any(
            w in shape["shape"] for w in wanted
        )
        if wanted and not chosen:
            continue
        for sort in args.sorts.split(","):
            if f"{shape['shape']}/{sort}" in args.skip.split(","):
                continue
            runs = {}
            for name, (compile_query, parse_query, rows_sync, plan_sync, _) in trees.items():
                query = compile_query(parse_query(shape["query"], now=NOW), sort=sort)
                runs[name] = (query, rows_sync, plan_sync(conns[name], query).name)
            ids = {
                name: [r[0] for r in rows(conns[name], q)] for name, (q, rows, _) in runs.items()
            }
            wall: dict[str, list[float]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            for turn in range(args.repeat):
                for name in sorted(runs, reverse=turn % 2 == 1):  # take turns, both orders
                    query, rows, _ = runs[name]
                    started, cpu_started = time.perf_counter(), time.process_time()
                    rows(conns[name], query)
                    cpu[name].append((time.process_time() - cpu_started) * 1000)
                    wall[name].append((time.perf_counter() - started) * 1000)
            entry: dict[str, Any] = {
                "query": shape["query"],
                "same_rows": len(set(map(tuple, ids.values()))) == 1,
            }
            for name in runs:
                samples = sorted(wall[name])
                p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
                entry[name] = {
                    "plan": runs[name][2],
                    "p50_ms": round(statistics.median(samples), 2),
                    "p95_ms": round(p95, 2),
                    "cpu_min_ms": round(min(cpu[name]), 2),
                }
            report["shapes"][f"{shape['shape']}/{sort}"] = entry
            print(
                f"{shape['shape']}/{sort}: "
                + " | ".join(f"{n} {entry[n]['plan']} cpu {entry[n]['cpu_min_ms']}" for n in runs),
                file=sys.stderr,
            )
    report["uptime_after"] = os.getloadavg()
    report["summary"] = summary(report["shapes"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
