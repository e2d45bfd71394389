"""Real file-system faults for tests: a small tmpfs to fill, a read-only bind mount, chattr.

They need root (CI runs the suite as root) and a kernel that allows mounts here; each helper
skips the test with the reason when it cannot make the fault for real.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (a real file system that fills up)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs to fill needs root and mount(8)")
    where.mkdir(parents=True, exist_ok=True)
    result = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def fill(folder: Path, name: str = "filler") -> Path:
    """Write a file in ``folder`` until its file system is full; returns the file."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        # Big writes first, then ever smaller ones into the last partial block.
        for size in (1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
    finally:
        os.close(fd)
    return path


@contextlib.contextmanager
def read_only_bind(folder: Path) -> Iterator[Path]:
    """``folder`` bind-mounted onto itself read-only (even root cannot write in it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    folder.mkdir(parents=True, exist_ok=True)
    result = _run("mount", "--bind", str(folder), str(folder))
    if result.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {result.stderr.strip()}")
    try:
        result = _run("mount", "-o", "remount,ro,bind", str(folder))
        if result.returncode != 0:
            pytest.skip(f"cannot remount read-only: {result.stderr.strip()}")
        yield folder
    finally:
        _run("umount", "-l", str(folder))


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` on ``paths`` for the block (skips where the file system has no such flag)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done: list[Path] = []
    try:
        for path in paths:
            result = _run("chattr", "+i", str(path))
            if result.returncode != 0:
                pytest.skip(f"chattr +i is not possible here: {result.stderr.strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            _run("chattr", "-i", str(path))
