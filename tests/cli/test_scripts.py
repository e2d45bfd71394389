"""scripts/watch and scripts/test install once, then start at once while nothing changed.

The checkout is copied to a temporary folder with a stand-in .venv whose programs only log how
they were called, so the scripts' decisions are tested without running pip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUBS = ("python", "ccmgr-watch", "pytest", "ruff", "mypy")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    for script in ("watch", "test"):
        shutil.copy2(ROOT / "scripts" / script, tmp_path / "scripts" / script)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in STUBS:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "$(dirname "$0")/../calls.log"\n')
        stub.chmod(0o755)
    return tmp_path


def calls(checkout: Path) -> list[str]:
    log = checkout / ".venv" / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def start(checkout: Path, script: str, *args: str) -> None:
    subprocess.run(["bash", str(checkout / "scripts" / script), *args], check=True)


def test_watch_installs_once_then_starts_at_once(checkout: Path) -> None:
    start(checkout, "watch", "-L", "work")
    first = calls(checkout)
    assert any(line.startswith("python -m pip install") and "-e ." in line for line in first)
    assert first[-1] == "ccmgr-watch run -L work"

    start(checkout, "watch")
    assert calls(checkout) == ["ccmgr-watch run"]  # nothing changed: no pip at all

    with (checkout / "pyproject.toml").open("a") as f:
        f.write("\n# a new dependency\n")
    start(checkout, "watch")
    assert any(line.startswith("python -m pip install") for line in calls(checkout))
    start(checkout, "watch")
    assert calls(checkout) == ["ccmgr-watch run"]


def test_watch_installs_when_the_command_is_missing(checkout: Path) -> None:
    start(checkout, "watch")
    calls(checkout)
    (checkout / ".venv" / "bin" / "ccmgr-watch").unlink()
    subprocess.run(["bash", str(checkout / "scripts" / "watch")], check=False)
    assert any(line.startswith("python -m pip install") for line in calls(checkout))


def test_test_script_installs_once(checkout: Path) -> None:
    start(checkout, "test", "-x")
    first = calls(checkout)
    assert any("-e .[test]" in line for line in first)
    assert first[-4:] == ["ruff check .", "ruff format --check .", "mypy ", "pytest -x"]
    start(checkout, "test")
    assert calls(checkout) == ["ruff check .", "ruff format --check .", "mypy ", "pytest "]
