"""Full and incremental backups and restores with real files, through the CLI."""

from __future__ import annotations

import fcntl
import io
import json
import os
import shlex
import sqlite3
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.backup.conftest import add_rows, dump, set_keys


def created(cli, db: Path, *extra: str) -> Any:
    code, out, err = cli("backup", "create", "--db", str(db), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def restored(cli, db: Path, backup_id: str, *extra: str) -> Any:
    code, out, err = cli("backup", "restore", backup_id, "--db", str(db), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def touch_session(db: Path, session_id: str, stamp: str, name: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE sessions SET name = ?, updated_at = ?, last_access = ? WHERE id = ?",
            (name, stamp, stamp, session_id),
        )
    conn.close()


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_full_backup_round_trip(cli, db: Path, folder: Path, write_config, compression) -> None:
    write_config(f"backup:\n    compression: {compression}\n")
    before = dump(db)
    entry = created(cli, db, "--full", "--note", "before the move")
    path = Path(entry["path"])
    assert entry["kind"] == "full" and entry["note"] == "before the move"
    assert entry["totals"] == {"sessions": 20, "events": 60}
    assert path.name.endswith({"none": ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}[compression])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]

    # A user can read the manifest with tar.
    if compression != "zstd":
        shown = subprocess.run(
            ["tar", "-xOf", str(path), "manifest.json"], capture_output=True, check=True
        )
        manifest = json.loads(shown.stdout)
        names = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True).stdout
        assert names.splitlines()[0] == "manifest.json" and "data.db" in names
    else:
        import zstandard

        raw = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            assert tar.getnames()[0] == "manifest.json"
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["format_version"] == 1 and manifest["kind"] == "full"
    assert manifest["watermarks"]["event_id"] == 60
    assert {m["name"] for m in manifest["members"]} >= {"data.db"}
    assert all(len(m["sha256"]) == 64 for m in manifest["members"])

    # Change the live database, then restore.
    add_rows(db, range(100, 105))
    touch_session(db, "s-1", "2026-11-21T00:00:00.000000Z", "changed")
    changed = dump(db)
    report = restored(cli, db, entry["id"][:11], "--dry-run")
    assert report["changes"]["sessions"] == {"added": 0, "replaced": 1, "kept": 19, "removed": 5}
    report = restored(cli, db, entry["id"][:11])
    assert report["changes"]["sessions"] == {"before": 25, "after": 20}
    assert dump(db) == before
    rollback = Path(report["rollback"])
    assert rollback == db.with_name("data.db.rollback") and dump(rollback) == changed
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    # The restored database is a working ccmgr-watch database.
    code, out, _ = cli("db", "status", "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["up_to_date"]
    # No work files are left beside it.
    assert sorted(p.name for p in db.parent.iterdir()) == [
        "data.db",
        "data.db.rollback",
        "data.db.watcher.lock",
    ]


def test_incremental_chain_replays_in_order(cli, db: Path, folder: Path) -> None:
    states = [dump(db)]
    full = created(cli, db)
    assert full["kind"] == "full"  # nothing to build on yet
    add_rows(db, range(100, 103), stamp="2026-11-21T00:00:00.000000Z")
    touch_session(db, "s-1", "2026-11-21T01:00:00.000000Z", "renamed once")
    states.append(dump(db))
    first = created(cli, db)
    assert first["kind"] == "incremental" and first["parent"] == full["id"]
    # The 3 new sessions, the renamed one, and the one changed at the watermark itself (sent
    # again rather than risk missing one changed in the same microsecond).
    assert first["counts"] == {"sessions": 5, "events": 9}
    add_rows(db, range(200, 201), stamp="2026-11-22T00:00:00.000000Z")
    touch_session(db, "s-1", "2026-11-22T01:00:00.000000Z", "renamed twice")
    states.append(dump(db))
    second = created(cli, db, "--incremental")
    assert second["parent"] == first["id"] and second["counts"]["events"] == 3
    assert second["size"] < full["size"]

    for entry, state in zip((full, first, second), states, strict=True):
        report = restored(cli, db, entry["id"])
        assert report["chain"][-1] == entry["id"]
        assert dump(db) == state
    # Restore into another file.
    other = db.with_name("copy.db")
    code, _, err = cli("backup", "restore", first["id"], "--to", str(other), "--db", str(db))
    assert code == 0, err
    assert dump(other) == states[1]
    # verify rebuilds the chain.
    code, out, _ = cli("backup", "verify", second["id"], "--db", str(db), "--json")
    report = json.loads(out)
    assert code == 0 and report["chain"] == [full["id"], first["id"], second["id"]]
    assert report["events"] == len(states[2][1])


def test_incremental_needs_a_parent(cli, db: Path, folder: Path) -> None:
    code, _, err = cli("backup", "create", "--incremental", "--db", str(db))
    assert code == 2 and "create --full" in err
    full = created(cli, db, "--full")
    inc = created(cli, db, "--incremental")
    # delete refuses to break the chain
    code, _, err = cli("backup", "delete", full["id"], "--db", str(db))
    assert code == 1 and inc["id"] in err
    # A parent removed by hand: the incremental is refused with a clear message.
    (folder / full["file"]).unlink()
    before = db.read_bytes()
    code, _, err = cli("backup", "restore", inc["id"], "--db", str(db))
    assert code == 4 and "parent" in err and full["id"] in err
    assert db.read_bytes() == before
    # ... and the next automatic backup is a full one.
    assert created(cli, db)["kind"] == "full"


def test_ids_are_sortable_and_prefixes_unique(cli, db: Path) -> None:
    ids = [created(cli, db, "--full")["id"] for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    code, _, err = cli("backup", "verify", ids[0][:8], "--db", str(db))
    assert code == 2 and "ambiguous" in err and all(i in err for i in ids)
    code, _, err = cli("backup", "verify", "1999", "--db", str(db))
    assert code == 2 and "no backup" in err
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert [e["id"] for e in json.loads(out)] == ids
    code, out, _ = cli("backup", "list", "--db", str(db))
    assert code == 0 and out.splitlines()[0].startswith("ID ")
    code, out, _ = cli("backup", "delete", ids[1], "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["deleted"] == ids[1]


def test_dry_run_writes_nothing(cli, db: Path, folder: Path) -> None:
    entry = created(cli, db)
    add_rows(db, range(100, 102))
    touch_session(db, "s-3", "2026-11-23T00:00:00.000000Z", "x")

    def snapshot() -> dict[str, tuple[bytes, int]]:
        files = [*db.parent.iterdir(), *folder.iterdir()]
        return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files if p.is_file()}

    before = snapshot()
    report = restored(cli, db, entry["id"], "--dry-run")
    assert report["dry_run"] is True
    assert report["changes"]["sessions"] == {"added": 0, "replaced": 1, "kept": 19, "removed": 2}
    assert report["changes"]["session_events"]["removed"] == 6
    report = restored(cli, db, entry["id"], "--dry-run", "--only", "sessions")
    assert report["changes"]["sessions"] == {"added": 0, "replaced": 0, "kept": 20}
    assert snapshot() == before


def test_only_sessions_and_events_merge_without_overwriting_newer_rows(cli, db: Path) -> None:
    entry = created(cli, db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM sessions WHERE id = 's-2'")  # and its events
    conn.close()
    touch_session(db, "s-1", "2026-11-25T00:00:00.000000Z", "newer than the backup")
    add_rows(db, range(300, 301), stamp="2026-11-25T00:00:00.000000Z")

    report = restored(cli, db, entry["id"], "--only", "sessions")
    assert report["changes"]["sessions"] == {"added": 1, "replaced": 0, "kept": 19}
    sessions, events = dump(db)
    names = {row[0]: row[1] for row in sessions}
    assert names["s-1"] == "newer than the backup" and names["s-2"] == "name-2"
    assert "s-300" in names
    assert not [e for e in events if e[1] == "s-2"]

    report = restored(cli, db, entry["id"], "--only", "events")
    assert report["changes"]["session_events"]["added"] == 3
    again = restored(cli, db, entry["id"], "--only", "events")
    assert again["changes"]["session_events"]["added"] == 0
    _, events = dump(db)
    assert len([e for e in events if e[1] == "s-2"]) == 3
    assert len(events) == 63


def test_only_config_puts_the_files_back(cli, db: Path, write_config) -> None:
    path = write_config("search:\n    default_limit: 7\n")
    entry = created(cli, db, "--full")
    path.write_text("version: 2.1.0\nsearch:\n    default_limit: 9\n")
    report = restored(cli, db, entry["id"], "--only", "config", "--dry-run")
    assert report["config"] == [{"file": str(path), "action": "replaced"}]
    assert "9" in path.read_text()
    report = restored(cli, db, entry["id"], "--only", "config")
    assert "default_limit: 7" in path.read_text()
    assert "default_limit: 9" in Path(report["config"][0]["previous"]).read_text()


def test_passphrase_encryption_and_the_age_tool_view(cli, db, folder, write_config, monkeypatch):
    import pyrage

    write_config("backup:\n    encryption: age\n")
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_PASSPHRASE", "correct horse")
    entry = created(cli, db, "--full")
    path = Path(entry["path"])
    assert path.name.endswith(".tar.gz.age") and path.read_bytes().startswith(b"age-encryption")
    # What `age -d` does: pyrage alone, then an ordinary tar.gz.
    plain = pyrage.passphrase.decrypt(path.read_bytes(), "correct horse")
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        assert tar.getnames()[0] == "manifest.json"
    before = dump(db)
    add_rows(db, range(100, 101))
    restored(cli, db, entry["id"])
    assert dump(db) == before

    # Listing needs no passphrase (the index); a wrong one leaves everything as it was.
    monkeypatch.delenv("CCMGR_WATCH_BACKUP_PASSPHRASE")
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert code == 0 and json.loads(out)[0]["encrypted"] is True
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_PASSPHRASE", "wrong")
    live = db.read_bytes()
    code, _, err = cli("backup", "restore", entry["id"], "--db", str(db))
    assert code == 4 and "wrong passphrase" in err
    assert db.read_bytes() == live


def test_passphrase_file(cli, db, write_config, tmp_path) -> None:
    secret = set_keys(tmp_path / "pass.txt", "from a file\n")
    write_config(f"backup:\n    encryption: passphrase\n    passphrase_file: {secret}\n")
    entry = created(cli, db)
    code, _, err = cli("backup", "verify", entry["id"], "--db", str(db))
    assert code == 0, err
    secret.chmod(0o644)  # readable by others: refused
    code, _, err = cli("backup", "verify", entry["id"], "--db", str(db))
    assert code == 3 and "chmod 600" in err


def test_key_pair_encryption(cli, db, write_config, tmp_path, monkeypatch) -> None:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"# mine\n{identity.to_public()}\n")
    key = set_keys(tmp_path / "key.txt", f"# created: now\n{identity}\n")
    write_config(f"backup:\n    encryption: age\n    recipients_file: {recipients}\n")
    monkeypatch.delenv("CCMGR_WATCH_BACKUP_PASSPHRASE", raising=False)
    full = created(cli, db)  # unattended: no secret needed to write
    add_rows(db, range(100, 102), stamp="2026-11-21T00:00:00.000000Z")
    inc = created(cli, db)  # the parent's watermarks come from the index, not by decrypting
    assert inc["kind"] == "incremental"
    state = dump(db)
    plain = pyrage.decrypt(Path(inc["path"]).read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        assert json.load(tar.extractfile("manifest.json"))["parent"] == full["id"]  # type: ignore[arg-type]

    code, _, err = cli("backup", "restore", inc["id"], "--db", str(db))
    assert code == 4 and "--identity" in err
    add_rows(db, range(400, 401))
    restored(cli, db, inc["id"], "--identity", str(key))
    assert dump(db) == state
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_IDENTITY", str(key))
    code, _, err = cli("backup", "verify", "latest", "--db", str(db))
    assert code == 0, err
    other = pyrage.x25519.Identity.generate()
    monkeypatch.setenv("CCMGR_WATCH_BACKUP_IDENTITY", str(set_keys(tmp_path / "o.txt", str(other))))
    code, _, err = cli("backup", "verify", "latest", "--db", str(db))
    assert code == 4 and "does not match" in err


def test_prune_applies_the_retention(cli, db, write_config) -> None:
    write_config(
        "backup:\n    retention:\n        keep_last: 2\n        keep_daily: 0\n"
        "        keep_weekly: 0\n        keep_monthly: 0\n"
    )
    ids = [created(cli, db, "--full")["id"] for _ in range(4)]
    code, out, _ = cli("backup", "prune", "--dry-run", "--db", str(db), "--json")
    plan = json.loads(out)
    assert [(p["id"], p["action"]) for p in plan] == [
        (ids[3], "keep"),
        (ids[2], "keep"),
        (ids[1], "remove"),
        (ids[0], "remove"),
    ]
    assert plan[0]["reasons"] == ["keep-last 1 of 2", "newest full"]
    code, out, _ = cli("backup", "prune", "--db", str(db))
    assert code == 0 and "remove" in out and "keep-last 2 of 2" in out
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert [e["id"] for e in json.loads(out)] == ids[2:]

    write_config(
        "backup:\n    retention:\n        keep_last: 0\n        keep_daily: 0\n"
        "        keep_weekly: 0\n        keep_monthly: 0\n"
    )
    code, _, err = cli("backup", "prune", "--db", str(db))
    assert code == 2 and "keeps nothing" in err
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert len(json.loads(out)) == 2


def test_restore_is_refused_while_a_watcher_holds_the_lock(cli, db) -> None:
    entry = created(cli, db)
    lock = db.with_name("data.db.watcher.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        before = db.read_bytes()
        code, _, err = cli("backup", "restore", entry["id"], "--db", str(db))
        assert code == 6 and "pid 4242" in err and "stop it first" in err
        assert db.read_bytes() == before
        code, _, err = cli("backup", "restore", entry["id"], "--db", str(db), "--dry-run")
        assert code == 0, err  # a dry run only reads
    finally:
        os.close(fd)


def test_a_backup_of_a_newer_schema_is_refused(cli, db) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES (99, 'future', 'x', '2030-01-01T00:00:00.000000Z')"
        )
    conn.close()
    entry = created(cli, db)
    other = db.with_name("other.db")
    code, _, err = cli("backup", "restore", entry["id"], "--db", str(db), "--to", str(other))
    assert code == 4 and "newer than this ccmgr-watch" in err
    assert not other.exists()


def test_progress_only_on_a_terminal(db) -> None:
    from tests.capture.tmuxenv import CCMGR_WATCH, clean_env

    result = subprocess.run(
        [CCMGR_WATCH, "backup", "create", "--db", str(db)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0 and result.stderr == ""


def test_automatic_backups_start_a_new_chain_every_seven(cli, db: Path) -> None:
    kinds = [created(cli, db)["kind"] for _ in range(8)]
    assert kinds == ["full"] + ["incremental"] * 6 + ["full"]
    # An explicit --incremental extends a chain of any length.
    for _ in range(7):
        created(cli, db)
    last = created(cli, db, "--incremental")
    assert last["kind"] == "incremental"
    # totals: what the chain restores
    assert last["totals"] == {"sessions": 20, "events": 60}


def test_encryption_without_a_secret_is_refused_up_front(cli, db, folder, write_config, tmp_path):
    write_config("backup:\n    encryption: age\n")
    code, _, err = cli("backup", "create", "--db", str(db))
    assert code == 3 and "no passphrase" in err and "CCMGR_WATCH_BACKUP_PASSPHRASE" in err
    assert not folder.exists() or not [p for p in folder.iterdir() if p.name != ".lock"]
    # A passphrase file that is gone matters only when new backups need it.
    write_config(f"backup:\n    passphrase_file: {tmp_path / 'gone.txt'}\n")
    assert created(cli, db)["kind"] == "full"


def test_an_encrypted_backup_missing_from_the_index_says_which_key(
    cli, db, folder, write_config, tmp_path, monkeypatch
):
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"{identity.to_public()}\n")
    write_config(f"backup:\n    encryption: age\n    recipients_file: {recipients}\n")
    entry = created(cli, db)
    (folder / "index.json").unlink()
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert json.loads(out)[0]["readable"] is False
    code, _, err = cli("backup", "restore", entry["id"], "--db", str(db))
    assert code == 4 and "--identity" in err
    key = set_keys(tmp_path / "key.txt", str(identity))
    code, out, _ = cli("backup", "list", "--db", str(db), "--json", "--identity", str(key))
    assert json.loads(out)[0]["readable"] is True  # and back in the index
    code, out, _ = cli("backup", "list", "--db", str(db), "--json")
    assert json.loads(out)[0]["readable"] is True


def test_a_listing_never_writes_the_index_while_a_create_holds_the_folder(cli, db, folder):
    created(cli, db)
    (folder / "index.json").unlink()
    fd = os.open(folder / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        code, out, _ = cli("backup", "list", "--db", str(db), "--json")
        assert code == 0 and len(json.loads(out)) == 1
        assert not (folder / "index.json").exists()
    finally:
        os.close(fd)
    cli("backup", "list", "--db", str(db))
    assert (folder / "index.json").exists()


def test_progress_on_a_terminal(db: Path) -> None:
    from tests.capture.tmuxenv import CCMGR_WATCH, clean_env

    # `script` gives the command a pseudo-terminal, as a person's shell would.
    command = shlex.join([CCMGR_WATCH, "backup", "create", "--db", str(db)])
    result = subprocess.run(
        ["script", "-q", "-e", "-c", command, "/dev/null"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "writing backup:" in result.stdout and "MB" in result.stdout


def test_config_restore_has_no_target_database(cli, db: Path, tmp_path: Path) -> None:
    created(cli, db)
    code, _, err = cli(
        "backup", "restore", "latest", "--only", "config", "--to", str(tmp_path / "x")
    )
    assert code == 2 and "--to" in err
