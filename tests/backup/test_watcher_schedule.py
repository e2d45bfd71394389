"""The running watcher makes scheduled backups: its status shows the schedule, live edits apply."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env, wait_until

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    server.new("anchor")
    yield server
    server.kill_server()


def _config(schedule: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "ccmgr-ultra" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"backup:\n    schedule: {schedule}\n")
    return path


def _backup_state(db: Path) -> dict[str, object] | None:
    try:
        data = json.loads(db.with_name(db.name + ".watcher.json").read_text())
    except (OSError, ValueError):
        return None
    backup = data.get("backup")
    return backup if isinstance(backup, dict) else None


def test_status_shows_the_schedule_and_follows_a_live_edit(tmp_path: Path, tmux: Tmux) -> None:
    config = _config("hourly")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        state = wait_until(
            lambda: (s := _backup_state(db)) and s.get("next_at") and s, what="a backup schedule"
        )
        assert state["schedule"] == "hourly"
        shown = subprocess.run(
            [CCMGR_WATCH, "status"],
            env=clean_env(CCMGR_WATCH_DB=str(db)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert "next backup: " in shown.stdout
        assert "(schedule hourly)" in shown.stdout

        config.write_text("backup:\n    schedule: 'off'\n")
        wait_until(
            lambda: (s := _backup_state(db)) and s.get("schedule") == "off",
            timeout=20,
            what="the edited schedule",
        )
    finally:
        assert watcher.stop() == 0
