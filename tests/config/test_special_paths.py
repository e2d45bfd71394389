"""A config path that is not a regular file: a located error, never a hang or a memory blow-up.

Real symlink loops, FIFOs, links to /dev/zero and /dev/null, and folders; the commands that used to
hang (``query``, ``session list``) run as real processes with a timeout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from store.db import migrate_sync
from store.errors import ConfigError
from tests.capture.tmuxenv import CCMGR_WATCH, clean_env
from watcher.cli.main import run
from watcher.config.readfile import MAX_BYTES, read_config_bytes


def _loop(path: Path) -> str:
    other = path.with_name("other.yaml")
    os.symlink(other, path)
    os.symlink(path, other)
    return "symbolic link loop"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "FIFO"


def _dev_zero(path: Path) -> str:
    os.symlink("/dev/zero", path)
    return "character device"


def _dev_null(path: Path) -> str:
    os.symlink("/dev/null", path)
    return "character device"


def _folder(path: Path) -> str:
    path.mkdir()
    return "folder"


def _dangling(path: Path) -> str:
    os.symlink(path.with_name("gone.yaml"), path)
    return "link to a missing file"


KINDS: dict[str, Callable[[Path], str]] = {
    "loop": _loop,
    "fifo": _fifo,
    "dev_zero": _dev_zero,
    "dev_null": _dev_null,
    "folder": _folder,
    "dangling": _dangling,
}


@pytest.fixture
def global_config(_isolated_home: Path) -> Path:
    path = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    path.parent.mkdir(parents=True)
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_reading_checks_what_the_path_is(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    expected = KINDS[kind](path)
    with pytest.raises(ConfigError, match=expected) as caught:
        read_config_bytes(path)
    assert str(path) in caught.value.message  # located: the path is named


def test_a_regular_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with path.open("wb") as handle:
        handle.truncate(64 * MAX_BYTES)  # sparse: 64 MiB that cost nothing
    with pytest.raises(ConfigError, match="may be at most"):
        read_config_bytes(path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "argv", [["config", "show"], ["config", "validate"], ["config", "export", "--json"]]
)
def test_config_commands_exit_3_with_the_path(
    kind: str, argv: list[str], global_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = KINDS[kind](global_config)
    assert run(argv) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {global_config}: ") and expected in err
    assert "Hint: " in err and "Traceback" not in err


def _cli(argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The real command as a process: a hang is the bug, so it has a timeout."""
    return subprocess.run(
        [CCMGR_WATCH, *argv],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "loop", "folder"])
@pytest.mark.parametrize("argv", [["query", "x"], ["session", "list"]])
def test_read_commands_exit_3_and_never_hang(
    kind: str, argv: list[str], global_config: Path, tmp_path: Path
) -> None:
    db = tmp_path / "data.db"
    migrate_sync(db)
    expected = KINDS[kind](global_config)
    # No --db: the commands look at the config for storage.database (and search.default_limit).
    result = _cli(argv)
    assert result.returncode == 3, result.stderr
    assert f"{global_config}: is" in result.stderr and expected in result.stderr
    if argv[0] == "query":  # with --db the database is known; the search limit is not
        result = _cli(["--db", str(db), *argv])
        assert result.returncode == 3 and expected in result.stderr
