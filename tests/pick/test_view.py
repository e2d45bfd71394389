"""The picker's screen as text (pure): layout, narrowing, the error line, the empty state."""

from __future__ import annotations

from datetime import UTC, datetime

from store.reads import HistoryRecord, SessionRecord
from store.search import SearchHit
from watcher.cli.output import display_width
from watcher.pick.view import Preview, Screen, fit, layout, render, server_label
from watcher.pick.worker import open_windows

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
STAMP = "2026-11-27T11:00:00.000000Z"


def hit(n: int, name: str, status: str = "detached") -> SearchHit:
    return SearchHit(
        id=f"s-{n:016x}",
        name=name,
        project="myapp",
        worktree=None,
        branch="main",
        directory="/code/myapp",
        status=status,
        created_at=STAMP,
        updated_at=STAMP,
        last_access=STAMP,
        ended_at=None,
        metadata={},
    )


def screen(**fields: object) -> Screen:
    s = Screen(database="/x/data.db", limit=50, color=False, now=NOW)
    for key, value in fields.items():
        setattr(s, key, value)
    return s


def test_every_line_fits_the_width() -> None:
    hits = [hit(i, f"session-{'x' * i}-名前") for i in range(60)]
    for width, height in ((120, 40), (60, 15), (20, 5), (200, 60)):
        lines, cursor = render(screen(hits=hits, query="abc"), width, height)
        assert len(lines) <= height
        assert all(display_width(line) <= width - 1 for line in lines), (width, height)
        assert cursor == 5


def test_the_selection_is_marked_and_kept_in_view() -> None:
    hits = [hit(i, f"session-{i}") for i in range(50)]
    s = screen(hits=hits, selected=30)
    lines, _ = render(s, 100, 20)
    rows = layout(20)[0]
    marked = [line for line in lines if line.startswith("> session-")]
    assert marked == [line for line in lines if line.startswith("> session-30 ")]
    assert s.top == 30 - rows + 1


def test_a_mistake_points_at_its_place() -> None:
    s = screen(query="auth (x", error=("unbalanced '('", 5, "add a matching ')'"))
    lines, _ = render(s, 100, 20)
    assert lines[1].index("^") == len("> auth ")
    assert "unbalanced '('" in lines[1] and "add a matching ')'" in lines[1]


def test_the_empty_database_says_how_to_fill_it() -> None:
    text = "\n".join(render(screen(empty=True), 100, 20)[0])
    assert "No sessions recorded yet." in text
    assert "/x/data.db" in text and "ccmgr-watch run" in text


def test_no_match_is_said() -> None:
    assert "No sessions match." in "\n".join(render(screen(query="zz"), 100, 20)[0])


def test_control_characters_in_names_never_reach_the_terminal() -> None:
    lines, _ = render(screen(hits=[hit(1, "evil\x1b]0;pwned\x07name")]), 100, 20)
    assert not any("\x1b" in line or "\x07" in line for line in lines)


def test_the_preview_shows_where_when_windows_and_events() -> None:
    session = SessionRecord(
        id="s-1",
        name="work",
        created_at=STAMP,
        updated_at=STAMP,
        last_access=STAMP,
        project="myapp",
        branch="feat/x",
        directory="/code/myapp",
        status="ended",
        ended_at=STAMP,
        tmux_server="/tmp/tmux-1000/work#123@456@laptop",
        host="laptop",
        tmux_id="$3",
    )
    events = [HistoryRecord(1, "s-1", "work", "killed", STAMP, {})]
    s = screen(hits=[hit(1, "work", "ended")], preview=Preview(session, ["editor", "logs"], events))
    text = "\n".join(render(s, 120, 30)[0])
    for part in ("laptop: server work $3", "/code/myapp", "project myapp", "branch feat/x"):
        assert part in text
    assert "windows  2: editor, logs" in text
    assert "1h ago  killed" in text
    assert "Enter: revive it" in text


def test_fit_cuts_and_pads_by_columns() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc…"
    assert display_width(fit("名前名前", 5)) == 5


def test_server_label() -> None:
    assert server_label("/tmp/tmux-1000/default#1@2") == "default"
    assert server_label("/run/my.sock#1@2") == "/run/my.sock"
    assert server_label(None) == "unknown server"


def test_open_windows_replays_adds_closes_and_renames() -> None:
    events: list[tuple[str, dict[str, object]]] = [
        ("window_added", {"window_id": "@10", "window_name": "b"}),
        ("window_added", {"window_id": "@2", "window_name": "a"}),
        ("window_added", {"window_id": "@3", "window_name": "gone"}),
        ("window_closed", {"window_id": "@3", "window_name": "gone"}),
        ("window_renamed", {"window_id": "@2", "window_name": "editor"}),
    ]
    assert open_windows(events) == ["editor", "b"]
