"""`ccmgr-watch doctor`: a healthy setup with a real watcher and tmux server, then each finding
provoked for real (a damaged page, a damaged index, modes, a stale socket, a broken config, an
old backup, no watcher)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store.health import fts_integrity_check, quick_check
from store.migrations import load_migrations
from tests.capture.tmuxenv import CCMGR_WATCH, Tmux, Watcher, clean_env
from watcher import doctor
from watcher.cli.main import run

LEVELS = {"ok", "warn", "error"}


@pytest.fixture
def tmux_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A socket folder of the test's own: no other test's (or user's) servers in it."""
    folder = tmp_path / "tt"
    folder.mkdir()
    monkeypatch.setenv("TMUX_TMPDIR", str(folder))
    monkeypatch.delenv("CCMGR_WATCH_TMUX_CLIENT", raising=False)
    return folder


@pytest.fixture
def server(tmux_dir: Path) -> Iterator[Tmux]:
    tmux = Tmux(tmux_dir)
    tmux.new("work")
    try:
        yield tmux
    finally:
        tmux.kill_server()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    path = folder / "data.db"
    subprocess.run(
        [CCMGR_WATCH, "db", "migrate", "--db", str(path)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    return path


def add_sessions(db: Path, count: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    stamp = "2026-11-26T12:00:00.000000Z"
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at, "
        "updated_at, last_access, metadata, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', "
        "'ended')",
        [
            (f"s-{i:016x}", f"ccmgr-proj{i % 7}-main-feature_{i}", f"proj{i % 7}", "main",
             f"feature/{i}", f"/home/u/code/proj{i % 7}", stamp, stamp, stamp)
            for i in range(count)
        ],
    )  # fmt: skip
    conn.execute("COMMIT")
    conn.close()


def doctor_json(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> tuple[int, Any]:
    code = run(["doctor", "--db", str(db), "--json", *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def by_id(report: Any, fid: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == fid]


def needing_attention(report: Any) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["level"] != "ok"]


# --- healthy ---


def test_a_healthy_setup_is_all_ok(
    server: Tmux, db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_sessions(db, 20)
    watcher = Watcher(db, "-L", server.name, env={"TMUX_TMPDIR": str(tmux_dir)}).start()
    try:
        watcher.wait_connected()
        code, report = doctor_json(capsys, db)
        assert needing_attention(report) == [] and code == 0, report
        assert report["ok"] is True and report["database"] == str(db)
        ids = {f["id"] for f in report["findings"]}
        assert {
            "tmux.version", "tmux.servers", "watcher.running", "db.migrations", "db.quick_check",
            "db.search_index", "config.valid", "perm.mode", "backup.age",
        } <= ids  # fmt: skip
        assert f"{server.name} (1 session)" in by_id(report, "tmux.servers")[0]["message"]
        assert "watcher running" in by_id(report, "watcher.running")[0]["message"]
        code = run(["doctor", "--db", str(db)])
        out = capsys.readouterr().out
        assert code == 0 and out.rstrip().endswith("all good")
    finally:
        watcher.stop()


def test_json_shape(db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor_json(capsys, db)
    assert set(report) == {"ok", "database", "findings"}
    for finding in report["findings"]:
        assert set(finding) == {"id", "level", "message", "fix"}
        assert finding["level"] in LEVELS and finding["message"]
        if finding["level"] != "ok":
            assert finding["fix"], finding  # every finding that needs attention says the fix
    assert code == (0 if report["ok"] else 1)


# --- each finding, provoked ---


def test_no_watcher_running(db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "watcher.running")
    assert code == 1 and finding["level"] == "warn"
    assert finding["fix"].startswith("ccmgr-watch service install --db ")
    out_code = run(["doctor", "--db", str(db)])
    out = capsys.readouterr().out
    assert out_code == 1 and "WARN  no watcher is recording" in out and "fix: " in out


def test_a_damaged_page_fails_quick_check(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_sessions(db, 3000)
    conn = sqlite3.connect(db)
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sessions'").fetchone()
    conn.close()
    # The sessions table's root page (an interior page with 3,000 rows): garbage in its cells.
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size + 12)
        f.write(b"\xa5" * (page_size - 12))
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "db.quick_check")
    assert code == 1 and finding["level"] == "error", report
    assert "backup restore latest" in finding["fix"] and ".recover" in finding["fix"]


@pytest.mark.parametrize("damage", ["zeroed data blocks", "index entry without a session"])
def test_a_damaged_search_index_fails_its_integrity_check(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    add_sessions(db, 50)
    conn = sqlite3.connect(db, isolation_level=None)
    if damage == "zeroed data blocks":  # the index's own shadow table
        conn.execute("UPDATE sessions_fts_data SET block = zeroblob(length(block)) WHERE id > 10")
    else:  # written straight into the index, bypassing the sessions table and its triggers
        conn.execute(
            "INSERT INTO sessions_fts (rowid, name, project, worktree, branch, directory) "
            "VALUES (99999, 'ghost', 'x', 'y', 'z', '/q')"
        )
    conn.close()
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "db.search_index")
    assert code == 1 and finding["level"] == "error"
    assert finding["fix"] == f"ccmgr-watch db reindex --db {db}"
    assert by_id(report, "db.quick_check")[0]["level"] == "ok"
    # The fix fixes it, and the check wrote nothing.
    assert run(["db", "reindex", "--db", str(db)]) == 0
    capsys.readouterr()
    assert fts_integrity_check(str(db), timeout=10).ok


def test_pending_migrations(db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latest = len(load_migrations())
    assert run(["db", "migrate", "--to", str(latest - 1), "--db", str(db)]) == 0
    capsys.readouterr()
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "db.migrations")
    assert code == 1 and finding["level"] == "warn"
    assert f"1 migration(s) pending (schema {latest - 1} of {latest})" in finding["message"]
    assert finding["fix"] == f"ccmgr-watch db migrate --db {db}"


def test_a_name_order_snapshot_behind(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Migration 009 built the snapshot over no session; 1,200 written since make it due.
    add_sessions(db, 1200)
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "db.name_order")
    assert code == 1 and finding["level"] == "warn", finding
    assert "1200 session(s) behind" in finding["message"]
    assert "no watcher is running to fold them in" in finding["message"]
    assert finding["fix"] == f"ccmgr-watch db reindex --db {db}"
    # A running watcher folds them in when idle, whatever the database's size.
    (idle,) = doctor.check_name_order(str(db), running=True)
    assert idle.level == "ok" and "the watcher folds them in when idle" in idle.message
    assert run(["db", "reindex", "--db", str(db)]) == 0
    capsys.readouterr()
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "db.name_order")
    assert finding["level"] == "ok" and "0 session(s) written or renamed" in finding["message"]


def test_no_database_yet(
    tmp_path: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    code, report = doctor_json(capsys, missing)
    (finding,) = by_id(report, "db.exists")
    assert code == 1 and finding["level"] == "warn" and "db migrate" in finding["fix"]
    assert not missing.exists()  # doctor creates nothing


def test_not_a_database(tmp_path: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "d"
    folder.mkdir(mode=0o700)
    bogus = folder / "data.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    bogus.chmod(0o600)
    code, report = doctor_json(capsys, bogus)
    (finding,) = by_id(report, "db.schema")
    assert code == 1 and finding["level"] == "error" and finding["fix"].startswith("mv -- ")


@pytest.mark.parametrize(
    ("target", "mode", "level", "fix_mode"),
    [
        ("file", 0o644, "warn", "600"),
        ("file", 0o664, "error", "600"),
        ("folder", 0o755, "warn", "700"),
        ("folder", 0o777, "error", "700"),
    ],
)
def test_wrong_permissions(
    db: Path,
    tmux_dir: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    mode: int,
    level: str,
    fix_mode: str,
) -> None:
    path = db if target == "file" else db.parent
    path.chmod(mode)
    try:
        code, report = doctor_json(capsys, db)
    finally:
        path.chmod(0o700 if target == "folder" else 0o600)
    (finding,) = by_id(report, "perm.mode")
    assert code == 1 and finding["level"] == level
    assert finding["fix"] == f"chmod {fix_mode} {path}"
    assert f"mode {mode:04o}" in finding["message"]


def test_a_config_file_readable_by_others(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "ccmgr-ultra" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("search:\n    default_limit: 5\n")
    config.chmod(0o644)
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "perm.mode")
    assert code == 1 and finding["fix"] == f"chmod 600 {config}"


def test_a_stale_socket_is_found_and_no_server_started(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmux_dir / f"tmux-{os.getuid()}"
    folder.mkdir(mode=0o700)
    stale = folder / "crashed"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(stale))
    listener.close()  # the file stays, nobody listens: what a killed tmux server leaves
    _, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "tmux.stale_socket")
    # tmux leaves its socket behind on every exit: noted, not a finding that needs attention.
    assert finding["level"] == "ok" and "crashed" in finding["message"]
    assert finding["fix"] == f"rm -- {stale}"
    # Probing started nothing: still nobody there.
    probe = socket.socket(socket.AF_UNIX)
    with pytest.raises(ConnectionRefusedError):
        probe.connect(str(stale))
    probe.close()


def test_a_live_server_the_watcher_does_not_watch(
    server: Tmux, db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Tmux(tmux_dir)
    other.new("elsewhere")
    watcher = Watcher(db, "-L", server.name, env={"TMUX_TMPDIR": str(tmux_dir)}).start()
    try:
        watcher.wait_connected()
        code, report = doctor_json(capsys, db)
    finally:
        watcher.stop()
        other.kill_server()
    (finding,) = by_id(report, "tmux.server_unwatched")
    assert code == 1 and other.name in finding["message"]
    assert f"-L {other.name}" in finding["fix"]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("watcher:\n    batch_size: many\n", "warn"),  # an invalid value: the default is used
        ("watcher: [unclosed\n", "error"),  # a file that cannot be read: left out
    ],
)
def test_an_invalid_config(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str], text: str, level: str
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "ccmgr-ultra" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    config.chmod(0o600)
    code, report = doctor_json(capsys, db)
    findings = by_id(report, "config.valid")
    assert code == 1 and findings and findings[0]["level"] == level
    assert "ccmgr-watch config validate" in findings[0]["fix"]


def test_an_old_backup(db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from watcher.config.scopes import load_config

    assert run(["backup", "create", "--full", "--db", str(db)]) == 0
    capsys.readouterr()
    config = load_config()  # backup.schedule: daily (the default)
    now = datetime.now(UTC)
    fresh = doctor.check_backups(config, None, False, now)
    assert [f.level for f in fresh] == ["ok"]
    late = doctor.check_backups(config, None, False, now + timedelta(days=3))
    assert [(f.id, f.level) for f in late] == [("backup.age", "warn")]
    assert "older than twice backup.schedule (daily)" in late[0].message
    assert late[0].fix is not None and late[0].fix.startswith("ccmgr-watch backup create")


def test_no_backup_yet_while_nothing_makes_them(
    db: Path, tmux_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "backup.age")
    assert code == 1
    assert finding["level"] == "warn" and finding["fix"] == "ccmgr-watch backup create"


def test_the_database_checks_stop_at_their_deadline(db: Path) -> None:
    add_sessions(db, 5000)
    assert quick_check(str(db), timeout=1e-9).timed_out
    assert fts_integrity_check(str(db), timeout=1e-9).timed_out
    assert quick_check(str(db), timeout=30).ok


@pytest.mark.parametrize("value", ["0", "-1", "abc", "99999"])
def test_a_bad_timeout_is_a_usage_mistake(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["doctor", "--timeout", value]) == 2
    assert "Error: argument --timeout" in capsys.readouterr().err


# --- tmux versions (pure) ---


@pytest.mark.parametrize(
    ("text", "binary", "level"),
    [
        ("tmux 3.1c", False, "error"),
        ("tmux 2.9", False, "error"),
        ("tmux 3.2", False, "ok"),
        ("tmux 3.3a", False, "ok"),
        ("tmux 3.6", True, "warn"),
        ("tmux 3.7", True, "ok"),
        ("tmux next-3.8", False, "ok"),
        ("tmux master", False, "ok"),
        ("tmux openbsd-7.5", False, "ok"),
    ],
)
def test_tmux_versions_and_their_traps(text: str, binary: bool, level: str) -> None:
    finding = doctor.classify_tmux(text, binary_client=binary)
    assert finding.level == level
    if text.startswith(("tmux 3.2", "tmux 3.3", "tmux 3.6")):
        assert "fixed in 3.7" in finding.message
    if level != "ok":
        assert finding.fix


def test_tmux_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = doctor.check_tmux_version()
    assert finding.level == "error" and "not installed" in finding.message


@pytest.mark.parametrize("behaviour", ["hangs up", "never answers"])
def test_a_listening_socket_that_is_not_our_tmux_is_never_called_stale(
    db: Path,
    tmux_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    behaviour: str,
) -> None:
    """A server of another tmux version listens but refuses our tmux: removing its socket would
    cut it off, so it gets no `rm` fix; one that never answers is reported, not waited for."""
    import threading

    monkeypatch.setattr(doctor, "PROBE_TIMEOUT", 1.0)
    folder = tmux_dir / f"tmux-{os.getuid()}"
    folder.mkdir(mode=0o700)
    path = folder / "other"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if behaviour == "hangs up":
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        code, report = doctor_json(capsys, db)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            conn.close()
    assert by_id(report, "tmux.stale_socket") == []
    fid = "tmux.server_other_version" if behaviour == "hangs up" else "tmux.server_unresponsive"
    (finding,) = by_id(report, fid)
    assert code == 1 and finding["level"] == "warn" and "rm " not in finding["fix"]


def test_the_installed_service(
    db: Path,
    tmp_path: Path,
    tmux_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An installed unit: said; one recording elsewhere, or whose binary is gone, is reported."""
    from watcher import service_install

    monkeypatch.setattr(service_install, "temporary_folders", lambda: ["/nonexistent-temp"])
    binary = tmp_path / "venv" / "ccmgr-watch"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    other = tmp_path / "other.db"
    install = ["service", "install", "--no-enable", "--binary", str(binary)]
    assert run([*install, "--db", str(db)]) == 0
    capsys.readouterr()
    code, report = doctor_json(capsys, db)
    assert by_id(report, "service.installed")[0]["level"] == "ok"
    assert by_id(report, "service.database") == []
    assert by_id(report, "watcher.running")[0]["fix"].startswith("systemctl --user start")

    assert run([*install, "--db", str(other)]) == 0
    capsys.readouterr()
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "service.database")
    assert code == 1 and finding["fix"].startswith(f"ccmgr-watch doctor --db {other}")

    binary.unlink()
    code, report = doctor_json(capsys, db)
    (finding,) = by_id(report, "service.binary_missing")
    assert code == 1 and finding["level"] == "error"
