"""A crash at every step of create and restore (the real CLI SIGKILLs itself there) leaves
either the old state or the new one, and the next run cleans up and succeeds."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.backup.conftest import add_rows, dump
from tests.capture.tmuxenv import CCMGR_WATCH, clean_env

CREATE_STEPS = ["create:staged", "create:written", "create:renamed", "create:indexed"]
RESTORE_STEPS = [
    "restore:extracted",
    "restore:replayed",
    "restore:checked",
    "restore:rollback-kept",
    "restore:swapped",
]


def ccmgr(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = {"CCMGR_WATCH_TEST_CRASH_AT": crash_at} if crash_at else {}
    return subprocess.run(
        [CCMGR_WATCH, *args], capture_output=True, text=True, env=clean_env(**extra), check=False
    )


def backups(db: Path) -> list[dict[str, Any]]:
    result = ccmgr("backup", "list", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def sound(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone() == ("ok",))
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("step", CREATE_STEPS)
@pytest.mark.parametrize("kind", ["--full", "--incremental"])
def test_crash_during_create(db: Path, folder: Path, step: str, kind: str) -> None:
    assert ccmgr("backup", "create", "--full", "--db", str(db)).returncode == 0
    add_rows(db, range(100, 105), stamp="2026-11-21T00:00:00.000000Z")
    before = [b["id"] for b in backups(db)]

    crashed = ccmgr("backup", "create", kind, "--db", str(db), crash_at=step)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    after = [b["id"] for b in backups(db)]
    # Old state, or old plus one whole new backup: never a half one that looks whole.
    assert after == before or (after[:-1] == before and len(after) == len(before) + 1)
    if step in ("create:staged", "create:written"):
        assert after == before
    for backup_id in after:
        result = ccmgr("backup", "verify", backup_id, "--db", str(db))
        assert result.returncode == 0, result.stderr
    # The next create removes the leftovers and works.
    assert ccmgr("backup", "create", kind, "--db", str(db)).returncode == 0
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.slow
@pytest.mark.parametrize("step", [*RESTORE_STEPS, "restore:merged"])
def test_crash_during_restore(db: Path, step: str) -> None:
    assert ccmgr("backup", "create", "--full", "--db", str(db)).returncode == 0
    add_rows(db, range(100, 103), stamp="2026-11-21T00:00:00.000000Z")
    assert ccmgr("backup", "create", "--incremental", "--db", str(db)).returncode == 0
    new = dump(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM sessions WHERE id IN ('s-1', 's-101')")
    conn.close()
    add_rows(db, range(500, 502), stamp="2026-11-22T00:00:00.000000Z")
    old = dump(db)

    only = ["--only", "sessions"] if step == "restore:merged" else []
    crashed = ccmgr("backup", "restore", "latest", "--db", str(db), *only, crash_at=step)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    assert sound(db)
    state = dump(db)
    if step == "restore:swapped":
        assert state == new
    else:
        assert state == old  # a merge is one transaction: not committed, nothing changed
    if step in ("restore:rollback-kept", "restore:swapped"):
        assert dump(db.with_name("data.db.rollback")) == old

    # The next restore cleans up after the crashed one and succeeds.
    result = ccmgr("backup", "restore", "latest", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert dump(db) == new
    assert not [p.name for p in db.parent.iterdir() if ".restore-" in p.name]
