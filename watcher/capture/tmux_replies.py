"""tmux's answers, parsed: the listing formats the watcher asks for and the records they give.

Pure: no I/O. The control client (:mod:`watcher.capture.tmux_client`) sends the formats and
hands the reply lines here; the probe (:mod:`watcher.capture.tmux_probe`) does the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from watcher.capture.events import PaneShape, WindowShape
from watcher.capture.tracker import ClientInfo, SessionInfo, WindowInfo
from watcher.errors import ProtocolError

SEP = "\x1f"  # unit separator: names are vis-encoded by tmux, so it never occurs inside one

SESSION_FORMAT = SEP.join(
    [
        "#{session_id}",
        "#{session_name}",
        "#{session_created}",
        "#{session_attached}",
        "#{session_windows}",
        "#{session_activity}",
        "#{session_last_attached}",
        # Paths are not escaped by tmux; a newline in one would split the record (reference
        # §2.6). Inside double quotes tmux turns \n into a newline and \\\\ into \\, so the
        # substitution replaces each newline with the two characters backslash-n.
        "#{s/\\n/\\\\\\\\n/:session_path}",
    ]
)
CLIENT_FORMAT = SEP.join(
    ["#{client_name}", "#{session_id}", "#{client_control_mode}", "#{client_pid}"]
)
PANE_SEP = "\x1e"  # between the panes of a window
PANE_FIELD_SEP = "\x1d"  # between a pane's id and its path
# A pane's current directory, like session_path above: a newline becomes backslash-n, and the
# three separators become '?' (a path holding one cannot be restored anyway; it would break
# the record). Two substitutions in one expansion need tmux 3.2, the oldest we support. A pane
# listed the instant it starts has no current directory yet (tmux asks its foreground process):
# then the one it was started in (pane_start_path, 3.3+; empty when none was given).
_PANE_PATH = (
    "#{s/\\n/\\\\\\\\n/;s/[\x1d\x1e\x1f]/?/:"
    "#{?pane_current_path,#{pane_current_path},#{pane_start_path}}}"
)
SHAPE_FORMAT = SEP.join(
    [
        "#{window_index}",
        "#{window_active}",
        "#{automatic-rename}",
        "#{window_layout}",
        "#{P:" + PANE_SEP + "#{pane_id}" + PANE_FIELD_SEP + _PANE_PATH + "}",
    ]
)
"""What reviving needs of a window (:class:`~.events.WindowShape`): five fields. Sent inside
double quotes (the substitutions need tmux's escapes)."""
SHAPE_FIELDS = 5
WINDOW_FORMAT = SEP.join(["#{session_id}", "#{window_id}", "#{window_name}", SHAPE_FORMAT])
INFO_FORMAT = SEP.join(["#{client_name}", "#{session_id}", "#{pid}", "#{start_time}"])


class ProbeResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a running server looks like from outside: its sessions and where humans are."""

    sessions: tuple[str, ...]
    human_sessions: tuple[str, ...]


def _id_number(session_id: str) -> int:
    try:
        return int(session_id.lstrip("$"))
    except ValueError:
        return 1 << 62


PROBE_SESSIONS = ["list-sessions", "-F", "S" + SEP + "#{session_id}"]
PROBE_CLIENTS = ["list-clients", "-F", "C" + SEP + "#{session_id}" + SEP + "#{client_control_mode}"]


def parse_probe(output: str) -> ProbeResult:
    """The probe's answer (:data:`PROBE_SESSIONS` then :data:`PROBE_CLIENTS` lines)."""
    sessions: list[str] = []
    humans: set[str] = set()
    for raw in output.splitlines():
        fields = raw.split(SEP)
        if fields[0] == "S" and len(fields) == 2:
            sessions.append(fields[1])
        elif fields[0] == "C" and len(fields) == 3 and fields[2] != "1" and fields[1]:
            humans.add(fields[1])
    sessions.sort(key=_id_number)
    return ProbeResult(
        sessions=tuple(sessions),
        human_sessions=tuple(s for s in sessions if s in humans),
    )


def choose_session(probe: ProbeResult, *, avoid: Sequence[str] = ()) -> str | None:
    """The session the watcher attaches to, or None when there is none.

    The lowest-numbered session that already has a human client, else the lowest-numbered
    session. Joining a session a human already uses changes nothing a user can see (it is
    attached already, so a plain ``tmux attach``, which prefers unattached sessions, is not
    diverted); the lowest id is the oldest session, so the choice is stable across reconnects.
    Sessions in ``avoid`` (e.g. one we were just kicked from) are used only as a last resort.
    """
    for pool in (probe.human_sessions, probe.sessions):
        for session in pool:
            if session not in avoid:
                return session
    return probe.human_sessions[0] if probe.human_sessions else next(iter(probe.sessions), None)


class ServerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who we are on the server: own client name, own session, server pid and start time."""

    client_name: str
    session_id: str
    pid: int
    start_time: int


def parse_server_info(lines: Sequence[str]) -> ServerInfo:
    """The reply to ``display-message -p INFO_FORMAT``."""
    fields = lines[0].split(SEP) if lines else []
    if len(fields) != 4 or not fields[2].isdigit() or not fields[3].isdigit():
        raise ProtocolError(
            f"unexpected display-message reply: {lines!r}",
            hint="check `tmux -V` (3.2 or newer is supported)",
        )
    return ServerInfo(
        client_name=fields[0],
        session_id=fields[1],
        pid=int(fields[2]),
        start_time=int(fields[3]),
    )


def parse_clients(lines: Sequence[str]) -> list[ClientInfo]:
    """The reply to ``list-clients -F CLIENT_FORMAT``."""
    clients = []
    for line in lines:
        fields = line.split(SEP)
        if len(fields) != 4:
            raise ProtocolError(
                f"unexpected list-clients line: {line[:200]!r}",
                hint="check `tmux -V` (3.2 or newer is supported)",
            )
        name, sid, control, pid = fields
        clients.append(ClientInfo(name=name, session_id=sid, control=control == "1", pid=_int(pid)))
    return clients


def parse_windows(lines: Sequence[str]) -> list[WindowInfo]:
    """The reply to ``list-windows -F WINDOW_FORMAT``."""
    windows = []
    for text in lines:
        fields = text.split(SEP)
        if len(fields) != 3 + SHAPE_FIELDS:
            raise ProtocolError(
                f"unexpected list-windows line: {text[:200]!r}",
                hint="check `tmux -V` (3.2 or newer is supported)",
            )
        sid, wid, name = fields[:3]
        windows.append(
            WindowInfo(
                session_id=sid, window_id=wid, name=name, shape=shape_of(wid, name, fields[3:])
            )
        )
    return windows


def shape_of(window_id: str, name: str, fields: Sequence[str]) -> WindowShape:
    """A window's shape from the :data:`SHAPE_FORMAT` fields of a listing."""
    index, active, automatic, layout, panes = fields
    return WindowShape(
        window_id=window_id,
        index=_int(index, -1),
        name=name,
        active=active == "1",
        automatic_rename=automatic == "1",
        layout=layout,
        panes=parse_panes(panes),
    )


def parse_panes(text: str) -> tuple[PaneShape, ...]:
    """``\\x1e%1\\x1d/path\\x1e%2\\x1d/other`` (the pane loop of :data:`SHAPE_FORMAT`)."""
    panes = []
    for item in text.split(PANE_SEP):
        pane_id, sep, path = item.partition(PANE_FIELD_SEP)
        if sep:
            panes.append(PaneShape(pane_id, path))
    return tuple(panes)


def session_of(line: str) -> SessionInfo:
    """One line of ``SESSION_FORMAT``."""
    # The path comes last and is not vis-encoded: it may itself contain the separator.
    fields = line.split(SEP, 7)
    if len(fields) != 8:
        raise ProtocolError(
            f"unexpected session line: {line[:200]!r}",
            hint="check `tmux -V` (3.2 or newer is supported)",
        )
    sid, name, created, attached, windows, activity, last_attached, path = fields
    return SessionInfo(
        session_id=sid,
        name=name,
        created=_int(created),
        attached=_int(attached),
        windows=_int(windows),
        activity=_opt_int(activity),
        last_attached=_opt_int(last_attached),
        path=path,
    )


def benign_exit(reason: str) -> bool:
    """Whether a ``%exit`` reason is an ordinary end (detach, killed session, stopped server)."""
    # tmux's %exit reasons for a detach, a killed session or a stopped server (client.c).
    return reason.startswith("detached") or reason in ("exited", "server exited")


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _opt_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
