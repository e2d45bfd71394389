"""The real `ccmgr-watch run` and a config with problems: apply what is valid, keep the last good.

Issue 8.4: a typo in a section the watcher never reads must not make it drop its own `watcher:`
section (and so watch the wrong server); the problem is logged once. Issue 9 §4: a config path
that is a FIFO or a link loop, at start or while running, neither hangs nor kills the watcher.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env, query, wait_until

pytestmark = pytest.mark.tmux


@pytest.fixture
def sockets(tmp_path: Path) -> Path:
    """A private TMUX_TMPDIR: the watcher's "default server" there does not exist."""
    folder = tmp_path / "s"
    folder.mkdir()
    return folder


@pytest.fixture
def server(sockets: Path) -> Iterator[Tmux]:
    tmux = Tmux(sockets)
    try:
        yield tmux
    finally:
        tmux.kill_server()


@pytest.fixture
def config(_isolated_home: Path) -> Path:
    path = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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


def test_a_typo_elsewhere_keeps_the_watcher_section_and_is_logged_once(
    config: Path, tmp_path: Path, sockets: Path, server: Tmux
) -> None:
    save(
        config,
        "version: 2.1.0\ntmux:\n    monitor_interval: fast\n"
        f"watcher:\n    socket_names: [{server.name}]\n    batch_size: 9\n",
    )
    server.new("from-config")
    db = tmp_path / "data.db"
    # No -L: only the config's watcher.socket_names names the private server.
    watcher = Watcher(db, env={"TMUX_TMPDIR": str(sockets)}).start()
    try:
        watcher.wait_connected()
        wait_until(lambda: recorded(db, "from-config"), what="the configured server's session")
        state = status(db)
        assert [s["socket"] for s in state["servers"]] == [server.socket]
        assert state["batch_size"] == 9
        assert f"{config}:3:5: tmux.monitor_interval" in state["config_error"]
    finally:
        assert watcher.stop() == 0
    err = watcher.stderr()
    assert err.count("tmux.monitor_interval") == 1, err
    assert "Traceback" not in err


def test_an_invalid_edit_keeps_the_last_good_values_of_that_section_only(
    config: Path, tmp_path: Path, sockets: Path, server: Tmux
) -> None:
    save(config, f"version: 2.1.0\nwatcher:\n    socket_names: [{server.name}]\n")
    server.new("first")
    db = tmp_path / "data.db"
    watcher = Watcher(db, env={"TMUX_TMPDIR": str(sockets)}).start()
    try:
        watcher.wait_connected()
        # The watcher section breaks (batch_size), the search section is valid: the watcher
        # keeps its watcher section as it was, and takes nothing wrong from the edit.
        save(
            config,
            f"version: 2.1.0\nwatcher:\n    socket_names: [{server.name}]\n    batch_size: -4\n"
            "search:\n    default_limit: 7\n",
        )
        wait_until(lambda: status(db).get("config_error"), what="the error in the status")
        assert "watcher.batch_size" in status(db)["config_error"]
        assert status(db)["batch_size"] == 500
        server.new("still-recorded")
        wait_until(lambda: recorded(db, "still-recorded"), what="capture to go on")
    finally:
        assert watcher.stop() == 0
    assert "Traceback" not in watcher.stderr()


@pytest.mark.parametrize("kind", ["fifo", "loop"])
def test_a_special_config_at_start_and_while_running_neither_hangs_nor_kills(
    kind: str, config: Path, tmp_path: Path, server: Tmux
) -> None:
    def make_special() -> None:
        if kind == "fifo":
            os.mkfifo(config)
        else:
            other = config.with_name("other.yaml")
            os.symlink(other, config)
            os.symlink(config, other)

    make_special()
    server.new("one")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", server.name, env={"TMUX_TMPDIR": str(server.env["TMUX_TMPDIR"])})
    watcher.start()
    try:
        watcher.wait_connected()
        wait_until(lambda: recorded(db, "one"), what="capture despite the config")
        assert str(config) in status(db)["config_error"]

        # A good file, then the special one again while running: the good settings stay.
        config.unlink()
        config.with_name("other.yaml").unlink(missing_ok=True)
        save(config, "version: 2.1.0\nwatcher:\n    batch_size: 11\n")
        wait_until(lambda: status(db).get("batch_size") == 11, what="the good file to apply")
        wait_until(lambda: status(db).get("config_error") is None, what="the error to clear")
        config.unlink()
        make_special()
        wait_until(lambda: status(db).get("config_error"), what="the new error")
        assert status(db)["batch_size"] == 11
        server.new("two")
        wait_until(lambda: recorded(db, "two"), what="capture to go on")
        assert watcher.proc is not None and watcher.proc.poll() is None
    finally:
        assert watcher.stop() == 0
    assert "Traceback" not in watcher.stderr()


def test_without_db_a_fifo_config_does_not_stop_the_watcher_at_start(
    config: Path, server: Tmux
) -> None:
    """The database then comes from the files that can be read (here: the default path)."""
    os.mkfifo(config)
    server.new("one")
    db = config.parent / "data.db"  # the default database of this (private) home
    watcher = Watcher(db, "-L", server.name)
    env = clean_env(TMUX_TMPDIR=server.env["TMUX_TMPDIR"])
    env.pop("CCMGR_WATCH_DB", None)  # no --db, no $CCMGR_WATCH_DB: the config decides
    watcher.proc = subprocess.Popen(
        [CCMGR_WATCH, "run", "-L", server.name],
        env=env,
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        watcher.wait_connected()
        wait_until(lambda: recorded(db, "one"), what="capture into the default database")
        assert "FIFO" in status(db)["config_error"]
    finally:
        assert watcher.stop() == 0
