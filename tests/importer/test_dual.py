"""Dual mode end to end: a real `ccmgr-watch run` and a private tmux server; the JSON state file
follows create, rename and kill within a second, is always whole valid JSON (even when the
watcher is SIGKILLed while writing it), follows a live switch of the mode, and its dated copies
are pruned by date."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.capture.tmuxenv import Tmux, Watcher, wait_until
from watcher.importer.dual import BACKUP_TAG, prune_dated_copies

pytestmark = pytest.mark.tmux

CONFIG = (
    "version: 2.1.0\nstorage:\n    mode: {mode}\n    json_backup_days: 30\n"
    'backup:\n    schedule: "off"\n'
)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    try:
        yield server
    finally:
        server.kill_server()


def app_dir(home: Path) -> Path:
    folder = home / ".config" / "ccmgr-ultra"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".swp")
    tmp.write_text(text)
    os.replace(tmp, path)


def names(state: Path) -> set[str] | None:
    """Names of the sessions in the state file (None while there is none)."""
    try:
        data: dict[str, Any] = json.loads(state.read_bytes())
    except FileNotFoundError:
        return None
    return {entry["name"] for entry in data.values()}


class Poller:
    """Reads the state file over and over in a thread; every read must be whole valid JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reads = 0
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                json.loads(data)
            except ValueError as exc:
                self.bad.append(f"{exc}: {data[:80]!r}")
            self.reads += 1


def within(seconds: float, predicate: Callable[[], Any], what: str) -> float:
    started = time.monotonic()
    wait_until(predicate, timeout=10, what=what)
    took = time.monotonic() - started
    assert took <= seconds, f"{what} took {took:.2f}s"
    return took


def test_the_state_file_follows_create_rename_and_kill(
    _isolated_home: Path, tmp_path: Path, tmux: Tmux
) -> None:
    folder = app_dir(_isolated_home)
    (folder / "config.yaml").write_text(CONFIG.format(mode="dual"))
    state = folder / "tmux-sessions.json"
    old = b'{"from-ccmgr-ultra": {"id": "from-ccmgr-ultra", "name": "from-ccmgr-ultra"}}'
    state.write_bytes(old)
    tmux.new("base")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        with Poller(state) as poller:
            watcher.wait_connected()
            wait_until(lambda: names(state) == {"base"}, what="the file to hold base")
            copies = [p for p in folder.iterdir() if BACKUP_TAG in p.name]
            assert len(copies) == 1 and copies[0].read_bytes() == old
            assert copies[0].stat().st_mode & 0o777 == 0o600
            assert state.stat().st_mode & 0o777 == 0o600
            tmux.new("alpha")
            within(1.0, lambda: names(state) == {"base", "alpha"}, "alpha in the file")
            tmux("rename-session", "-t", "alpha", "beta")
            within(1.0, lambda: names(state) == {"base", "beta"}, "the rename")
            tmux("kill-session", "-t", "beta")
            within(1.0, lambda: names(state) == {"base"}, "the kill")
            entry = next(iter(json.loads(state.read_bytes()).values()))
            assert entry["metadata"]["ccmgr_watch"]["tmux_id"] == "$0"
            assert entry["last_state"] == 0 and entry["environment"] == {}
        assert poller.reads > 10 and poller.bad == []
    finally:
        assert watcher.stop() == 0
    log = watcher.stderr()
    assert "dual mode started: keeping" in log and "kept a copy of" in log
    assert "Traceback" not in log


def test_a_burst_writes_the_file_once(_isolated_home: Path, tmp_path: Path, tmux: Tmux) -> None:
    folder = app_dir(_isolated_home)
    (folder / "config.yaml").write_text(CONFIG.format(mode="dual"))
    state = folder / "tmux-sessions.json"
    tmux.new("base")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name, "-v").start()
    try:
        watcher.wait_connected()
        wait_until(lambda: names(state) == {"base"}, what="the first write")
        # A burst: 30 sessions created by one tmux command line (30 commits or fewer).
        args: list[str] = []
        for n in range(30):
            args += ["new-session", "-d", "-s", f"burst-{n}", "sleep 3600", ";"]
        tmux(*args[:-1])
        wait_until(lambda: len(names(state) or ()) == 31, what="the burst in the file")
        time.sleep(0.7)
    finally:
        assert watcher.stop() == 0
    log = watcher.stderr()
    writes = [line for line in log.splitlines() if "dual mode: wrote" in line]
    # The first write, then the burst folded into one (two if it outlasted LONGEST).
    assert 2 <= len(writes) <= 3, writes


