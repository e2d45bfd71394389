"""The project's error types, split by whose fault the problem is.

Every error a user can cause derives from :class:`CcmgrError` and carries a one-line message, an
optional hint that says how to fix it, and the exit code the CLI returns for it. The CLI maps them
in one place (``watcher.cli.main``); anything that is not a ``CcmgrError`` is a bug.
"""

from __future__ import annotations

# typing is imported by type checkers only: it costs the read commands' start-up ~10%.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar


class CcmgrError(Exception):
    """Base class of every error this project raises on purpose."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(CcmgrError):
    """The command line was wrong: an unknown option, a bad value, a missing argument."""

    exit_code = 2


class QueryError(UsageError):
    """A search query or a WHEN expression could not be parsed.

    ``position`` is the 0-based offset in the query text where the problem was found.
    """

    def __init__(
        self, message: str, *, query: str = "", position: int = 0, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.query = query
        self.position = position


class ConfigError(CcmgrError):
    """A configuration file is missing, malformed or invalid."""

    exit_code = 3


class DataError(CcmgrError):
    """A file the user handed us (a backup, a JSON state file) is corrupt or of the wrong kind."""

    exit_code = 4


class StoreError(CcmgrError):
    """The database cannot be used as it is: a tampered migration, a newer schema, a lock."""

    exit_code = 5


class StoreUnavailable(StoreError):
    """The database server cannot be reached now (down, restarting, the network): time may fix
    it. The capture writer holds its events and retries; a command reports it (exit 5)."""


class MigrationError(StoreError):
    """A migration file or the database's migration history is inconsistent."""


class ChecksumMismatch(MigrationError):
    """An applied migration's file changed after it was applied."""


EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "failure": 1,
    "usage": UsageError.exit_code,
    "config": ConfigError.exit_code,
    "data": DataError.exit_code,
    "store": StoreError.exit_code,
    "tmux": 6,  # watcher.errors.TmuxError and WatcherError (the store knows no tmux)
    "bug": 70,
}
"""Documented exit codes; the README's table is generated from the same numbers."""
