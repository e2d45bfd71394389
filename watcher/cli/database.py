"""Which database a command uses: ``--db``, ``$CCMGR_WATCH_DB``, the config, or the default.

Every command resolves it here, so the watcher and the commands that read what it wrote agree.
``storage.database`` lives in the config files, but parsing YAML costs more than a whole
``ccmgr-watch query``; a file that never mentions ``storage`` cannot set it, so only files that do
are parsed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from store.paths import DB_ENV, default_db_path, resolve_db_path
from watcher.config.locations import Scope, resolve_scopes


def db_path(args: argparse.Namespace) -> Path:
    """The database for this command line (see the module docstring for the order)."""
    explicit = getattr(args, "db", None)
    if explicit or os.environ.get(DB_ENV):
        return resolve_db_path(explicit)
    configured = configured_database(resolve_scopes(getattr(args, "project_dir", None)))
    return Path(configured).expanduser() if configured else default_db_path()


def existing_db_path(args: argparse.Namespace) -> Path:
    """:func:`db_path`, for commands that only read: it must exist already."""
    from store.errors import StoreError

    path = db_path(args)
    if not path.exists():
        raise StoreError(
            f"no database at {path}",
            hint="run `ccmgr-watch db migrate` or start the watcher to create it",
        )
    return path


def configured_database(paths: Mapping[Scope, Path]) -> str | None:
    """``storage.database`` of the effective config, or None when no scope sets it.

    Raises ConfigError (with file:line:column) when the ``storage`` section itself is invalid;
    problems elsewhere in the files are not this command's business.
    """
    if not any(_mentions(path, b"storage") for path in paths.values()):
        return None
    from store.errors import ConfigError
    from watcher.config.scopes import load_effective

    effective = load_effective(dict(paths))
    broken = [issue for issue in effective.errors if issue.keys[:1] == ("storage",)]
    if broken:
        raise ConfigError(
            broken[0].render(),
            hint=broken[0].hint or "fix the storage section, or pass --db PATH",
        )
    return effective.config.storage.database or None


def _mentions(path: Path, word: bytes) -> bool:
    try:
        return word in path.read_bytes()
    except OSError:
        return False
