"""Going to the chosen session: switch to it, attach to it, or revive it.

:func:`plan_go` decides (from the session's record, the environment and whether tmux still has
that session) which program to run with which arguments and environment; :func:`execute`
replaces the picker's process with it. Nothing is built as a shell string: names and paths go
into an argv list. The decision is pure apart from :func:`session_is_live`, which asks tmux.

- a live session on the server ``$TMUX`` names: ``tmux -S SOCKET switch-client -t $N``;
- a live session anywhere else (no ``$TMUX``, or another server): ``tmux -S SOCKET
  attach-session -t $N`` with ``$TMUX`` removed (inside tmux that nests a client, which is what
  a popup over another server needs);
- an ended session (or one whose server is gone or was restarted since it was recorded):
  ``ccmgr-watch revive ID --attach``, which recreates it and attaches or switches to it;
- a live session of another host (a shared PostgreSQL store, or a copy of one): nothing runs
  here (its socket path here would be another server); :func:`remote_command` is what to run.
"""

from __future__ import annotations

import os
import subprocess
import sys

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from store.reads import SessionRecord


class Go:
    """What to run to go to a session: ``argv`` with ``env`` (the whole environment)."""

    __slots__ = ("argv", "env", "kind")

    def __init__(self, kind: str, argv: list[str], env: dict[str, str]) -> None:
        self.kind = kind  # "switch", "attach" or "revive"
        self.argv = argv
        self.env = env

    def __repr__(self) -> str:
        return f"Go({self.kind!r}, {self.argv!r})"


def parse_server(server: str | None) -> tuple[str, int, int] | None:
    """``<socket path>#<pid>@<start time>[@<host>]`` as (socket, pid, start), None when it is
    not one (the host, which keys recorded since sql/004 may carry, is not needed here: a live
    session is on this machine's socket, and the pid and start time are checked there)."""
    if not server or "#" not in server:
        return None
    socket, _, rest = server.rpartition("#")
    pid, _, after = rest.partition("@")
    start = after.partition("@")[0]
    if not socket or not pid.isdigit() or not start.isdigit():
        return None
    return socket, int(pid), int(start)


def _tmux_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}


def session_is_live(session: SessionRecord, env: Mapping[str, str]) -> bool:
    """Whether the session's server (the same lifetime: pid and start time) still has it.

    The database says so only as long as a watcher keeps it current; a server restarted since
    reuses ``$0``, ``$1``..., so the id alone could name another session.
    """
    server = parse_server(session.tmux_server)
    if server is None or session.status == "ended" or not session.tmux_id:
        return False
    socket, pid, start = server
    try:
        # An argv list, no shell: the socket path and the id come from the database.
        answer = subprocess.run(  # noqa: S603
            [
                "tmux",
                "-S",
                socket,
                "display-message",
                "-p",
                "-t",
                session.tmux_id,
                "#{pid} #{start_time} #{session_id}",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            env=_tmux_env(env),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return answer.returncode == 0 and answer.stdout.split() == [
        str(pid),
        str(start),
        session.tmux_id,
    ]


def same_server(tmux_env: str | None, socket: str) -> bool:
    """Whether ``$TMUX`` (``<socket>,<pid>,<session index>``) names the server at ``socket``."""
    if not tmux_env:
        return False
    ours = tmux_env.rsplit(",", 2)[0]
    try:
        return os.path.samefile(ours, socket)
    except OSError:
        return os.path.realpath(ours) == os.path.realpath(socket)


def cli_argv() -> list[str]:
    """How to run this same ``ccmgr-watch`` again: its script, else this Python with the CLI."""
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script).startswith("ccmgr-watch") and os.access(script, os.X_OK):
        return [os.path.abspath(script)]
    return [sys.executable, "-c", "from watcher.cli.main import main; main()"]


def plan_go(session: SessionRecord, *, live: bool, env: Mapping[str, str], database: str) -> Go:
    """What to run to go to ``session`` (``live``: tmux still has it, see
    :func:`session_is_live`)."""
    server = parse_server(session.tmux_server)
    if live and server is not None and session.tmux_id:
        socket = server[0]
        if same_server(env.get("TMUX"), socket):
            argv = ["tmux", "-S", socket, "switch-client", "-t", session.tmux_id]
            return Go("switch", argv, dict(env))
        argv = ["tmux", "-S", socket, "attach-session", "-t", session.tmux_id]
        return Go("attach", argv, _tmux_env(env))
    argv = [*cli_argv(), "--db", database, "revive", session.id, "--attach"]
    return Go("revive", argv, dict(env))


def elsewhere(session: SessionRecord, host: str) -> bool:
    """Whether ``session`` is alive on another machine than ``host`` (this one): its tmux
    server is there, and a socket of the same path here is another server. A session recorded
    before hosts (sql/004: no host) is taken to be this machine's, as reconciliation does."""
    return session.status != "ended" and bool(session.host) and session.host != host


def _double_quoted(text: str) -> str:
    """``text`` in double quotes for a POSIX shell (``$``, backquotes, ``"`` and ``\\``
    escaped): the remote command of ``ssh`` is parsed by the shell here, then by the remote one."""
    for char in ("\\", '"', "$", "`"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def remote_command(session: SessionRecord) -> str:
    """The shell command that attaches to ``session`` from here through ssh, on its host."""
    import shlex

    server = parse_server(session.tmux_server)
    remote = ["tmux"]
    if server is not None:
        remote += ["-S", server[0]]
    remote += ["attach-session"]
    if session.tmux_id:
        remote += ["-t", session.tmux_id]
    return f"ssh -t {shlex.quote(session.host or '')} {_double_quoted(shlex.join(remote))}"


def execute(go: Go) -> int:
    """Replace this process with ``go``; returns (exit code 6) only when it cannot start."""
    from store.errors import EXIT_CODES

    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(go.argv[0], go.argv, go.env)  # noqa: S606  # an argv list, on purpose
    except OSError as exc:
        sys.stderr.write(f"Error: cannot run {go.argv[0]}: {exc.strerror}\n")
        if go.kind != "revive":
            sys.stderr.write("Hint: is tmux installed and on PATH?\n")
    return EXIT_CODES["tmux"]
