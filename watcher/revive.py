"""``ccmgr-watch revive``: create a planned session (:mod:`watcher.revive_plan`) on its tmux
server with libtmux, synchronously (this is a command, not the event loop), and return what it
made; the caller stores the link between the two sessions
(:func:`store.revive_sql.record_revival`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from store.reads import SessionRecord
from watcher.capture.tmux_address import control_env
from watcher.errors import TmuxError
from watcher.revive_plan import (
    COMMAND_ENV,
    RevivePlan,
    WindowPlan,
    layout_size,
    socket_of_session,
)


class Revived:
    """What :func:`carry_out` made: the session's name, tmux id and server key, whether the
    server had to be started, the windows created and the warnings on the way."""

    def __init__(
        self,
        *,
        name: str,
        tmux_id: str,
        server: str,
        server_started: bool,
        windows: list[dict[str, Any]],
        warnings: list[str],
    ) -> None:
        self.name = name
        self.tmux_id = tmux_id
        self.server = server
        self.server_started = server_started
        self.windows = windows
        self.warnings = warnings


# --- tmux ---------------------------------------------------------------------------------------


def session_names(socket: str) -> list[str] | None:
    """Names of the sessions on the server, or None when no server runs there (a stale socket
    file left by a server that died does not count)."""
    code, out = _tmux(socket, "list-sessions", "-F", "#{session_name}", check=False)
    return out.splitlines() if code == 0 else None


def session_is_live(session: SessionRecord) -> bool:
    """Whether the recorded tmux session still runs (same server lifetime, same id)."""
    if not session.tmux_server or not session.tmux_id:
        return False
    socket = socket_of_session(session)
    code, out = _tmux(
        socket,
        "display-message",
        "-t",
        session.tmux_id,
        "-p",
        "#{pid} #{start_time} #{session_id}",
        check=False,
    )
    parts = out.split()
    if code != 0 or len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return False
    from watcher.capture.events import server_key

    key = server_key(socket, int(parts[0]), int(parts[1]))
    # Recorded with or without the host (sql/004): the host part follows the lifetime's key.
    same_server = session.tmux_server == key or session.tmux_server.startswith(f"{key}@")
    return same_server and parts[2] == session.tmux_id


def _tmux(socket: str, *args: str, check: bool = True) -> tuple[int, str]:
    import subprocess

    try:
        # An argv list, never a shell: names and paths go to tmux as they are.
        result = subprocess.run(  # noqa: S603
            ["tmux", "-S", socket, *args],
            capture_output=True,
            text=True,
            env=control_env(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise TmuxError(f"cannot run tmux: {exc}", hint="install tmux 3.2 or newer") from exc
    if check and result.returncode != 0:
        raise TmuxError(f"tmux {args[0]} failed: {result.stderr.strip()}")
    return result.returncode, result.stdout


def carry_out(
    plan: RevivePlan,
    name: str,
    *,
    server_running: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Revived:
    """Create the planned session under ``name`` on its server with libtmux (which starts the
    server if none runs: ``server_running`` False says so) and return what was made.

    libtmux creates the session (``Server.new_session``); its windows, panes and layouts follow
    as one sequence of tmux commands through libtmux's ``Server.cmd``: one tmux process for
    all of them. libtmux's object API (``Session.new_window``, ``Window.split``) reads every
    new object back with another tmux process, which made a 10-window revive three times
    slower than plain tmux (scripts/bench_revive.py).
    """
    import libtmux
    from libtmux import exc as tmux_exc

    env = os.environ if environ is None else environ
    command = env.get(COMMAND_ENV) or None  # None: the user's default shell, as tmux does
    shell = [command] if command else []
    server = libtmux.Server(socket_path=plan.socket)
    first = plan.windows[0]
    size = max(
        (s for s in (layout_size(w.layout) for w in plan.windows) if s is not None),
        default=None,
    )
    try:
        window_name = _name_option(first)
        session = server.new_session(
            session_name=_arg(name),
            start_directory=_arg(plan.directory),
            window_name=None if window_name is None else _arg(window_name),
            window_command=command,
            # The recorded size: the layouts fit exactly until a client attaches (its size
            # wins then, and tmux scales the layouts).
            x=size[0] if size else None,
            y=size[1] if size else None,
        )
    except tmux_exc.LibTmuxException as exc:
        raise TmuxError(
            f"tmux could not create the session {name!r} on {plan.socket}: {exc}",
            hint=f"check that tmux works: tmux -S {plan.socket} list-sessions",
        ) from exc
    sid = str(session.session_id)
    # Where tmux put the first window (base-index), and the server's identity.
    index, pid, start = _run(server, ["display-message", "-p", "-t", sid, _INFO])[0].split()
    from watcher.capture.events import server_key

    key = server_key(plan.socket, int(pid), int(start))
    build: list[list[str]] = []
    if index != str(first.index):
        build.append(["move-window", "-s", f"{sid}:{index}", "-t", f"{sid}:{first.index}"])
    if first.directories[0] != plan.directory:
        # new-session's -c is the session's start directory; the first pane had its own.
        build.append(["respawn-pane", "-k", "-c", first.directories[0], "-t", f"{sid}:", *shell])
    finish: list[list[str]] = []
    for window in plan.windows:
        target = f"{sid}:{window.index}"
        if window is not first:
            directory = window.directories[0]
            build.append(
                ["new-window", "-d", "-t", target, *_name_args(window), "-c", directory, *shell]
            )
        for n, directory in enumerate(window.directories[1:]):
            # Not -d: the new pane becomes the active one, so the next goes after it (tmux's
            # pane order is the order select-layout fills the layout's cells). Alternating
            # directions and evening out leave room for many panes until the layout is set.
            direction = "-h" if n % 2 == 0 else "-v"
            build.append(["split-window", direction, "-t", target, "-c", directory, *shell])
            build.append(["select-layout", "-t", target, "tiled"])
        if len(window.directories) > 1:
            build.append(["select-pane", "-t", f"{target}.{{top-left}}"])
            if window.layout:
                finish.append(["select-layout", "-t", target, window.layout])
    active = next((w for w in plan.windows if w.active), None)
    if active is not None and active is not first:
        finish.append(["select-window", "-t", f"{sid}:{active.index}"])
    try:
        if build:
            _run(server, *build)
    except TmuxError as exc:
        server.cmd("kill-session", "-t", sid)  # no half-made session left behind
        raise TmuxError(
            f"tmux could not recreate the windows of {name!r}: {exc}",
            hint="the half-made session was removed; `ccmgr-watch session show` lists what "
            "would be restored",
        ) from exc
    warnings = []
    if finish:
        try:
            _run(server, *finish)
        except TmuxError as exc:
            warnings.append(f"tmux refused a recorded layout: {exc}")
    return Revived(
        name=str(session.session_name),
        tmux_id=sid,
        server=key,
        server_started=not server_running,
        windows=[
            {
                "index": w.index,
                "name": w.name,
                "layout": w.layout,
                "directories": list(w.directories),
            }
            for w in plan.windows
        ],
        warnings=warnings,
    )


_INFO = "#{window_index} #{pid} #{start_time}"


def _name_option(window: WindowPlan) -> str | None:
    """The name to give a window: none for a window tmux names after its program."""
    return None if window.automatic_rename or not window.name else window.name


def _name_args(window: WindowPlan) -> list[str]:
    name = _name_option(window)
    return ["-n", name] if name is not None else []


def _arg(text: str) -> str:
    """One argument as tmux must get it: a final ``;`` escaped, or tmux ends a command there
    (libtmux passes names as they are: ``-sNAME``)."""
    return text[:-1] + "\\;" if text.endswith(";") else text


def _run(server: Any, *commands: list[str]) -> list[str]:
    """Run tmux commands in one tmux process (libtmux's ``Server.cmd``): its output lines.

    tmux takes a lone ``;`` argument as the end of a command; an argument that ends in ``;``
    itself gets it escaped (``\\;``) so that it stays part of a name or path.
    """
    argv: list[str] = []
    for command in commands:
        if argv:
            argv.append(";")
        argv += [_arg(a) for a in command]
    result = server.cmd(*argv)
    if result.stderr:
        raise TmuxError("tmux: " + "; ".join(result.stderr))
    return list(result.stdout)
