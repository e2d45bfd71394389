"""Dual mode on a PostgreSQL store: a real ``ccmgr-watch run`` on the URL and a private tmux
server; the JSON state file holds this host's live sessions (never another machine's that share
the database) and follows create, rename and kill; it comes back after the server was away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from store.postgres.connect import connect_sync
from tests.capture.tmuxenv import Tmux, wait_until
from tests.importer.test_dual import Poller, names, within
from tests.pg_server import PgServer
from tests.postgres.test_watchers import HostWatcher

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

CONFIG = (
    "version: 2.1.0\nwatcher:\n    host: laptop\nstorage:\n    mode: dual\n"
    'backup:\n    schedule: "daily"\n'
)


def test_dual_mode_on_postgresql_keeps_this_hosts_live_sessions(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    # Another machine's live session in the shared database: not this host's JSON state.
    with connect_sync(pg_url) as conn:
        conn.execute(
            b"INSERT INTO sessions (id, name, created_at, updated_at, last_access, status, "
            b"tmux_server, tmux_id, host) VALUES ('s-000000000000desk', 'desk-work', "
            b"'2026-11-20T09:00:00.000000Z', '2026-11-20T09:00:00.000000Z', "
            b"'2026-11-20T09:00:00.000000Z', 'detached', '/tmp/tmux-1000/default#1@2@desk', "
            b"'$0', 'desk')"
        )
    tmux = Tmux()
    home = tmp_path / "laptop"
    watcher = HostWatcher(pg_url, tmux, "laptop", home)
    folder = home / ".config" / "ccmgr-ultra"
    (folder / "config.yaml").write_text(CONFIG)
    state = folder / "tmux-sessions.json"
    old = b'{"from-ccmgr-ultra": {"id": "from-ccmgr-ultra", "name": "from-ccmgr-ultra"}}'
    state.write_bytes(old)
    log = ""
    try:
        tmux.new("base")
        watcher.start()
        with Poller(state) as poller:
            wait_until(lambda: names(state) == {"base"}, timeout=30, what="the file to hold base")
            copies = [p for p in folder.iterdir() if ".ccmgr-watch-backup." in p.name]
            assert len(copies) == 1 and copies[0].read_bytes() == old
            assert state.stat().st_mode & 0o777 == 0o600
            tmux.new("alpha")
            within(1.5, lambda: names(state) == {"base", "alpha"}, "alpha in the file")
            tmux("rename-session", "-t", "alpha", "beta")
            within(1.5, lambda: names(state) == {"base", "beta"}, "the rename")
            tmux("kill-session", "-t", "beta")
            within(1.5, lambda: names(state) == {"base"}, "the kill")
            entry: dict[str, Any] = next(iter(json.loads(state.read_bytes()).values()))
            assert entry["metadata"]["ccmgr_watch"]["tmux_id"] == "$0"
            assert entry["metadata"]["ccmgr_watch"]["tmux_server"].endswith("@laptop")

            # The server away: the file keeps its last whole state; once it is back, the
            # sessions created meanwhile reach the file.
            pg_server.stop("fast")
            try:
                tmux.new("during-outage")
                wait_until(
                    lambda: (
                        (watcher.status().get("status") or {}).get("database_state") or {}
                    ).get("failing"),
                    timeout=30,
                    what="the watcher to notice the server is away",
                )
                assert names(state) == {"base"}
            finally:
                pg_server.start()
            wait_until(
                lambda: names(state) == {"base", "during-outage"},
                timeout=30,
                what="the file after the server came back",
            )
        assert poller.reads > 10 and poller.bad == []
    finally:
        log = watcher.stop()
        tmux.kill_server()
    assert "dual mode started: keeping" in log and "kept a copy of" in log
    assert "not used with a PostgreSQL" not in log and "Traceback" not in log
    # Scheduled backups stay off on PostgreSQL (its own tools back it up), dual mode or not.
    assert not (folder / "backups").exists()
