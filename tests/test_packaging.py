"""`pip install .` yields a working ccmgr-watch that finds its migrations outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_migrates_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("ccmgr_watch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "store/migrations/001_initial.sql" in names
    assert not any(n.startswith(("tests/", "sql/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)  # ensurepip: offline
    python = env_dir / "bin" / "python"
    # Dependencies come from this test's environment (no network needed); the project itself
    # only from the wheel, unpacked into the fresh environment's site-packages.
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "CCMGR_WATCH_DB": str(outside / "data.db"), "PYTHONPATH": ""}
    check = subprocess.run(
        [str(python), "-c", "import store, watcher; print(store.__file__)"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(site) in check.stdout and str(REPO) not in check.stdout
    entry = [str(env_dir / "bin" / "ccmgr-watch")]
    done = subprocess.run(
        [*entry, "db", "migrate"], cwd=outside, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    status = subprocess.run(
        [*entry, "db", "status", "--json"], cwd=outside, env=env, capture_output=True, text=True
    )
    info = json.loads(status.stdout)
    assert info["current"] == info["latest"] >= 1
