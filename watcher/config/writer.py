"""Writing config files safely: temp file in the same folder, fsync, rename, mode 0600.

A reader (ccmgr-ultra, the live watcher, an editor) sees the old file or the new one, never half.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from store.errors import ConfigError
from store.paths import ensure_private_dir, write_private_atomic


def atomic_write(path: Path, text: str | bytes, *, create_folder: bool = True) -> None:
    """Replace ``path`` with ``text`` atomically (0600; a missing folder is created 0700, unless
    ``create_folder`` is False: then it is a ``ConfigError``).

    A symlinked config (dotfile managers do this) is written through: its target is replaced.
    """
    if path.is_symlink():
        # os.path.realpath, not Path.resolve: a link loop must be an error, not RuntimeError.
        target = Path(os.path.realpath(path))
        if target.is_symlink():
            raise ConfigError(
                f"{path}: is a symbolic link loop",
                hint="point the link at the config file, or remove it",
            )
        path = target
    folder = path.parent
    if not create_folder and not folder.is_dir():
        raise ConfigError(
            f"{path}: cannot write: the folder {folder} does not exist",
            hint="create the folder first, or write somewhere else",
        )
    try:
        if not folder.exists():
            ensure_private_dir(folder)
        write_private_atomic(path, text.encode("utf-8") if isinstance(text, str) else text)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write: {exc.strerror}", hint="check space and permissions"
        ) from None


def backup_path(path: Path, now: datetime) -> Path:
    """``<path>.backup.YYYYMMDD-HHMMSS``, as ccmgr-ultra's ``BackupConfig`` names it."""
    return path.with_name(f"{path.name}.backup.{now.strftime('%Y%m%d-%H%M%S')}")


def backup_file(path: Path, *, now: datetime | None = None) -> Path:
    """Copy ``path`` to a timestamped 0600 backup beside it; returns the backup's path."""
    base = backup_path(path, now or datetime.now())
    target = base
    counter = 1
    while target.exists():  # two migrations in one second must not overwrite the first backup
        target = base.with_name(f"{base.name}.{counter}")
        counter += 1
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.strerror}", hint="check permissions"
        ) from None
    atomic_write(target, data)
    return target
