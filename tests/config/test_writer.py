"""Atomic writes and backups: 0600 files, 0700 new folders, never a partial file."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from store.errors import ConfigError
from watcher.config.writer import atomic_write, backup_file


def test_atomic_write_modes(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "config.yaml"
    atomic_write(target, "a: 1\n")
    assert target.read_text() == "a: 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    target.chmod(0o644)
    atomic_write(target, "a: 2\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old: 1\n")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="cannot write: No space left on device"):
        atomic_write(target, "new: 2\n")
    assert target.read_text() == "old: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_backups_are_timestamped_private_and_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("v: 1\n")
    moment = datetime(2026, 11, 26, 12, 30, 5)
    first = backup_file(target, now=moment)
    assert first.name == "config.yaml.backup.20261126-123005"
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    target.write_text("v: 2\n")
    second = backup_file(target, now=moment)
    assert second != first and first.read_text() == "v: 1\n" and second.read_text() == "v: 2\n"
