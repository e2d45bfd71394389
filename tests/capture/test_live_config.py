"""The running watcher follows its config file: valid edits apply, broken ones are reported.

End to end: the real `ccmgr-watch run` process, configured only through the global config file,
against two real private tmux servers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.capture.tmuxenv import Tmux, Watcher, query, wait_until

pytestmark = pytest.mark.tmux


@pytest.fixture
def servers() -> Iterator[tuple[Tmux, Tmux]]:
    first, second = Tmux(), Tmux()
    try:
        yield first, second
    finally:
        first.kill_server()
        second.kill_server()


def save(path: Path, text: str) -> None:
    """Save the way editors do: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def status(db: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(db.with_name(db.name + ".watcher.json").read_text())
    except (OSError, ValueError):
        return {}
    return data


def recorded(db: Path, name: str) -> bool:
    return bool(query(db, "SELECT 1 FROM sessions WHERE name = ?", name))


def test_reload_applies_valid_edits_and_keeps_old_settings_on_a_broken_file(
    _isolated_home: Path, tmp_path: Path, servers: tuple[Tmux, Tmux]
) -> None:
    first, second = servers
    config = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    first.new("one-a")
    second.new("two-a")
    save(config, f"version: 2.1.0\nwatcher:\n    socket_names: [{first.name}]\n")
    db = tmp_path / "data.db"
    watcher = Watcher(db).start()  # no -L: the config says what to watch
    try:
        watcher.wait_connected()
        wait_until(lambda: recorded(db, "one-a"), what="the first server's session")
        assert not recorded(db, "two-a")

        # A valid edit: switch to the second server and change the batch size, no restart.
        save(
            config,
            f"version: 2.1.0\nwatcher:\n    socket_names: [{second.name}]\n    batch_size: 7\n",
        )
        wait_until(lambda: recorded(db, "two-a"), what="the second server after the edit")
        wait_until(lambda: status(db).get("batch_size") == 7, what="the new batch size")
        sockets = [s["socket"] for s in status(db)["servers"]]
        assert sockets == [second.socket]

        # A broken edit: reported with file and line; the watcher keeps the last good settings.
        save(config, "version: 2.1.0\nwatcher:\n    batch_size: lots\n")
        wait_until(lambda: status(db).get("config_error"), what="the config error in status")
        error = status(db)["config_error"]
        assert f"{config}:3:" in error and "watcher.batch_size" in error
        second.new("two-b")
        wait_until(lambda: recorded(db, "two-b"), what="capture to go on")
        assert status(db)["batch_size"] == 7 and watcher.proc and watcher.proc.poll() is None

        # Fixing the file clears the error, even when it restores the same settings.
        save(
            config,
            f"version: 2.1.0\nwatcher:\n    socket_names: [{second.name}]\n    batch_size: 7\n",
        )
        wait_until(lambda: status(db).get("config_error") is None, what="the error to clear")
    finally:
        assert watcher.stop() == 0
    assert "Traceback" not in watcher.stderr()


def test_a_broken_config_at_start_runs_on_defaults_and_says_so(
    _isolated_home: Path, tmp_path: Path, servers: tuple[Tmux, Tmux]
) -> None:
    first, _ = servers
    config = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    save(config, "version: 2.1.0\ntmux:\n\tmonitor_interval: 2s\n")
    first.new("still-recorded")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", first.name).start()
    try:
        watcher.wait_connected()
        wait_until(lambda: recorded(db, "still-recorded"), what="capture despite the config")
        assert "tab" in status(db)["config_error"]
    finally:
        assert watcher.stop() == 0
    assert "configuration not applied" in watcher.stderr()
