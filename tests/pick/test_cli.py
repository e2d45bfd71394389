"""``ccmgr-watch pick`` as a process: its mistakes, --json, and the exec of revive."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, clean_env
from tests.pick.conftest import Picker, insert, session_row
from tests.pick.test_go import _revive_registered


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # A new session: no controlling terminal, as under cron or a service.
    return subprocess.run(
        [CCMGR_WATCH, "pick", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=30,
        check=False,
    )


def test_without_a_terminal_it_says_so(db: Path) -> None:
    done = run("--db", str(db))
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ccmgr-watch pick needs a terminal")
    assert "Hint: " in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("make", ["missing", "folder", "garbage"])
def test_a_database_that_cannot_be_used_is_refused(tmp_path: Path, make: str) -> None:
    path = tmp_path / "data.db"
    if make == "folder":
        path.mkdir()
    elif make == "garbage":
        path.write_bytes(b"not sqlite at all" * 100)
    done = run("--db", str(path))
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("Error: ") and "Hint: " in done.stderr
    assert "Traceback" not in done.stderr


def test_a_hostile_query_is_typed_text_not_a_command(picker: Picker, db: Path) -> None:
    marker = db.parent / "pwned"
    insert(db, [session_row(1, "x\x1b]2;title\x07y")])
    picker.start(db, "--print", "--", f"-status:ended $(touch {marker})")
    picker.wait_for("No sessions match.", "the first frame")
    picker.keys("C-u")
    screen = picker.wait_for("1 session", "every session")
    # Control characters in a name are shown as spaces, never sent to the terminal.
    assert "> x ]2;title y" in screen
    assert picker.tmux("display-message", "-p", "-t", "picker", "#{pane_title}").strip() != "title"
    picker.keys("Escape")
    assert picker.exit_status() == 1
    assert not marker.exists()


def test_json_prints_the_chosen_session(picker: Picker, db: Path) -> None:
    insert(db, [session_row(1, "one", project="myapp")])
    picker.start(db, "--json")
    picker.wait_for("1 session", "the first frame")
    picker.keys("Enter")
    assert picker.exit_status() == 0
    text = picker.screen()
    start = text.index("{")
    record = json.loads(text[start : text.index("\n}", start) + 2])
    assert record["id"] == "s-0000000000000001"
    assert record["project"] == "myapp"


@pytest.mark.skipif(
    _revive_registered(), reason="revive is registered: test_go revives for real instead"
)
def test_choosing_an_ended_session_execs_revive(picker: Picker, tmux: Tmux, db: Path) -> None:
    """Without ``revive`` on this branch, the exec'd CLI refuses the command: its message
    shows that ``ccmgr-watch --db DB revive ID --attach`` is what ran."""
    insert(db, [session_row(1, "old", status="ended")])
    picker.start(db)
    picker.wait_for("Enter: revive it", "the ended session's preview")
    picker.keys("Enter")
    assert picker.exit_status() == 2
    screen = picker.screen()
    assert "invalid choice: 'revive'" in screen
