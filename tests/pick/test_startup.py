"""The picker's first frame pays for no heavy import (its target: within 150 ms of start)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "msgspec",
    "anyio",
    "aiosqlite",
    "ruamel",
    "yaml",
    "typing",
    "logging",
    # The query language: imported by the search thread after the first frame.
    "store.query.compiler",
    "store.query.parser",
    "store.search",
)


def test_the_first_frame_path_imports_nothing_heavy() -> None:
    code = (
        "import sys; from watcher.cli.main import build_parser; "
        "args = build_parser(['pick']).parse_args(['pick', '--db', 'x.db']); "
        "import watcher.pick.app, watcher.cli.settings, store.reads; "
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "watcher.pick.terminal" in loaded  # the probe imported the picker
    assert sorted(m for m in HEAVY if m in loaded) == []
