"""Settings that ordinary commands take from the config: the database and the search limit.

Every command resolves them here, so the watcher and the commands that read what it wrote agree.
Parsing YAML costs more than a whole ``ccmgr-watch query``, and a file that never mentions a key
cannot set it, so only files that mention the key are parsed.
"""

from __future__ import annotations

import argparse
import os

# Imported where used: pathlib (with urllib.parse and ipaddress) and typing cost the read
# commands ~20% of their start-up, and with --db or $CCMGR_WATCH_DB they need neither.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from watcher.config.locations import Scope
    from watcher.config.schema import Config

DB_ENV = "CCMGR_WATCH_DB"
"""store.paths.DB_ENV, here without importing pathlib (a test keeps the two equal)."""
DEFAULT_LIMIT = 20
"""``SearchConfig().default_limit`` (the schema holds the default), here without importing msgspec,
which would double ``ccmgr-watch query``'s start-up (a test keeps the two equal)."""


def db_path(args: argparse.Namespace) -> Path:
    """``--db``, else ``$CCMGR_WATCH_DB``, else ``storage.database``, else the default path.

    For the commands that work on a database file only: a PostgreSQL URL is refused, with what
    to use instead (the commands that take one ask :func:`db_file` first).
    """
    from pathlib import Path

    from store.pgurl import is_postgres_url, redact

    location = db_file(args)
    if is_postgres_url(location):
        from store.errors import UsageError

        first = getattr(args, "command", None) or ""
        command = " ".join(part for part in (first, getattr(args, f"{first}_command", "")) if part)
        named = f"`ccmgr-watch {command}`" if command else "this command"
        if command.startswith("backup restore"):
            # A backup of a SQLite file (made before moving to PostgreSQL, say) goes into one.
            hint = (
                "restore it into a file (`--to FILE`), then `ccmgr-watch db copy FILE URL` "
                "merges its sessions and events into the PostgreSQL database; the server itself "
                "is restored with its own tools (pg_restore of a pg_dump)"
            )
        elif command.startswith("backup"):
            hint = (
                "back a PostgreSQL database up with its own tools (pg_dump -Fc, or the "
                "service's snapshots); `ccmgr-watch db copy URL FILE` makes a SQLite copy of "
                "it, which `backup create --db FILE` backs up"
            )
        else:
            hint = (
                "run it on a SQLite file (`--db PATH`), then `ccmgr-watch db copy FILE URL` "
                "adds that file's history to the PostgreSQL database (docs/postgresql.md)"
            )
        raise UsageError(
            f"{named} works on a SQLite database file only, not {redact(location)}", hint=hint
        )
    return Path(location)


def db_file(args: argparse.Namespace) -> str:
    """:func:`db_path` as text: the read commands need no pathlib (see the module's note)."""
    from store.paths import default_db_text

    explicit = getattr(args, "db", None) or os.environ.get(DB_ENV)
    if explicit:
        return os.path.expanduser(explicit)
    configured = configured_database(_scopes(args))
    return os.path.expanduser(configured) if configured else default_db_text()


def search_limit(args: argparse.Namespace) -> int | None:
    """``--limit`` (0: no limit), else ``search.default_limit``; None means no limit."""
    given: int | None = getattr(args, "limit", None)
    if given is None:
        config = _load_if_mentioned(_scopes(args), b"default_limit", "search")
        given = config.search.default_limit if config is not None else DEFAULT_LIMIT
    return given or None


def watcher_host(args: argparse.Namespace) -> str:
    """``watcher.host`` of the effective config, else the machine's hostname: the host the
    watcher records sessions with (watcher.service_config)."""
    from watcher.service_config import local_host

    config = _load_if_mentioned(_scopes(args), b"host", "watcher")
    return (config.watcher.host if config is not None else "") or local_host()


def configured_database(paths: Mapping[Scope, str | Path]) -> str | None:
    """``storage.database`` of the effective config, or None when no scope sets it.

    An invalid ``storage.database`` is not used (warning on stderr); a config file that cannot be
    read raises ConfigError. Problems elsewhere in the files are not this command's business.
    """
    config = _load_if_mentioned(paths, b"storage", "storage")
    return (config.storage.database or None) if config is not None else None


def _scopes(args: argparse.Namespace) -> dict[Scope, str]:
    from watcher.config.locations import resolve_scope_files

    return resolve_scope_files(getattr(args, "project_dir", None))


def _load_if_mentioned(
    paths: Mapping[Scope, str | Path], word: bytes, section: str
) -> Config | None:
    """The effective config if any scope file contains ``word``.

    The rule of docs/config.md: a file that cannot be read is an error (ConfigError, exit 3); an
    invalid value in ``section`` is not used (the lower scope's or the default is), with a
    warning on stderr naming its file and line. Problems elsewhere are not this command's
    business.
    """
    if not any(_mentions(path, word) for path in paths.values()):
        return None
    import sys
    from pathlib import Path

    from watcher.config.scopes import load_effective

    effective = load_effective({scope: Path(path) for scope, path in paths.items()})
    for issue in effective.errors:
        if issue.keys[:1] == (section,):
            sys.stderr.write(effective.fallback(issue) + "\n")
    return effective.config


def _mentions(path: str | Path, word: bytes) -> bool:
    """Whether the file at ``path`` contains ``word``; a path that is there but cannot be read as
    a config file (a FIFO, a folder, a link loop) raises ConfigError: see docs/config.md."""
    if not os.path.lexists(path):
        return False
    from watcher.config.readfile import read_config_bytes

    return word in read_config_bytes(path)
