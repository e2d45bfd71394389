"""What ``ccmgr-watch revive`` would recreate of a stored session: no tmux, no database.

:func:`plan_revive` turns a stored session into a :class:`RevivePlan`: the name, the start
directory and every window (index, name, layout, the panes' directories in layout order), with
a warning for each directory that no longer exists (the home folder stands in). ``session show``
prints it for an ended session; :mod:`watcher.revive` carries it out. What was recorded comes
from the watcher's window records (``metadata.tmux_windows``, see
:class:`watcher.capture.events.WindowShape`). Cheap to import (``session show`` is a read
command): no msgspec, no dataclasses, no pathlib.
"""

from __future__ import annotations

import os
import re

from store.columns import LAYOUT_KEY
from store.errors import UsageError
from store.values import Value

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from store.reads import SessionRecord

COMMAND_ENV = "CCMGR_WATCH_REVIVE_COMMAND"
"""For tests only: the command every revived pane runs instead of the user's default shell."""

_LEAF = re.compile(r"\d+x\d+,\d+,\d+,(\d+)")
_SIZE = re.compile(r"^[0-9a-f]{4},(\d+)x(\d+),")


class WindowPlan(Value):
    """One window to create: ``directories`` has one entry per pane, in the layout's order."""

    __match_args__ = ("index", "name", "layout", "directories", "active", "automatic_rename")
    __slots__ = __match_args__
    index: int
    name: str
    layout: str
    directories: tuple[str, ...]
    active: bool
    automatic_rename: bool

    def __init__(
        self,
        *,
        index: int,
        name: str,
        layout: str,
        directories: tuple[str, ...],
        active: bool = False,
        automatic_rename: bool = False,
    ) -> None:
        super().__init__(index, name, layout, directories, active, automatic_rename)


class RevivePlan(Value):
    """What a revive of ``session_id`` creates, and the warnings it has to give."""

    __match_args__ = (
        "session_id",
        "name",
        "socket",
        "directory",
        "windows",
        "recorded_at",
        "warnings",
    )
    __slots__ = __match_args__
    session_id: str
    name: str
    socket: str
    directory: str
    windows: tuple[WindowPlan, ...]
    recorded_at: str | None
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        session_id: str,
        name: str,
        socket: str,
        directory: str,
        windows: tuple[WindowPlan, ...],
        recorded_at: str | None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(session_id, name, socket, directory, windows, recorded_at, warnings)


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
    from watcher.capture.tmux_address import default_socket_path

    return default_socket_path()


def plan_revive(
    session: SessionRecord,
    *,
    home: str,
    is_dir: Callable[[str], bool] | None = None,
    socket: str | None = None,
) -> RevivePlan:
    """What reviving ``session`` recreates; directories that are gone become ``home``.
    ``socket`` is the server to recreate it on (default: the one it was recorded on)."""
    is_dir = is_dir or os.path.isdir
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
        socket=socket or socket_of_session(session),
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
        out.append(w if index == w.index else WindowPlan(**{**w.as_dict(), "index": index}))
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
