"""The picker's screen as lines of text (pure): what the user sees for a given state.

:func:`render` takes a :class:`Screen` (the query, the results, the selection, an error, the
preview) and a terminal size, and returns one string per row, each at most ``width`` columns
wide (ANSI styles do not count), plus the column where the cursor goes on the query line. The
app writes them in one go; the tests read the same text back through ``tmux capture-pane``.
"""

from __future__ import annotations

import os

from watcher.cli.output import display_width, relative_time

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from datetime import datetime

    from store.reads import HistoryRecord, SessionRecord
    from store.search import SearchHit

    Row = SearchHit | SessionRecord  # a result: a search's hit, or a session as listed

PROMPT = "> "
HELP = "type to search · ↑↓ Ctrl-N/P move · Enter go · Esc quit"
SEARCHING = "searching…"
_PREVIEW_MAX = 12
_STATUS_WIDTH = 8
_WHEN_WIDTH = 8


class Preview:
    """What the preview shows of one session: its record, its open windows (by name, in
    order), and its newest events, newest first."""

    __slots__ = ("events", "session", "windows")

    def __init__(
        self, session: SessionRecord, windows: list[str], events: list[HistoryRecord]
    ) -> None:
        self.session = session
        self.windows = windows
        self.events = events


class Screen:
    """The picker's state as the view needs it."""

    __slots__ = (
        "color",
        "database",
        "empty",
        "error",
        "hits",
        "host",
        "limit",
        "now",
        "preview",
        "query",
        "searching",
        "selected",
        "top",
    )

    def __init__(
        self, *, database: str, limit: int, color: bool, now: datetime, host: str | None = None
    ) -> None:
        self.database = database
        self.host = host  # this machine's (watcher.host): another host's sessions are not here
        self.limit = limit
        self.color = color
        self.now = now
        self.query = ""
        self.hits: list[Row] = []
        self.selected = 0
        self.top = 0  # the first hit shown (the list scrolls to keep the selection in view)
        self.searching = False
        # A mistake in the query: (message, position in the query, hint or None).
        self.error: tuple[str, int, str | None] | None = None
        self.empty = False  # the database holds no session at all
        self.preview: Preview | None = None


