"""``ccmgr-watch revive``: bring an ended session back on its tmux server, as it was last seen.

:func:`plan_revive` (no tmux, no database) turns a stored session into a :class:`RevivePlan`:
the name, the start directory and every window (index, name, layout, the panes' directories in
layout order), with a warning for each directory that no longer exists (the home folder stands
in). :func:`carry_out` creates it with libtmux (synchronously: this is a command, not the event
loop) and returns what it made; the caller stores the link between the two sessions
(:func:`store.revive_sql.record_revival`). What was recorded comes from the watcher's window
records (``metadata.tmux_windows``, see :class:`watcher.capture.events.WindowShape`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.errors import UsageError
from store.reads import SessionRecord
from store.repositories import LAYOUT_KEY
from watcher.capture.tmux_address import control_env, default_socket_path
from watcher.errors import TmuxError

COMMAND_ENV = "CCMGR_WATCH_REVIVE_COMMAND"
"""For tests only: the command every revived pane runs instead of the user's default shell."""

_LEAF = re.compile(r"\d+x\d+,\d+,\d+,(\d+)")
_SIZE = re.compile(r"^[0-9a-f]{4},(\d+)x(\d+),")


@dataclass(frozen=True)
class WindowPlan:
    """One window to create: ``directories`` has one entry per pane, in the layout's order."""

    index: int
    name: str
    layout: str
    directories: tuple[str, ...]
    active: bool = False
    automatic_rename: bool = False


@dataclass(frozen=True)
class RevivePlan:
    """What a revive of ``session_id`` creates, and the warnings it has to give."""

    session_id: str
    name: str
    socket: str
    directory: str
    windows: tuple[WindowPlan, ...]
    recorded_at: str | None
    warnings: tuple[str, ...] = ()


@dataclass
class Revived:
    """What :func:`carry_out` made."""

    name: str
    tmux_id: str
    server: str
    server_started: bool
    windows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def recorded_windows(session: SessionRecord) -> tuple[str | None, list[dict[str, Any]]]:
    """The session's window record (its time and windows), or ``(None, [])`` if there is none."""
    record = session.metadata.get(LAYOUT_KEY)
    if not isinstance(record, dict):
        return None, []
    windows = record.get("windows")
    if not isinstance(windows, list):
        return None, []
    at = record.get("recorded_at")
    return (at if isinstance(at, str) else None), [w for w in windows if isinstance(w, dict)]


def socket_of_session(session: SessionRecord) -> str:
    """The socket path of the server the session lived on (the default server if unknown)."""
    if session.tmux_server:
        return session.tmux_server.rsplit("#", 1)[0]
    return default_socket_path()


def plan_revive(
    session: SessionRecord,
    *,
    home: str,
    is_dir: Callable[[str], bool] = os.path.isdir,
) -> RevivePlan:
    """What reviving ``session`` recreates; directories that are gone become ``home``."""
    warnings: list[str] = []
    missing: set[str] = set()

    def usable(path: str | None, fallback: str, what: str) -> str:
        if not path:
            return fallback
        if is_dir(path):
            return path
        if path not in missing:
            missing.add(path)
            warnings.append(f"{path} no longer exists; {what} opens in {home} instead")
        return home

    directory = usable(session.directory, home, "the session")
    at, recorded = recorded_windows(session)
    windows: list[WindowPlan] = []
    for raw in sorted(recorded, key=lambda w: _int(w.get("index"))):
        name = str(raw.get("name") or "")
        layout = str(raw.get("layout") or "")
        panes = _panes_in_layout_order(raw.get("panes"), layout)
        label = f"window {name!r}" if name else "a window"
        dirs = tuple(usable(p, directory, label) for p in panes) or (directory,)
        windows.append(
            WindowPlan(
                index=_int(raw.get("index")),
                name=name,
                layout=layout,
                directories=dirs,
                active=bool(raw.get("active")),
                automatic_rename=bool(raw.get("automatic_rename")),
            )
        )
    if not windows:
        # Recorded before windows were (or by another tool): one window where it started.
        windows.append(WindowPlan(index=0, name="", layout="", directories=(directory,)))
        warnings.append("no windows were recorded for it: it gets one window")
    return RevivePlan(
        session_id=session.id,
        name=session.name,
        socket=socket_of_session(session),
        directory=directory,
        windows=tuple(_distinct_indexes(windows)),
        recorded_at=at,
        warnings=tuple(warnings),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _panes_in_layout_order(panes: Any, layout: str) -> list[str]:
    """The panes' directories in the order ``select-layout`` assigns panes to cells."""
    if not isinstance(panes, list):
        return []
    items = [(str(p.get("id", "")), str(p.get("path", ""))) for p in panes if isinstance(p, dict)]
    order = ["%" + m for m in _LEAF.findall(layout)]
    by_id = dict(items)
    if sorted(order) == sorted(by_id) and len(order) == len(items):
        return [by_id[i] for i in order]
    return [path for _, path in items]


def _distinct_indexes(windows: list[WindowPlan]) -> list[WindowPlan]:
    """Windows with unique indexes (a damaged record could repeat one): later ones move up."""
    seen: set[int] = set()
    out = []
    for w in windows:
        index = max(w.index, 0)
        while index in seen:
            index += 1
        seen.add(index)
        out.append(w if index == w.index else WindowPlan(**{**w.__dict__, "index": index}))
    return out


def layout_size(layout: str) -> tuple[int, int] | None:
    """A layout's width and height (``b25d,80x24,0,0,1`` -> ``(80, 24)``)."""
    m = _SIZE.match(layout)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_name(name: str) -> str:
    """A session name tmux takes as it is (tmux would turn ``.`` and ``:`` into ``_``)."""
    if not name or any(c in name for c in ".:") or any(ord(c) < 32 for c in name):
        raise UsageError(
            f"not a usable tmux session name: {name!r}",
            hint="a session name cannot be empty or contain '.', ':' or control characters",
        )
    return name


def free_name(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... when a session of that name exists."""
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


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
