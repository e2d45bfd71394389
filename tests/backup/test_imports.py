"""pyrage and zstandard are imported only where a backup needs them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capture.tmuxenv import clean_env


def loaded_after(argv: list[str]) -> tuple[int, list[str]]:
    code = (
        "import sys; from watcher.cli.main import run; "
        f"rc = run({argv!r}); "
        "names = ('pyrage', 'zstandard', 'watcher.backup', 'watcher.backup.archive'); "
        "print(sorted(m for m in names if m in sys.modules), file=sys.stderr); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), check=False
    )
    return done.returncode, ast.literal_eval(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["backup", "create"], ["backup", "list", "--json"]])
def test_plain_gzip_backups_need_neither(db: Path, argv: list[str]) -> None:
    code, loaded = loaded_after([*argv, "--db", str(db)])
    assert code == 0
    assert "pyrage" not in loaded and "zstandard" not in loaded


def test_other_commands_do_not_load_backups(db: Path) -> None:
    code, loaded = loaded_after(["query", "name", "--db", str(db)])
    assert code == 0 and loaded == []
