"""The watcher's error types (tmux, the control protocol, the service).

They subclass :class:`store.errors.CcmgrError`, so the CLI maps them in its one place
(``watcher.cli.main``) with the exit code each declares.
"""

from __future__ import annotations

from store.errors import CcmgrError

__all__ = ["ProtocolError", "ProtocolMismatch", "TmuxError", "WatcherError"]


class TmuxError(CcmgrError):
    """tmux could not be reached or answered with something we cannot use."""

    exit_code = 6


class ProtocolError(TmuxError):
    """tmux sent bytes that break the control-mode protocol's framing."""


class ProtocolMismatch(TmuxError):
    """The server speaks another client protocol version (it answered MSG_VERSION)."""


class WatcherError(CcmgrError):
    """The watcher service cannot start or keep running (for example: one is already running)."""

    exit_code = 6