def test_sigkill_while_writing_never_leaves_the_file_broken(
    _isolated_home: Path, tmp_path: Path, tmux: Tmux
) -> None:
    folder = app_dir(_isolated_home)
    (folder / "config.yaml").write_text(CONFIG.format(mode="dual"))
    state = folder / "tmux-sessions.json"
    for n in range(200):  # a file of some size, so that writes take a while
        tmux.new(f"s-{n}")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        with Poller(state) as poller:
            watcher.wait_connected()
            wait_until(lambda: len(names(state) or ()) == 200, what="the first write")
            for n in range(60):
                tmux("kill-session", "-t", f"s-{n}")
                tmux.new(f"s-{n}")
                if n == 30:
                    watcher.stop(signal.SIGKILL)
            time.sleep(0.3)
        assert poller.reads > 50 and poller.bad == [], poller.bad[:3]
        # The last write before the kill is whole; it may have caught one session between
        # its kill and its re-creation (199 names), never anything else.
        last = names(state) or set()
        assert last <= {f"s-{n}" for n in range(200)} and len(last) >= 199, sorted(last)
    finally:
        if watcher.proc is not None and watcher.proc.poll() is None:
            watcher.stop(signal.SIGKILL)


def test_switching_the_mode_live(_isolated_home: Path, tmp_path: Path, tmux: Tmux) -> None:
    folder = app_dir(_isolated_home)
    config = folder / "config.yaml"
    save(config, CONFIG.format(mode="sqlite"))
    state = folder / "tmux-sessions.json"
    tmux.new("base")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        tmux.new("one")
        time.sleep(0.5)
        assert not state.exists()  # sqlite mode writes no JSON
        save(config, CONFIG.format(mode="dual"))
        wait_until(lambda: names(state) == {"base", "one"}, what="dual mode switched on")
        save(config, CONFIG.format(mode="sqlite"))
        time.sleep(1.0)  # the reload (debounced 300 ms) and the mirror's wake-up
        tmux.new("two")
        time.sleep(1.0)
        assert names(state) == {"base", "one"}  # no longer kept current
        save(config, CONFIG.format(mode="dual"))
        wait_until(lambda: names(state) == {"base", "one", "two"}, what="dual mode again")
    finally:
        assert watcher.stop() == 0
    log = watcher.stderr()
    assert log.count("dual mode started") == 2 and "dual mode stopped" in log


def test_old_copies_are_pruned_by_date(_isolated_home: Path, tmp_path: Path, tmux: Tmux) -> None:
    folder = app_dir(_isolated_home)
    (folder / "config.yaml").write_text(CONFIG.format(mode="dual"))
    state = folder / "tmux-sessions.json"
    today = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    old = state.with_name(state.name + BACKUP_TAG + "20200101-000000")
    recent = state.with_name(state.name + BACKUP_TAG + today)
    theirs = state.with_name(state.name + ".backup.20200101-000000")  # ccmgr-ultra's own
    for path in (old, recent, theirs):
        path.write_text("{}")
    tmux.new("base")
    db = tmp_path / "data.db"
    watcher = Watcher(db, "-L", tmux.name).start()
    try:
        watcher.wait_connected()
        wait_until(lambda: not old.exists(), what="the old copy to be pruned")
        assert recent.exists() and theirs.exists()
    finally:
        assert watcher.stop() == 0
    assert "pruned" in watcher.stderr()


def test_prune_dated_copies_keeps_the_last_days(tmp_path: Path) -> None:
    state = tmp_path / "tmux-sessions.json"
    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    made = {
        day: state.with_name(f"{state.name}{BACKUP_TAG}202611{day:02d}-120000")
        for day in (1, 2, 20, 27)
    }
    for path in made.values():
        path.write_text("{}")
    odd = state.with_name(f"{state.name}{BACKUP_TAG}2026xx01-000000")
    odd.write_text("{}")
    leftover = tmp_path / f".{state.name}.abc.tmp"
    leftover.write_text("{")
    os.utime(leftover, (now.timestamp() - 3600, now.timestamp() - 3600))
    removed = prune_dated_copies(state, 7, now)
    assert sorted(removed) == sorted([made[1], made[2]])
    assert made[20].exists() and made[27].exists() and odd.exists()
    assert not leftover.exists()


def test_the_storage_settings_are_validated(
    _isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from watcher.cli.main import run
    from watcher.config.schema import Config

    assert Config().storage.mode == "sqlite" and Config().storage.json_backup_days == 30
    config = app_dir(_isolated_home) / "config.yaml"
    config.write_text("version: 2.1.0\nstorage:\n    mode: both\n    json_backup_days: 0\n")
    assert run(["config", "validate"]) == 3
    out = capsys.readouterr().out
    assert f"{config}:3:5: storage.mode: invalid storage mode: both" in out
    assert f"{config}:4:5: storage.json_backup_days: json_backup_days must be between" in out
