"""What a revive would create of a stored session (pure: no tmux, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from store.errors import UsageError
from store.reads import SessionRecord
from watcher.revive_plan import check_name, free_name, layout_size, plan_revive

TS = "2026-11-27T10:00:00.000000Z"
THREE = "c19e,80x24,0,0[80x12,0,0,7,80x11,0,13{40x11,0,13,9,39x11,41,13,8}]"


def stored(windows: list[dict[str, Any]] | None, directory: str | None = "/work") -> SessionRecord:
    metadata = {} if windows is None else {"tmux_windows": {"recorded_at": TS, "windows": windows}}
    return SessionRecord(
        id="s-1234567890abcdef",
        name="work",
        created_at=TS,
        updated_at=TS,
        last_access=TS,
        directory=directory,
        metadata=metadata,
        status="ended",
        tmux_server="/tmp/tmux-1/default#42@1795690000",
        tmux_id="$3",
    )


def exists(*paths: str):
    return lambda path: path in paths


def test_windows_in_index_order_with_panes_in_layout_order() -> None:
    windows = [
        {
            "index": 4,
            "name": "logs",
            "layout": "b25d,80x24,0,0,5",
            "panes": [{"id": "%5", "path": "/l"}],
        },
        {
            "index": 1,
            "name": "ed",
            "layout": THREE,
            "active": True,
            # tmux's pane order differs from the layout's cells (a swap-pane): the layout wins.
            "panes": [
                {"id": "%7", "path": "/a"},
                {"id": "%8", "path": "/c"},
                {"id": "%9", "path": "/b"},
            ],
        },
    ]
    plan = plan_revive(
        stored(windows), home="/home/u", is_dir=exists("/work", "/a", "/b", "/c", "/l")
    )
    assert plan.socket == "/tmp/tmux-1/default"
    assert [(w.index, w.name, w.directories, w.active) for w in plan.windows] == [
        (1, "ed", ("/a", "/b", "/c"), True),
        (4, "logs", ("/l",), False),
    ]
    assert plan.warnings == () and plan.recorded_at == TS


def test_missing_directories_become_home_with_one_warning_each() -> None:
    windows = [
        {"index": 0, "name": "a", "layout": "", "panes": [{"id": "%1", "path": "/gone"}]},
        {
            "index": 1,
            "name": "b",
            "layout": "",
            "panes": [{"id": "%2", "path": "/gone"}, {"id": "%3", "path": ""}],
        },
    ]
    plan = plan_revive(stored(windows, directory="/also-gone"), home="/home/u", is_dir=exists())
    assert plan.directory == "/home/u"
    assert [w.directories for w in plan.windows] == [("/home/u",), ("/home/u", "/home/u")]
    assert plan.warnings == (
        "/also-gone no longer exists; the session opens in /home/u instead",
        "/gone no longer exists; window 'a' opens in /home/u instead",
    )


def test_nothing_recorded_gives_one_window_in_the_start_directory() -> None:
    plan = plan_revive(stored(None), home="/home/u", is_dir=exists("/work"))
    assert [(w.index, w.directories) for w in plan.windows] == [(0, ("/work",))]
    assert "no windows were recorded" in plan.warnings[0]


def test_a_damaged_record_is_survived() -> None:
    windows: list[Any] = [
        "x",
        {"index": "7", "name": None, "panes": "no"},
        {"index": 0},
        {"index": 0},
    ]
    plan = plan_revive(stored(windows), home="/home/u", is_dir=exists("/work"))
    assert [w.index for w in plan.windows] == [0, 1, 2]
    assert all(w.directories == ("/work",) for w in plan.windows)


def test_names() -> None:
    assert free_name("w", ["x"]) == "w"
    assert free_name("w", ["w", "w-2"]) == "w-3"
    assert check_name("it's $(x); ü") == "it's $(x); ü"
    for bad in ("", "a.b", "a:b", "tab\there"):
        with pytest.raises(UsageError):
            check_name(bad)
    assert layout_size(THREE) == (80, 24) and layout_size("nonsense") is None
