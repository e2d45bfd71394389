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
from watcher.revive_plan import COMMAND_ENV, RevivePlan, WindowPlan, layout_size, socket_of_session


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


def server_is_running(socket: str) -> bool:
    """Whether a tmux server answers on ``socket`` (a stale socket file does not)."""
    return _tmux(socket, "list-sessions", "-F", "#{session_id}", check=False)[0] == 0


def server_key_now(socket: str) -> str | None:
    """The running server's key (``<socket>#<pid>@<start>``), or None when none runs."""
    from watcher.capture.events import server_key

    code, out = _tmux(socket, "display-message", "-p", "#{pid} #{start_time}", check=False)
    parts = out.split()
    if code != 0 or len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return server_key(socket, int(parts[0]), int(parts[1]))


def session_is_live(session: SessionRecord) -> bool:
    """Whether the recorded tmux session still runs (same server lifetime, same id)."""
    if not session.tmux_server or not session.tmux_id:
        return False
    socket = socket_of_session(session)
    if server_key_now(socket) != session.tmux_server:
        return False
    code, out = _tmux(
        socket, "display-message", "-t", session.tmux_id, "-p", "#{session_id}", check=False
    )
    return code == 0 and out.strip() == session.tmux_id


def session_names(socket: str) -> list[str]:
    """Names of the sessions on the server (none when it does not run)."""
    code, out = _tmux(socket, "list-sessions", "-F", "#{session_name}", check=False)
    return out.splitlines() if code == 0 else []


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


def carry_out(plan: RevivePlan, name: str, *, environ: Mapping[str, str] | None = None) -> Revived:
    """Create the planned session under ``name`` on its server with libtmux (starting the
    server if none runs) and return what was made."""
    import libtmux
    from libtmux import exc as tmux_exc
    from libtmux.common import raise_if_stderr
    from libtmux.constants import PaneDirection

    env = os.environ if environ is None else environ
    command = env.get(COMMAND_ENV) or None  # None: the user's default shell, as tmux does
    started = not server_is_running(plan.socket)
    server = libtmux.Server(socket_path=plan.socket)
    first = plan.windows[0]
    size = max(
        (s for s in (layout_size(w.layout) for w in plan.windows) if s is not None),
        default=None,
    )
    warnings: list[str] = []
    try:
        session = server.new_session(
            session_name=name,
            start_directory=plan.directory,
            window_name=None if first.automatic_rename or not first.name else first.name,
            window_command=command,
            # The recorded size: select-layout then fits exactly until a client attaches (its
            # size wins then, and the layout is scaled).
            x=size[0] if size else None,
            y=size[1] if size else None,
        )
    except tmux_exc.LibTmuxException as exc:
        raise TmuxError(
            f"tmux could not create the session {name!r} on {plan.socket}: {exc}",
            hint="check that tmux works: `tmux -S SOCKET list-sessions`",
        ) from exc
    sid = str(session.session_id)
    try:
        windows = session.windows
        window = windows[0]
        if str(window.window_index) != str(first.index):
            window.move_window(str(first.index), session=sid)
        if first.directories[0] != plan.directory:
            # new-session's -c is the session's start directory; the first pane had its own.
            args = ["-k", "-c", first.directories[0], "-t", f"{sid}:{first.index}"]
            raise_if_stderr(
                server.cmd("respawn-pane", *args, *([command] if command else [])),
                "respawn-pane",
            )
        made = [(first, window)]
        for plan_window in plan.windows[1:]:
            made.append(
                (
                    plan_window,
                    session.new_window(
                        window_name=None
                        if plan_window.automatic_rename or not plan_window.name
                        else plan_window.name,
                        start_directory=plan_window.directories[0],
                        window_index=str(plan_window.index),
                        window_shell=command,
                        attach=False,
                    ),
                )
            )
        created: list[dict[str, Any]] = []
        for plan_window, win in made:
            _split_panes(win, plan_window, command, PaneDirection, warnings)
            created.append(
                {
                    "index": plan_window.index,
                    "name": plan_window.name,
                    "layout": plan_window.layout,
                    "directories": list(plan_window.directories),
                }
            )
        active = next((w for w, _ in made if w.active), None)
        if active is not None and active is not first:
            raise_if_stderr(
                server.cmd("select-window", "-t", f"{sid}:{active.index}"), "select-window"
            )
    except tmux_exc.LibTmuxException as exc:
        server.cmd("kill-session", "-t", sid)  # no half-made session left behind
        raise TmuxError(
            f"tmux could not recreate the windows of {name!r}: {exc}",
            hint="the half-made session was removed; `ccmgr-watch session show` lists what "
            "would be restored",
        ) from exc
    key = server_key_now(plan.socket)
    if key is None:
        raise TmuxError(f"the tmux server at {plan.socket} went away during the revive")
    return Revived(
        name=str(session.session_name),
        tmux_id=sid,
        server=key,
        server_started=started,
        windows=created,
        warnings=warnings,
    )


def _split_panes(
    window: Any, plan: WindowPlan, command: str | None, directions: Any, warnings: list[str]
) -> None:
    """Add the window's other panes, then give it its recorded layout."""
    from libtmux import exc as tmux_exc

    if len(plan.directories) < 2:
        return
    pane = window.active_pane or window.panes[0]
    for n, directory in enumerate(plan.directories[1:]):
        # Each new pane goes after the last one (tmux's pane order is the layout's cell order);
        # alternating directions leaves room for many panes before the layout is applied.
        direction = directions.Right if n % 2 == 0 else directions.Below
        try:
            pane = window.split(
                target=pane.pane_id, start_directory=directory, shell=command, direction=direction
            )
        except tmux_exc.LibTmuxException:
            window.select_layout("tiled")  # out of room: even the panes out and try once more
            pane = window.split(
                target=pane.pane_id, start_directory=directory, shell=command, direction=direction
            )
    if plan.layout:
        try:
            window.select_layout(plan.layout)
        except tmux_exc.LibTmuxException as exc:
            warnings.append(f"window {plan.name!r}: tmux refused the recorded layout ({exc})")
