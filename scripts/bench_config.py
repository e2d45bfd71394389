"""Benchmark: loading and validating config files (what `config show` and a live reload cost).

Prints one JSON object: median milliseconds for parsing a ccmgr-ultra-sized file (the baseline:
ruamel's round-trip load alone), full check of one file, the effective config of three scopes, and
a no-change round trip; and whether the targets are met.

    .venv/bin/python scripts/bench_config.py [--quick]
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.errors import ConfigError
from tests.config.conftest import GO_WRITTEN
from watcher.config.load import check_document
from watcher.config.locations import Scope
from watcher.config.scopes import load_effective
from watcher.config.yamlio import _yaml, dump_document, parse_document

TARGETS_MS = {"check_one_file": 50.0, "effective_three_scopes": 150.0, "round_trip": 60.0}
UNKNOWN_KEYS = 5_000  # under the size and item caps: the most a file can make validate do
HUGE_KEYS = 100_000  # issue 9: a 100k-key file under 1 MiB took > 20 s to validate


def unknown_keys_text(count: int) -> str:
    """A file of ``count`` keys nobody knows, one short line each."""
    return "version: 2.1.0\ntmux:\n" + "".join(
        f"    monitor_intervals_{i}: {i}\n" for i in range(count)
    )


def validate(text: str) -> None:
    """What `config validate FILE` does with the text: parse, check, locate every issue."""
    with contextlib.suppress(ConfigError):  # refused: the point is how fast
        check_document(parse_document(text))


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def main() -> None:
    runs = 5 if "--quick" in sys.argv else 30
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths: dict[Scope, Path] = {
            "global": root / "global.yaml",
            "project": root / "project.yaml",
            "user": root / "user.yaml",
        }
        paths["global"].write_text(GO_WRITTEN)
        paths["project"].write_text(
            GO_WRITTEN.replace("monitor_interval: 2s", "monitor_interval: 3s")
        )
        paths["user"].write_text("tmux:\n    monitor_interval: 5s\nwatcher:\n    batch_size: 50\n")
        results = {
            "baseline_ruamel_load": median_ms(lambda: _yaml().load(GO_WRITTEN), runs),
            "check_one_file": median_ms(lambda: check_document(parse_document(GO_WRITTEN)), runs),
            "effective_three_scopes": median_ms(lambda: load_effective(paths), runs),
            "round_trip": median_ms(lambda: dump_document(parse_document(GO_WRITTEN)), runs),
        }
        many = unknown_keys_text(UNKNOWN_KEYS)
        huge = "k: 1\n" * HUGE_KEYS  # 100k keys in 500 KB: under the size cap
        few = max(3, runs // 10)
        # Per unknown key: the part of validation beyond ruamel's own parse (the fixed cost).
        parsed = parse_document(many)
        results["validate_5000_unknown_keys"] = median_ms(lambda: validate(many), few)
        results["check_per_unknown_key"] = round(
            median_ms(lambda: check_document(parsed), few) / UNKNOWN_KEYS, 4
        )
        results["validate_100k_keys"] = median_ms(lambda: validate(huge), few)
    print(
        json.dumps(
            {
                "runs": runs,
                "median_ms": results,
                "overhead_vs_baseline": round(
                    results["check_one_file"] / max(results["baseline_ruamel_load"], 1e-9), 2
                ),
                "targets_ms": TARGETS_MS,
                "targets_met": {k: results[k] <= v for k, v in TARGETS_MS.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
