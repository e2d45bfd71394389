"""A real watcher process against real database faults (issue 9 §3, issue 8 items 2, 3, 6).

The database file deleted under it, a full file system (a small tmpfs, filled for real),
immutable files (``chattr +i``), a read-only mount, a migration under it, ``kill -9``, a SIGTERM
during a slow start. Each asserts what the user sees: exit codes, messages, ``status``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env, query, wait_until
from tests.fsfaults import fill, immutable, read_only_bind, small_tmpfs


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    started: list[Watcher] = []
    try:
        yield started
    finally:
        for watcher in started:
            if watcher.proc is not None and watcher.proc.poll() is None:
                watcher.stop(signal.SIGKILL)


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CCMGR_WATCH, *args, "--db", str(db)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status_json(db: Path) -> dict[str, Any]:
    result = cli("status", "--json", db=db)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def alive(db: Path) -> set[str]:
    return {r[0] for r in query(db, "SELECT name FROM sessions WHERE status != 'ended'")}


def start(watchers: list[Watcher], db: Path, tmux: Tmux, *extra: str) -> Watcher:
    watcher = Watcher(db, "-L", tmux.name, *extra)
    watchers.append(watcher)
    watcher.start()
    watcher.wait_connected()
    return watcher


def test_a_deleted_database_is_recreated_with_every_live_session(
    tmp_path: Path, tmux: Tmux, watchers: list[Watcher]
) -> None:
    db = tmp_path / "data.db"
    tmux.new("one")
    watcher = start(watchers, db, tmux)
    wait_until(lambda: alive(db) == {"one"}, what="the first session recorded")
    tmux.new("two")
    wait_until(lambda: alive(db) == {"one", "two"}, what="the second session recorded")
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink()
    deleted = time.monotonic()
    # Noticed within a few seconds, reopened (schema created), and tmux reconciled into it.
    wait_until(lambda: alive(db) == {"one", "two"}, what="the live sessions in the new file")
    noticed = time.monotonic() - deleted
    tmux.new("three")
    wait_until(lambda: alive(db) == {"one", "two", "three"}, what="a new session afterwards")
    info = status_json(db)
    assert info["running"] is True
    assert info["status"]["database_state"]["reopened"] == 1
    assert "deleted" in info["status"]["last_error"]
    assert watcher.stop() == 0
    assert "was deleted while the watcher was writing" in watcher.stderr()
    print(f"deleted database noticed and refilled after {noticed:.2f}s")


def test_a_full_disk_holds_events_and_writes_them_when_space_returns(
    tmp_path: Path, tmux: Tmux, watchers: list[Watcher]
) -> None:
    # A real full file system: a 3 MiB tmpfs holding the database, filled with a file.
    # (RLIMIT_FSIZE would fail writes with EFBIG and a SIGXFSZ, not the ENOSPC a full disk
    # gives, and would not free up by itself.)
    with small_tmpfs(tmp_path / "fs", "3m") as fs:
        db = fs / "data.db"
        tmux.new("before")
        watcher = start(watchers, db, tmux)
        wait_until(lambda: alive(db) == {"before"}, what="the first session recorded")
        filler = fill(fs)

        def failing() -> dict[str, Any] | None:
            state = status_json(db).get("status", {}).get("database_state", {})
            return state if state.get("failing") and state.get("events_waiting", 0) > 0 else None

        # Sessions until the disk refuses a write: the WAL starts over after each checkpoint
        # (watcher.capture.checkpoints), so the first commits reuse the space its file has.
        names: set[str] = set()
        for i in range(400):
            tmux.new(f"during{i}")
            names.add(f"during{i}")
            if i >= 4 and i % 5 == 0 and failing():
                break
        state = wait_until(failing, what="status to report failing writes")
        assert "disk full" in state["failing"]
        text = cli("status", db=db).stdout
        assert "WRITES FAILING since" in text and "disk full" in text and "events waiting" in text
        time.sleep(4)  # longer than the old give-up (~3 s of retries, then exit 5)
        assert watcher.proc is not None and watcher.proc.poll() is None, watcher.stderr()
        held = status_json(db)["status"]["database_state"]["events_waiting"]
        filler.unlink()
        freed = time.monotonic()
        wait_until(lambda: alive(db) == {"before"} | names, what="the held sessions written")
        recovered = time.monotonic() - freed
        info = status_json(db)["status"]
        assert info["database_state"]["failing"] is None
        assert info["last_error"] and "full" in info["last_error"] and info["last_error_at"]
        text = cli("status", db=db).stdout
        assert "WRITES FAILING" not in text and "last error (past) at" in text
        assert watcher.stop() == 0
        print(f"disk full: {held} events held, all written {recovered:.2f}s after space returned")


def test_immutable_database_files_stop_the_watcher_with_a_message(
    tmp_path: Path, tmux: Tmux, watchers: list[Watcher]
) -> None:
    db = tmp_path / "data.db"
    tmux.new("one")
    watcher = start(watchers, db, tmux)
    wait_until(lambda: alive(db) == {"one"}, what="the first session recorded")
    files = [db.with_name(db.name + s) for s in ("", "-wal", "-shm")]
    with immutable(*[f for f in files if f.exists()]):
        tmux.new("two")
        assert watcher.proc is not None
        code = watcher.proc.wait(timeout=20)
        err = watcher.stderr()
        # Not SIGBUS (-7): a clear error and the database exit code.
        assert code == 5, err
        assert "Error: the database cannot be written" in err and "immutable" in err
        info = status_json(db)
        assert info["running"] is False and info["status"]["running"] is False
        # A new start says the same at once, without touching the files.
        again = subprocess.run(
            [CCMGR_WATCH, "run", "-L", tmux.name],
            env=clean_env(CCMGR_WATCH_DB=str(db)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert again.returncode == 5 and "immutable" in again.stderr, again.stderr


def test_run_in_a_read_only_folder_is_a_database_error(tmp_path: Path, tmux: Tmux) -> None:
    folder = tmp_path / "ro"
    with read_only_bind(folder):
        result = subprocess.run(
            [CCMGR_WATCH, "run", "-L", tmux.name],
            env=clean_env(CCMGR_WATCH_DB=str(folder / "data.db")),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 5, result.stderr
    assert f"Error: cannot write in the database's folder {folder}" in result.stderr
    assert "Hint:" in result.stderr and "internal error" not in result.stderr


def test_db_migrate_is_refused_while_a_watcher_records(
    tmp_path: Path, tmux: Tmux, watchers: list[Watcher]
) -> None:
    db = tmp_path / "data.db"
    tmux.new("one")
    watcher = start(watchers, db, tmux)
    wait_until(lambda: alive(db) == {"one"}, what="the first session recorded")
    assert watcher.proc is not None
    for args in (["--to", "0"], ["--to", "1"], []):
        result = cli("db", "migrate", *args, db=db)
        assert result.returncode == 6, result
        assert f"a watcher (pid {watcher.proc.pid}) is recording" in result.stderr
        assert "Hint: stop the watcher first" in result.stderr and "--force" in result.stderr
    assert alive(db) == {"one"}  # the schema is untouched
    # --force does it, loudly; the watcher holds its events until the schema is back.
    forced = cli("db", "migrate", "--to", "0", "--force", db=db)
    assert forced.returncode == 0 and "WARNING: --force" in forced.stderr
    tmux.new("two")
    wait_until(
        lambda: (status_json(db)["status"]["database_state"]["failing"] or "").find("no such") >= 0,
        what="the watcher to report failing writes",
    )
    assert cli("db", "migrate", "--force", db=db).returncode == 0
    wait_until(lambda: "two" in alive(db), what="the held event written after the migration")
    assert watcher.stop() == 0


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_status_of_a_stopped_watcher_lists_nothing_as_connected(
    tmp_path: Path, tmux: Tmux, watchers: list[Watcher], how: int
) -> None:
    db = tmp_path / "data.db"
    tmux.new("one")
    watcher = start(watchers, db, tmux)
    assert "connected" in cli("status", db=db).stdout
    watcher.stop(how)
    result = cli("status", db=db)
    assert result.returncode == 1
    assert "not running" in result.stdout and "connected" not in result.stdout
    info = status_json(db)
    assert info["running"] is False
    assert '"connected": true' not in json.dumps(info)


def test_sigterm_during_a_slow_config_load_exits_cleanly(tmp_path: Path, tmux: Tmux) -> None:
    # A big config (many keys ccmgr-watch does not know) takes seconds to load and check.
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "ccmgr-ultra" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    keys = "".join(f"    k{i}: v{i}\n" for i in range(20_000))
    config.write_text(f"version: 2.1.0\ncustom:\n{keys}")
    proc = subprocess.Popen(
        [CCMGR_WATCH, "run", "-L", tmux.name],
        env=clean_env(CCMGR_WATCH_DB=str(tmp_path / "data.db")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.5)  # past Python's start, inside the config load
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err
    assert "Traceback" not in err
