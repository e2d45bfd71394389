"""The config pipeline's shape: the pure modules import no I/O library, and no step imports a
later one (read → check one file → merge scopes)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PURE = ("diff", "merge", "validate", "rules", "schema", "duration", "secrets")
IO_LIBRARIES = (
    "sqlite3",
    "aiosqlite",
    "anyio",
    "watchfiles",
    "ruamel",
    "pathlib",
    "tempfile",
    "shutil",
    "subprocess",
    "socket",
    "store.db",
    "store.search",
)
CONFIG = Path(__file__).resolve().parents[2] / "watcher" / "config"
# The pipeline in order (parse, read, check one file, merge): none imports a later one.
PIPELINE = ("yamlio", "readfile", "load", "scopes")


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_no_io_library(name: str) -> None:
    code = f"import sys, json; import watcher.config.{name}; print(json.dumps(list(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
    )
    bad = sorted(
        m for m in loaded if any(m == lib or m.startswith(lib + ".") for lib in IO_LIBRARIES)
    )
    assert bad == [], f"watcher.config.{name} imports {bad}"


def _config_imports(name: str) -> set[str]:
    """The watcher.config modules ``name`` imports, at the top or inside functions."""
    tree = ast.parse((CONFIG / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("watcher.config."):
            found.add(str(node.module).removeprefix("watcher.config."))
    return found


@pytest.mark.parametrize("index", range(len(PIPELINE)))
def test_no_pipeline_step_calls_back_up_the_chain(index: int) -> None:
    later = set(PIPELINE[index + 1 :])
    name = PIPELINE[index]
    assert _config_imports(name) & later == set(), f"{name} imports a later step"
    for pure in PURE:
        assert _config_imports(pure) & set(PIPELINE[2:]) == set(), f"{pure} imports the loader"
