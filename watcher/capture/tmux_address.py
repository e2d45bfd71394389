"""Where a tmux server is and how to talk to it safely: socket paths, child environment, quoting.

Pure: no I/O beyond ``os.lstat``/``os.getuid``; the one place that knows tmux's socket folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from watcher.errors import TmuxError, WatcherError

# no-detach-on-destroy is 3.6+; older tmux ignores unknown client flags (verified on 3.3a).
CONTROL_FLAGS = "no-output,ignore-size,read-only,no-detach-on-destroy"
CLIENT_ENV = "CCMGR_WATCH_TMUX_CLIENT"  # "binary": always use `tmux -C` (for comparisons)


def socket_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's tmux socket folder: ``${TMUX_TMPDIR:-/tmp}/tmux-$UID``."""
    env = os.environ if environ is None else environ
    base = env.get("TMUX_TMPDIR") or "/tmp"  # tmux's own default
    return Path(base) / f"tmux-{os.getuid()}"


def default_socket_path(environ: Mapping[str, str] | None = None) -> str:
    """The default server's socket (what plain ``tmux`` uses when ``$TMUX`` is unset)."""
    return str(socket_dir(environ) / "default")


def socket_for_name(name: str) -> str:
    """The socket path of ``tmux -L NAME``."""
    if not name or "/" in name:
        raise WatcherError(
            f"not a tmux socket name: {name!r}", hint="use -S PATH for a socket given by its path"
        )
    return str(socket_dir() / name)


def is_socket(path: str | Path) -> bool:
    """True if ``path`` is a Unix socket we own (what a tmux server leaves in its folder)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid()


def control_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for tmux child processes: the current one without ``TMUX``/``TMUX_PANE``."""
    env = dict(os.environ if environ is None else environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


def quote_argument(arg: str) -> str:
    """Quote one argument for tmux's command parser (single quotes, ``'`` as ``'\\''``).

    Inside single quotes tmux expands nothing (no ``$VAR``, ``~``, escapes, ``;``, ``#``),
    and adjacent quoted pieces join into one argument. Newlines cannot be sent over the
    line-based control connection, so they are refused.
    """
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise TmuxError(
            f"cannot send an argument containing a newline or NUL to tmux: {arg!r}",
            hint="tmux names never contain raw newlines; target sessions by id ($N)",
        )
    return "'" + arg.replace("'", "'\\''") + "'"


def line_of(args: Sequence[str]) -> str:
    """One command line: the command name bare (so tmux recognises it), every argument quoted."""
    if not args:
        raise TmuxError("empty tmux command", hint="this is a bug in ccmgr-watch")
    return " ".join([args[0], *(quote_argument(a) for a in args[1:])])


def check_id(value: str, sigil: str) -> str:
    """``value`` if it is a tmux id with ``sigil`` ($N, @N), else TmuxError (sent checked)."""
    if not (value.startswith(sigil) and value[1:].isdigit()):
        raise TmuxError(f"invalid tmux id {value!r}", hint="this is a bug in ccmgr-watch")
    return value


def native_by_default(environ: Mapping[str, str] | None = None) -> bool:
    """Whether to speak tmux's protocol (the default) rather than run ``tmux -C``."""
    env = os.environ if environ is None else environ
    return env.get(CLIENT_ENV, "").strip().lower() != "binary"
