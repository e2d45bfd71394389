"""The writer's bounded queue overflows while the PostgreSQL server is down: the watcher says so
loudly (its log and `status`) and, once the server is back, reconciles from tmux so that no
session is missed. Real tmux, a real watcher process, a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.capture.tmuxenv import Tmux, wait_until
from tests.pg_server import PgServer
from tests.postgres.test_watchers import HostWatcher, alive_in_store, alive_in_tmux, rows

pytestmark = [pytest.mark.tmux, pytest.mark.slow]

HOLD_LIMIT = 6
# The real CLI entry point with a small hold limit (the seam: the writer reads the module's
# HOLD_LIMIT at every item), so a handful of sessions overflows it.
SMALL_QUEUE = (
    "import watcher.capture.writer as w; "
    f"w.HOLD_LIMIT = {HOLD_LIMIT}; "
    "from watcher.cli.main import main; main()"
)


class SmallQueueWatcher(HostWatcher):
    """A watcher whose writer holds at most HOLD_LIMIT items while writes fail."""

    def start(self) -> SmallQueueWatcher:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SMALL_QUEUE, "run", "-L", self.tmux.name],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self


def test_a_full_queue_while_the_server_is_down_is_reconciled_from_tmux(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    tmux = Tmux()
    watcher: SmallQueueWatcher | None = None
    try:
        for name in ("auth", "main"):
            tmux.new(name)
        watcher = SmallQueueWatcher(pg_url, tmux, "laptop", tmp_path / "laptop").start()
        wait_until(
            lambda: alive_in_store(pg_url, "laptop") == {"auth", "main"},
            timeout=30,
            what="the first sessions in PostgreSQL",
        )
        pg_server.stop("fast")
        try:
            # Far more than the queue holds: created, renamed and killed while the server is
            # down (the renamed and killed ones too must come out right).
            for n in range(3 * HOLD_LIMIT):
                tmux.new(f"outage-{n}")
            tmux("rename-session", "-t", "auth", "auth-renamed")
            tmux("kill-session", "-t", "main")

            def dropped() -> int:
                state = (watcher.status().get("status") or {}).get("database_state") or {}
                return int(state.get("events_dropped") or 0)

            wait_until(dropped, timeout=30, what="status to count dropped events")
            text = watcher.cli("status")
            assert "WRITES FAILING" in text, text
            assert "events did not fit while writes failed" in text, text
        finally:
            pg_server.start()
        # Back: the store matches tmux, every session of the outage included.
        wait_until(
            lambda: alive_in_store(pg_url, "laptop") == alive_in_tmux(tmux),
            timeout=60,
            what="PostgreSQL to match tmux after the outage",
        )
        assert len(alive_in_tmux(tmux)) == 1 + 3 * HOLD_LIMIT
        assert rows(pg_url, "SELECT status FROM sessions WHERE name = 'main'") == [("ended",)]
        dupes = rows(
            pg_url, "SELECT tmux_server, tmux_id FROM sessions GROUP BY 1, 2 HAVING count(*) > 1"
        )
        assert dupes == []
    finally:
        log = watcher.stop() if watcher is not None else ""
        tmux.kill_server()
    assert "Traceback" not in log, log
    assert f"more than {HOLD_LIMIT} events waiting for the database: dropping events" in log, log
    assert "database writes succeed again" in log, log
