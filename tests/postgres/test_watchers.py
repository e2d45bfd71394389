"""Two watchers with different host names, each on its own private tmux server, into one
PostgreSQL database; the server restarted under them. Real tmux, real watchers, real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from store.postgres.connect import connect_sync
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, clean_env, wait_until
from tests.pg_server import PgServer

pytestmark = [pytest.mark.tmux, pytest.mark.slow]


class HostWatcher:
    """``ccmgr-watch run`` for one "machine": its own home (config, lock, status) and host."""

    def __init__(self, url: str, tmux: Tmux, host: str, home: Path) -> None:
        self.url, self.tmux, self.host = url, tmux, host
        config = home / ".config" / "ccmgr-ultra"
        config.mkdir(parents=True, mode=0o700)
        (config / "config.yaml").write_text(f"watcher:\n    host: {host}\n")
        self.env = clean_env(
            HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), CCMGR_WATCH_DB=url
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HostWatcher:
        self.proc = subprocess.Popen(
            [CCMGR_WATCH, "run", "-L", self.tmux.name],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def status(self) -> dict[str, Any]:
        out = subprocess.run(
            [CCMGR_WATCH, "status", "--json"], env=self.env, capture_output=True, check=False
        ).stdout
        return json.loads(out) if out else {}

    def cli(self, *argv: str) -> str:
        result = subprocess.run(
            [CCMGR_WATCH, *argv], env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def stop(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=15)
        return self.proc.stderr.read().decode()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with connect_sync(url) as conn:
        return conn.execute(sql.encode()).fetchall()


def alive_in_store(url: str, host: str) -> set[str]:
    found = rows(url, f"SELECT name FROM sessions WHERE status != 'ended' AND host = '{host}'")
    return {r[0] for r in found}


def alive_in_tmux(tmux: Tmux) -> set[str]:
    return set(tmux("list-sessions", "-F", "#{session_name}", check=False).split())


def wait_settled(url: str, watcher: HostWatcher, timeout: float) -> None:
    """Until the store's live sessions of the watcher's host are its tmux server's."""
    wait_until(
        lambda: alive_in_store(url, watcher.host) == alive_in_tmux(watcher.tmux),
        timeout=timeout,
        what=f"{watcher.host}'s sessions in PostgreSQL",
    )


def test_two_hosts_into_one_postgresql_and_a_server_restart(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    laptop_tmux, desk_tmux = Tmux(), Tmux()
    watchers: list[HostWatcher] = []
    try:
        for tmux, names in ((laptop_tmux, ["auth", "main", "notes"]), (desk_tmux, ["auth", "ci"])):
            for name in names:
                tmux.new(name)
        laptop = HostWatcher(pg_url, laptop_tmux, "laptop", tmp_path / "laptop").start()
        desk = HostWatcher(pg_url, desk_tmux, "desk", tmp_path / "desk").start()
        watchers = [laptop, desk]
        for w in watchers:
            wait_settled(pg_url, w, 30)
        # Each session's windows as last seen (what `revive` recreates) are kept here too.
        wait_until(
            lambda: (
                rows(
                    pg_url,
                    "SELECT count(*) FROM sessions "
                    "WHERE jsonb_array_length(metadata->'tmux_windows'->'windows') >= 1",
                )
                == [(5,)]
            ),
            timeout=30,
            what="the window records of all five sessions",
        )
        # Each machine's "auth" is its own session; host: tells them apart.
        hits = json.loads(laptop.cli("query", "auth", "--json"))
        assert sorted(h["host"] for h in hits) == ["desk", "laptop"]
        assert [
            h["host"]
            for h in json.loads(desk.cli("query", "host:LAPTOP", "--json", "--limit", "0"))
        ] == ["laptop"] * 3
        assert "HOST" in laptop.cli("session", "list").splitlines()[0]
        assert laptop.status()["status"]["host"] == "laptop"

        # The server goes away under both watchers; tmux goes on.
        pg_server.stop("fast")
        try:
            laptop_tmux.new("during-outage")
            desk_tmux("kill-session", "-t", "ci")
            desk_tmux("rename-session", "-t", "auth", "auth-renamed")

            def waiting() -> bool:
                state = (laptop.status().get("status") or {}).get("database_state") or {}
                return bool(state.get("failing")) and state.get("events_waiting", 0) >= 1

            wait_until(waiting, timeout=30, what="the laptop's status to say events wait")
            text = laptop.cli("status")
            assert "WRITES FAILING" in text and "events waiting" in text
        finally:
            pg_server.start()
        for w in watchers:
            wait_settled(pg_url, w, 60)
        # Nothing lost, nothing recorded twice.
        assert rows(pg_url, "SELECT name FROM sessions WHERE host = 'desk' AND name = 'ci'")
        assert rows(pg_url, "SELECT status FROM sessions WHERE name = 'ci'") == [("ended",)]
        dupes = rows(
            pg_url,
            "SELECT tmux_server, tmux_id FROM sessions GROUP BY 1, 2 HAVING count(*) > 1",
        )
        assert dupes == []
        created = rows(
            pg_url,
            "SELECT session_id FROM session_events WHERE event_type IN ('created', 'discovered') "
            "GROUP BY 1 HAVING count(*) > 1",
        )
        assert created == []
        assert rows(pg_url, "SELECT count(*) FROM session_events WHERE host IS NULL") == [(0,)]
    finally:
        logs = [w.stop() for w in watchers]
        laptop_tmux.kill_server()
        desk_tmux.kill_server()
    for log in logs:
        assert "Traceback" not in log, log
        assert "database writes succeed again" in log, log


def test_status_of_a_postgresql_database_never_shows_the_password(tmp_path: Path) -> None:
    env = clean_env(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
        CCMGR_WATCH_DB="postgresql://me:s3cret@db.invalid/ccmgr",
    )
    result = subprocess.run(
        [CCMGR_WATCH, "status", "--json"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1  # not running
    assert json.loads(result.stdout)["database"] == "postgresql://me:***@db.invalid/ccmgr"
    assert "s3cret" not in result.stdout + result.stderr
