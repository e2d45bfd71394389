"""Backups beside a real `ccmgr-watch run` recording a private tmux server.

A backup is taken while the watcher writes (SQLite's online backup API); a restore is refused
while it runs (exit 6, with a hint to stop it), and after a stop the restore goes through and the
watcher, started again, records on the restored database.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env, query, wait_until

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


def ccmgr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CCMGR_WATCH, *args], capture_output=True, text=True, env=clean_env(), check=False
    )


def names(db: Path) -> set[str]:
    return {row[0] for row in query(db, "SELECT name FROM sessions WHERE status != 'ended'")}


def test_restore_while_a_watcher_records(tmp_path: Path, tmux: Tmux) -> None:
    db = tmp_path / "data.db"
    tmux.new("base")
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        tmux.new("alpha")
        wait_until(lambda: "alpha" in names(db), what="alpha recorded")

        made = ccmgr("backup", "create", "--full", "--db", str(db), "--json")
        assert made.returncode == 0, made.stderr
        backup_id = json.loads(made.stdout)["id"]

        tmux.new("gamma")
        wait_until(lambda: "gamma" in names(db), what="gamma recorded")
        refused = ccmgr("backup", "restore", backup_id, "--db", str(db))
        assert refused.returncode == 6
        assert "a watcher is recording" in refused.stderr and "stop it first" in refused.stderr
        # The watcher was not disturbed: it goes on recording.
        tmux.new("delta")
        wait_until(lambda: "delta" in names(db), what="delta recorded after the refusal")
        # A dry run only reads, so it may run beside the watcher.
        dry = ccmgr("backup", "restore", backup_id, "--db", str(db), "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["changes"]["sessions"]["removed"] == 2

        assert watcher.stop() == 0
        done = ccmgr("backup", "restore", backup_id, "--db", str(db))
        assert done.returncode == 0, done.stderr
        assert names(db) == {"base", "alpha"}

        # Started again, the watcher records on the restored database and reconciles it with
        # tmux: the sessions created after the backup come back as discovered.
        watcher = Watcher(db, "-L", tmux.name).start()
        watcher.wait_connected()
        wait_until(lambda: names(db) == {"base", "alpha", "gamma", "delta"}, what="reconciled")
    finally:
        if watcher.proc is not None and watcher.proc.poll() is None:
            watcher.stop(signal.SIGKILL)
