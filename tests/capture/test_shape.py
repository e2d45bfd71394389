"""The capture package's shape: the pure modules import no I/O library."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "watcher.capture.protocol",
    "watcher.capture.tracker",
    "watcher.capture.follow",
    "watcher.capture.events",
    "watcher.capture.tmux_address",
    "watcher.capture.tmux_replies",
    "watcher.capture.tmux_wire",
]
IO = ("anyio", "asyncio", "subprocess", "socket", "sqlite3", "aiosqlite", "trio")


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    code = f"import sys; import {module}; print(' '.join(m for m in {IO!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"{module} pulls in {out}"
