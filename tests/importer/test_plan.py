"""The merge rules and the export format, pure: values in, plans and bytes out."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from store.reads import SessionRecord
from watcher.importer.export import go_time, render_state
from watcher.importer.formats import ImportedSession, ParsedFile, parse_json_state
from watcher.importer.plan import Lookup, build_plan

NOW = "2026-11-27T12:00:00.000000Z"
SERVER = "/tmp/tmux-1000/default#1@2"


def stored(**changes: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "id": "s-1",
        "name": "work",
        "created_at": "2026-01-01T10:00:00.000000Z",
        "updated_at": "2026-01-01T12:00:00.000000Z",
        "last_access": "2026-01-01T12:00:00.000000Z",
        "project": "mine",
        "directory": "/w",
        "metadata": {"enriched_from": "git", "k": "old"},
        "status": "detached",
        "tmux_server": SERVER,
        "tmux_id": "$1",
    }
    values.update(changes)
    return SessionRecord(**values)


def incoming(**changes: Any) -> ImportedSession:
    values: dict[str, Any] = {
        "id": "work",
        "name": "work",
        "created_at": "2026-01-01T10:00:01.000000Z",
        "last_access": "2026-01-01T11:00:00.000000Z",
        "project": "theirs",
        "branch": "feat",
        "directory": "/elsewhere",
        "metadata": {"k": "new", "extra": 1},
    }
    values.update(changes)
    return ImportedSession(**values)


def plan_of(*sessions: ImportedSession, existing: list[SessionRecord] | None = None) -> Any:
    parsed = ParsedFile(file="/f.json", format="tmux-sessions.json", sessions=list(sessions))
    return build_plan([parsed], Lookup(sessions=existing or []), now=NOW)


def test_an_older_file_only_fills_what_is_empty() -> None:
    plan = plan_of(incoming(), existing=[stored()])
    assert [a.action for a in plan.actions] == ["merge"]
    assert plan.actions[0].matched_by == "name and creation time"
    (update,) = plan.updates
    assert update.id == "s-1"
    assert update.changes == {
        "branch": "feat",
        "metadata": {"enriched_from": "git", "k": "old", "extra": 1},
    }
    assert [e.event_type for e in plan.events] == ["imported"]
    assert plan.events[0].data == {
        "file": "/f.json",
        "format": "tmux-sessions.json",
        "action": "merged",
        "source_id": "work",
        "fields": ["branch", "metadata"],
    }


def test_a_newer_file_wins_field_by_field_but_not_status_or_identity() -> None:
    plan = plan_of(
        incoming(
            id="s-1", last_access="2026-01-02T00:00:00.000000Z", tmux_server="x", tmux_id="$9"
        ),
        existing=[stored()],
    )
    changes = plan.updates[0].changes
    assert changes["project"] == "theirs" and changes["directory"] == "/elsewhere"
    assert changes["last_access"] == "2026-01-02T00:00:00.000000Z"
    assert changes["metadata"]["k"] == "new"
    assert not {"status", "ended_at", "tmux_server", "tmux_id"} & set(changes)


def test_creation_times_further_apart_are_different_sessions() -> None:
    plan = plan_of(incoming(created_at="2026-01-01T10:00:03.000000Z"), existing=[stored()])
    assert [a.action for a in plan.actions] == ["add"]
    (added,) = plan.adds
    assert added.status == "ended" and added.tmux_id is None


def test_two_watcher_sessions_of_that_name_and_moment_match_neither() -> None:
    twins = [stored(), stored(id="s-2", tmux_server="/other#3@4")]
    assert [a.action for a in plan_of(incoming(), existing=twins).actions] == ["add"]


def test_only_recorded_sessions_match_by_name() -> None:
    imported_before = stored(id="other", tmux_server=None, tmux_id=None)
    assert [a.action for a in plan_of(incoming(), existing=[imported_before]).actions] == ["add"]


def test_the_tmux_identity_matches_first() -> None:
    plan = plan_of(
        incoming(
            id="s-1", tmux_server=SERVER, tmux_id="$1", created_at="2020-01-01T00:00:00.000000Z"
        ),
        existing=[stored(id="s-zzz"), stored(id="s-1", tmux_server="/o#1@1")],
    )
    assert plan.actions[0].matched_by == "tmux identity" and plan.actions[0].into == "s-zzz"


def test_a_later_file_merges_into_what_an_earlier_added() -> None:
    first = ParsedFile(file="/a", format="state.json", sessions=[incoming(project=None)])
    second = ParsedFile(file="/b", format="tmux-sessions.json", sessions=[incoming()])
    plan = build_plan([first, second], Lookup(), now=NOW)
    assert [a.action for a in plan.actions] == ["add", "merge"]
    assert len(plan.adds) == 1 and plan.adds[0].project == "theirs" and plan.updates == []


def test_applying_a_plan_twice_is_a_fixed_point() -> None:
    plan = plan_of(incoming(), existing=[stored()])
    after = stored(**plan.updates[0].changes)
    again = plan_of(incoming(), existing=[after])
    assert [a.action for a in again.actions] == ["skip"] and not again.writes_anything


@pytest.mark.parametrize(
    ("stored_text", "go"),
    [
        ("2026-11-26T10:50:58.123400Z", "2026-11-26T10:50:58.1234Z"),
        ("2026-11-26T10:50:58.000000Z", "2026-11-26T10:50:58Z"),
        (None, "0001-01-01T00:00:00Z"),
    ],
)
def test_go_time(stored_text: str | None, go: str) -> None:
    assert go_time(stored_text) == go


def test_render_then_parse_gives_the_same_sessions() -> None:
    session = stored(metadata={"b": 1, "a": {"z": 2, "y": 3}, "ccmgr_ultra": {"last_state": 3}})
    data = render_state([session])
    assert json.loads(data)["s-1"]["metadata"] == {
        "a": {"y": 3, "z": 2},
        "b": 1,
        "ccmgr_watch": {
            "ended_at": None,
            "status": "detached",
            "tmux_id": "$1",
            "tmux_server": SERVER,
        },
    }
    back = parse_json_state(data, "x", fallback_time=NOW).sessions[0]
    assert (back.id, back.name, back.created_at, back.last_access) == (
        "s-1",
        "work",
        session.created_at,
        session.last_access,
    )
    assert back.metadata == session.metadata
    assert (back.tmux_server, back.tmux_id, back.status) == (SERVER, "$1", "detached")


def test_the_pure_modules_do_no_io() -> None:
    root = Path(__file__).resolve().parents[2] / "watcher" / "importer"
    banned = {"anyio", "sqlite3", "aiosqlite", "subprocess", "os", "shutil", "store.db"}
    for name in ("formats.py", "plan.py", "export.py"):
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                found = {node.module or ""}
            else:
                continue
            assert not found & banned, (name, found)


def test_a_file_session_with_its_own_tmux_identity_never_matches_by_name() -> None:
    # Two sessions of one name created in the same second on two servers: both kept.
    other = incoming(id="s-2", tmux_server="/other#3@4", tmux_id="$1")
    assert [a.action for a in plan_of(other, existing=[stored()]).actions] == ["add"]
