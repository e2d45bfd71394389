"""End to end: the real `ccmgr-watch run` process against a real private tmux server.

Every wait polls the database (or the status file) with a deadline; nothing asserts on speed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.tmuxenv import (
    CCMGR_WATCH,
    Tmux,
    Watcher,
    clean_env,
    events_of,
    query,
    wait_until,
)

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data.db"


@pytest.fixture
def watcher(db: Path, tmux: Tmux) -> Iterator[Watcher]:
    tmux.new("base")
    running = Watcher(db, "-L", tmux.name).start()
    try:
        running.wait_connected()
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.stop(signal.SIGKILL)


def status_of(db: Path, name: str) -> str | None:
    rows = query(db, "SELECT status FROM sessions WHERE name = ? ORDER BY last_access DESC", name)
    return rows[0][0] if rows else None


def test_create_rename_windows_kill(db: Path, tmux: Tmux, watcher: Watcher) -> None:
    tmux.new("alpha", "-c", str(db.parent))
    wait_until(lambda: status_of(db, "alpha") == "detached", what="alpha created")
    tmux("rename-session", "-t", "alpha", "beta")
    wait_until(lambda: status_of(db, "beta"), what="the rename")
    tmux("new-window", "-d", "-t", "beta", "sleep 3600")
    wait_until(lambda: events_of(db, "beta").count("window_added") >= 2, what="window added")
    tmux("kill-window", "-t", "beta:1")
    wait_until(lambda: "window_closed" in events_of(db, "beta"), what="window closed")
    tmux("kill-session", "-t", "beta")
    wait_until(lambda: status_of(db, "beta") == "ended", what="killed")
    assert events_of(db, "beta") == [
        "created",
        "window_added",
        "renamed",
        "window_added",
        "window_closed",
        "killed",
    ]
    [(directory, ended_at, data)] = query(
        db,
        "SELECT s.directory, s.ended_at, e.data FROM sessions s JOIN session_events e "
        "ON e.session_id = s.id WHERE s.name = 'beta' AND e.event_type = 'renamed'",
    )
    assert directory == str(db.parent)
    assert ended_at is not None
    assert json.loads(data) == {"old_name": "alpha", "new_name": "beta"}
    assert watcher.stop() == 0


def test_attach_and_detach_a_real_client(db: Path, tmux: Tmux, watcher: Watcher) -> None:
    tmux.new("human")
    wait_until(lambda: status_of(db, "human"), what="human created")
    client = tmux.attach_pty("human")
    try:
        wait_until(lambda: status_of(db, "human") == "attached", what="the attach")
        tmux("detach-client", "-s", "human")
        wait_until(lambda: status_of(db, "human") == "detached", what="the detach")
    finally:
        client.kill()
        client.wait()
    rows = query(
        db,
        "SELECT e.event_type, e.data FROM session_events e JOIN sessions s ON s.id = e.session_id "
        "WHERE s.name = 'human' AND e.event_type IN ('attached', 'detached') ORDER BY e.id",
    )
    assert [r[0] for r in rows] == ["attached", "detached"]
    assert json.loads(rows[0][1])["client"].startswith("/dev/")
    # The watcher's own control client never counts as an attach.
    assert "attached" not in events_of(db, "base")
    assert status_of(db, "base") == "detached"
    result = subprocess.run(
        [CCMGR_WATCH, "session", "show", "human", "--json"],
        env=clean_env(CCMGR_WATCH_DB=str(db)),
        capture_output=True,
        check=True,
    )
    stats = json.loads(result.stdout)["statistics"]
    assert stats["times_attached"] == 1 and stats["windows_opened"] == 1


def test_sigterm_flushes_and_exits_zero(db: Path, tmux: Tmux, watcher: Watcher) -> None:
    for i in range(50):
        tmux.new(f"burst{i}")
    # No waiting for the writer: whatever the watcher has heard of must be stored at exit.
    assert watcher.stop(signal.SIGTERM) == 0
    assert "Traceback" not in watcher.stderr()
    stored = {r[0] for r in query(db, "SELECT name FROM sessions")}
    # Sessions created before SIGTERM that the watcher had not listed yet are found by the
    # next start's reconciliation; the ones it had seen are all there.
    restarted = Watcher(db, "-L", tmux.name).start()
    try:
        restarted.wait_connected()
        wait_until(
            lambda: len(query(db, "SELECT name FROM sessions WHERE name LIKE 'burst%'")) == 50,
            what="every burst session",
        )
    finally:
        assert restarted.stop() == 0
    assert stored <= {r[0] for r in query(db, "SELECT name FROM sessions")}
    status = json.loads(db.with_name("data.db.watcher.json").read_text())
    assert status["running"] is False


def test_a_second_run_is_refused(db: Path, tmux: Tmux, watcher: Watcher) -> None:
    second = subprocess.run(
        [CCMGR_WATCH, "run", "-L", tmux.name],
        env=clean_env(CCMGR_WATCH_DB=str(db)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert second.returncode == 6
    assert second.stderr.startswith("Error: a watcher is already running on")
    assert "Hint:" in second.stderr and "Traceback" not in second.stderr
    status = subprocess.run(
        [CCMGR_WATCH, "status", "--json"],
        env=clean_env(CCMGR_WATCH_DB=str(db)),
        capture_output=True,
        check=False,
    )
    assert status.returncode == 0
    info = json.loads(status.stdout)
    assert info["running"] is True and info["pid"] == watcher.proc.pid  # type: ignore[union-attr]


def test_sigkill_and_restart_loses_and_duplicates_nothing(
    db: Path, tmux: Tmux, watcher: Watcher
) -> None:
    for i in range(10):
        tmux.new(f"before{i}")
    tmux("kill-session", "-t", "before0")
    wait_until(lambda: status_of(db, "before0") == "ended", what="before0 ended")
    watcher.stop(signal.SIGKILL)
    # While nobody watches: sessions come and go.
    for i in range(10):
        tmux.new(f"during{i}")
    tmux("kill-session", "-t", "before1")
    tmux("kill-session", "-t", "during0")
    tmux("rename-session", "-t", "before2", "before2-renamed")
    again = Watcher(db, "-L", tmux.name).start()
    try:
        again.wait_connected()
        alive = set(tmux("list-sessions", "-F", "#{session_name}").split())

        def settled() -> bool:
            rows = query(db, "SELECT name FROM sessions WHERE status != 'ended'")
            return {r[0] for r in rows} == alive

        wait_until(settled, what="the store to match tmux")
        assert status_of(db, "before1") == "ended"
        assert status_of(db, "before0") == "ended"
        assert "during0" not in {r[0] for r in query(db, "SELECT name FROM sessions")}
        # One row per tmux session; one start event per session.
        dupes = query(
            db,
            "SELECT tmux_server, tmux_id, count(*) FROM sessions GROUP BY 1, 2 HAVING count(*) > 1",
        )
        assert dupes == []
        starts = query(
            db,
            "SELECT session_id, count(*) FROM session_events "
            "WHERE event_type IN ('created', 'discovered') GROUP BY 1 HAVING count(*) > 1",
        )
        assert starts == []
        ends = query(
            db,
            "SELECT session_id, count(*) FROM session_events "
            "WHERE event_type IN ('killed', 'vanished') GROUP BY 1 HAVING count(*) > 1",
        )
        assert ends == []
    finally:
        assert again.stop() == 0


HOSTILE = [
    "with spaces",
    'quote\'s "double"',
    "$(touch pwned)",
    "`id`;rm -rf x",
    "naïve ☃ 日本語",
    "x" * 200,
    "-dash-first",
]


def test_hostile_names_are_recorded_exactly(
    db: Path, tmux: Tmux, watcher: Watcher, tmp_path: Path
) -> None:
    # The watcher runs in tmp_path: a `$(touch pwned)` that reached a shell would leave a file.
    for name in HOSTILE:
        tmux.new(name)
    wait_until(
        lambda: len(query(db, "SELECT name FROM sessions")) == len(HOSTILE) + 1,
        what="every hostile session",
    )
    listed = set(tmux("list-sessions", "-F", "#{session_name}").splitlines())
    stored = {r[0] for r in query(db, "SELECT name FROM sessions")}
    assert stored == listed
    assert set(HOSTILE) <= stored
    tmux("rename-session", "-t", "with spaces", "now 'renamed' $(x)")
    wait_until(lambda: status_of(db, "now 'renamed' $(x)"), what="hostile rename")
    assert not (tmp_path / "pwned").exists()


def test_all_finds_servers_that_start_later(db: Path) -> None:
    # A private socket folder: --all must not see the rest of the machine's servers.
    tmpdir = Path(tempfile.mkdtemp(prefix="ccw-", dir="/tmp"))
    first, second = Tmux(tmpdir), Tmux(tmpdir)
    watcher = Watcher(db, "--all", env={"TMUX_TMPDIR": str(tmpdir)}).start()
    try:
        # Nothing runs yet; then two servers start, one after the other.
        wait_until(lambda: db.with_name("data.db.watcher.json").exists(), what="status file")
        first.new("on-first")
        wait_until(lambda: status_of(db, "on-first") == "detached", what="first server's session")
        second.new("on-second")
        wait_until(lambda: status_of(db, "on-second") == "detached", what="second server's session")
        first.kill_server()
        wait_until(lambda: status_of(db, "on-first") == "ended", what="first server gone")
        assert status_of(db, "on-second") == "detached"
        assert watcher.stop() == 0
    finally:
        if watcher.proc is not None and watcher.proc.poll() is None:
            watcher.stop(signal.SIGKILL)
        first.kill_server()
        second.kill_server()
        shutil.rmtree(tmpdir, ignore_errors=True)


def test_sigterm_while_waiting_for_a_server_exits_promptly(db: Path) -> None:
    # Regression: the socket-folder watch thread used to hold shutdown for up to 30 s.
    waiting = Watcher(db, "-L", f"ccmgr-watch-absent-{os.getpid()}").start()
    status_file = db.with_name("data.db.watcher.json")

    def started() -> bool:
        return status_file.exists() and json.loads(status_file.read_text()).get("running") is True

    wait_until(started, what="the watcher to start and wait for its server")
    assert waiting.stop(signal.SIGTERM, timeout=5.0) == 0
    assert "Traceback" not in waiting.stderr()


def _niceness(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (fields after the command's ")").
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.mark.parametrize(
    ("option", "configured", "increment"),
    [
        ((), None, 10),
        (("--nice", "3"), None, 3),
        (("--nice", "0"), None, 0),
        ((), 5, 5),  # the config's watcher.nice
        (("--nice", "2"), 5, 2),  # the option wins
    ],
)
def test_the_watcher_lowers_its_cpu_priority(
    db: Path,
    _isolated_home: Path,
    option: tuple[str, ...],
    configured: int | None,
    increment: int,
) -> None:
    if configured is not None:
        config = _isolated_home / ".config" / "ccmgr-ultra" / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"watcher:\n    nice: {configured}\n")
    waiting = Watcher(db, "-L", f"ccmgr-watch-absent-{os.getpid()}", *option).start()
    status_file = db.with_name("data.db.watcher.json")

    def started() -> bool:
        return status_file.exists() and json.loads(status_file.read_text()).get("running") is True

    wait_until(started, what="the watcher to start")
    assert waiting.proc is not None
    # Every thread (the database thread too) runs at the lowered priority.
    tasks = list(Path(f"/proc/{waiting.proc.pid}/task").iterdir())
    expected = min(19, os.nice(0) + increment)
    assert {_niceness(int(t.name)) for t in tasks} == {expected}
    if increment and hasattr(os, "SCHED_BATCH"):
        assert {os.sched_getscheduler(int(t.name)) for t in tasks} == {os.SCHED_BATCH}
    assert waiting.stop(signal.SIGTERM, timeout=5.0) == 0