def layout(height: int) -> tuple[int, int]:
    """Rows for the result list and for the preview (its title line included) at ``height``."""
    body = max(1, height - 2)  # the query line and the help/error line
    preview = 0 if height < 10 else min(_PREVIEW_MAX, body // 2)
    return max(1, body - preview), preview


def fit(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` columns."""
    if width <= 0:
        return ""
    shown = display_width(text)
    if shown <= width:
        return text + " " * (width - shown)
    cut: list[str] = []
    used = 0
    for char in text:
        w = display_width(char)
        if used + w > width - 1:
            break
        cut.append(char)
        used += w
    return "".join(cut) + "…" + " " * (width - 1 - used)


def _style(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text


def _printable(text: str) -> str:
    """Control characters (a session name may hold anything) shown as spaces, never sent to
    the terminal."""
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def render(screen: Screen, width: int, height: int) -> tuple[list[str], int]:
    """The lines of the screen and the cursor's column on the first line."""
    # One column short of the edge: a character in the last column leaves the cursor in the
    # "wrap pending" state, where the erase-to-end-of-line that follows would erase it.
    width = max(10, width - 1)
    lines = [_query_line(screen, width), _second_line(screen, width)]
    list_rows, preview_rows = layout(height)
    lines.extend(_list_lines(screen, width, list_rows))
    if preview_rows:
        lines.extend(_preview_lines(screen, width, preview_rows))
    cursor = min(width - 1, display_width(PROMPT + _printable(screen.query)))
    return lines[:height], cursor


def _query_line(screen: Screen, width: int) -> str:
    if screen.searching:
        status = SEARCHING
    elif screen.empty:
        status = "no sessions"
    else:
        count = len(screen.hits)
        more = "+" if count >= screen.limit else ""
        status = f"{count}{more} session{'' if count == 1 else 's'}"
    query = PROMPT + _printable(screen.query)
    room = width - display_width(status) - 2
    if room < display_width(query) + 1:
        return fit(query, width)
    return fit(query, room) + "  " + _style(status, "2", screen.color)


def _second_line(screen: Screen, width: int) -> str:
    if screen.error is None:
        return _style(fit(HELP, width).rstrip(), "2", screen.color)
    message, position, hint = screen.error
    # The caret sits under the query character the mistake is at.
    pad = display_width(PROMPT + _printable(screen.query[:position]))
    text = f"{' ' * pad}^ {message}" + (f" ({hint})" if hint else "")
    if display_width(text) > width:
        text = f"^ {message} at position {position + 1}" + (f" ({hint})" if hint else "")
    return _style(fit(text, width).rstrip(), "31", screen.color)


def _list_lines(screen: Screen, width: int, rows: int) -> list[str]:
    if screen.empty:
        notice = [
            "No sessions recorded yet.",
            f"Database: {screen.database}",
            "Start the watcher (`ccmgr-watch run`, or ./scripts/watch), work in tmux,",
            "and your sessions show up here. Esc to leave.",
        ]
        return [fit(f"  {line}", width) for line in notice][:rows] + [""] * (rows - len(notice))
    if not screen.hits:
        text = "" if screen.searching or screen.error else "  No sessions match."
        return [text] + [""] * (rows - 1)
    # Keep the selection in view: scroll by as little as needed.
    if screen.selected < screen.top:
        screen.top = screen.selected
    elif screen.selected >= screen.top + rows:
        screen.top = screen.selected - rows + 1
    shown = screen.hits[screen.top : screen.top + rows]
    narrow = width < 70
    project_w = 0 if narrow else min(14, max(7, width // 9))
    branch_w = 0 if narrow else min(22, max(8, width // 6))
    fixed = 2 + _STATUS_WIDTH + 1 + _WHEN_WIDTH + 1
    fixed += (project_w + 1 if project_w else 0) + (branch_w + 1 if branch_w else 0)
    name_w = max(6, width - fixed)
    lines: list[str] = []
    for offset, hit in enumerate(shown):
        chosen = screen.top + offset == screen.selected
        parts = [
            ("> " if chosen else "  ") + fit(_printable(hit.name), name_w),
            fit(hit.status, _STATUS_WIDTH),
        ]
        if project_w:
            parts.append(fit(_printable(hit.project or "-"), project_w))
        if branch_w:
            parts.append(fit(_printable(hit.branch or "-"), branch_w))
        parts.append(fit(relative_time(hit.last_access, now=screen.now), _WHEN_WIDTH))
        line = fit(" ".join(parts), width)
        if chosen:
            line = _style(line, "7", screen.color)
        elif hit.status == "ended":
            line = _style(line, "2", screen.color)
        lines.append(line)
    return lines + [""] * (rows - len(lines))


def server_label(server: str | None) -> str:
    """A stored server key (``<socket path>#<pid>@<start>``) as a person names the server: the
    ``-L`` name for a socket in tmux's folder, else the socket path."""
    if not server:
        return "unknown server"
    socket = server.rsplit("#", 1)[0]
    folder, name = os.path.split(socket)
    return name if os.path.basename(folder).startswith("tmux-") else socket


def _home(path: str | None) -> str:
    if not path:
        return "-"
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


def _preview_lines(screen: Screen, width: int, rows: int) -> list[str]:
    preview = screen.preview
    if preview is None or screen.empty or not screen.hits:
        return [""] * rows
    s = preview.session
    now = screen.now
    title = f"── {_printable(s.name)} · {s.status} "
    lines = [_style(fit(title + "─" * width, width), "1", screen.color)]
    where = f"server {server_label(s.tmux_server)}" + (f" {s.tmux_id}" if s.tmux_id else "")
    if s.host:  # recorded since sql/004; tells machines apart in a shared store
        where = f"{_printable(s.host)}: {where}"
    lines.append(fit(f"where    {where} · dir {_printable(_home(s.directory))}", width))
    about = [
        f"{label} {_printable(value)}"
        for label, value in (("project", s.project), ("branch", s.branch), ("worktree", s.worktree))
        if value
    ]
    if about:
        lines.append(fit("         " + " · ".join(about), width))
    when = f"created {relative_time(s.created_at, now=now)} ({s.created_at[:16].replace('T', ' ')})"
    when += f" · last used {relative_time(s.last_access, now=now)}"
    if s.ended_at:
        when += f" · ended {relative_time(s.ended_at, now=now)}"
    lines.append(fit(f"when     {when}", width))
    names = ", ".join(_printable(n) for n in preview.windows) if preview.windows else "-"
    lines.append(fit(f"windows  {len(preview.windows)}: {names}", width))
    if s.status == "ended":
        go = "Enter: revive it"
    elif s.host and screen.host and s.host != screen.host:
        # Its tmux server is on that machine: Enter prints how to get there (watcher.pick.go).
        go = f"on host {_printable(s.host)}, not this one: Enter prints the ssh command"
    else:
        go = "Enter: switch to it"
    room = rows - len(lines) - 1
    for index, event in enumerate(preview.events[: max(0, room)]):
        label = "events   " if index == 0 else "         "
        detail = event.data.get("window_name") or event.data.get("name") or ""
        text = f"{relative_time(event.timestamp, now=now):>8}  {event.event_type}"
        lines.append(fit(f"{label}{text} {_printable(str(detail))}".rstrip(), width))
    lines = lines[: rows - 1]
    lines += [""] * (rows - 1 - len(lines))
    lines.append(_style(fit(go, width).rstrip(), "2", screen.color))
    return lines
