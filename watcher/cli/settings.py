"""Settings that ordinary commands take from the config: the database and the search limit.

Every command resolves them here, so the watcher and the commands that read what it wrote agree.
Parsing YAML costs more than a whole ``ccmgr-watch query``, and a file that never mentions a key
cannot set it, so only files that mention the key are parsed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from store.paths import DB_ENV, default_db_path, resolve_db_path
from watcher.config.locations import Scope, resolve_scopes

if TYPE_CHECKING:
    from watcher.config.schema import Config


def db_path(args: argparse.Namespace) -> Path:
    """``--db``, else ``$CCMGR_WATCH_DB``, else ``storage.database``, else the default path."""
    explicit = getattr(args, "db", None)
    if explicit or os.environ.get(DB_ENV):
        return resolve_db_path(explicit)
    configured = configured_database(_scopes(args))
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


def search_limit(args: argparse.Namespace) -> int | None:
    """``--limit`` (0: no limit), else ``search.default_limit``; None means no limit."""
    from store.search import DEFAULT_LIMIT

    given: int | None = getattr(args, "limit", None)
    if given is None:
        config = _load_if_mentioned(_scopes(args), b"default_limit", "search")
        given = config.search.default_limit if config is not None else DEFAULT_LIMIT
    return given or None


def configured_database(paths: Mapping[Scope, Path]) -> str | None:
    """``storage.database`` of the effective config, or None when no scope sets it.

    An invalid ``storage.database`` is not used (warning on stderr); a config file that cannot be
    read raises ConfigError. Problems elsewhere in the files are not this command's business.
    """
    config = _load_if_mentioned(paths, b"storage", "storage")
    return (config.storage.database or None) if config is not None else None


def _scopes(args: argparse.Namespace) -> dict[Scope, Path]:
    return resolve_scopes(getattr(args, "project_dir", None))


def _load_if_mentioned(paths: Mapping[Scope, Path], word: bytes, section: str) -> Config | None:
    """The effective config if any scope file contains ``word``.

    The rule of docs/config.md: a file that cannot be read is an error (ConfigError, exit 3); an
    invalid value in ``section`` is not used (the lower scope's or the default is), with a
    warning on stderr naming its file and line. Problems elsewhere are not this command's
    business.
    """
    if not any(_mentions(path, word) for path in paths.values()):
        return None
    import sys

    from watcher.config.scopes import load_effective

    effective = load_effective(dict(paths))
    for issue in effective.errors:
        if issue.keys[:1] == (section,):
            sys.stderr.write(effective.fallback(issue) + "\n")
    return effective.config


def _mentions(path: Path, word: bytes) -> bool:
    """Whether the file at ``path`` contains ``word``; a path that is there but cannot be read as
    a config file (a FIFO, a folder, a link loop) raises ConfigError: see docs/config.md."""
    if not os.path.lexists(path):
        return False
    from watcher.config.load import read_config_bytes

    return word in read_config_bytes(path)
