"""The idle fold check reads only (store.name_fold.has_work, merge_due): it says there is work
exactly when a fold would do some, FTS5's own 'merge' included; and no writer in store/
replaces a session (INSERT OR REPLACE would leave it dirty in the snapshot until `db reindex`):
each one upserts, and the snapshot stays clean."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import backup_sql, name_fold
from store.db import migrate_sync

ROOT = Path(__file__).resolve().parents[2]
_FTS_INSERT = (
    "INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory) "
    "VALUES (?, ?, 'p', 'w', 'b', ?)"
)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fold-idle") / "template.db"
    migrate_sync(path)
    return path


def _copy(template: Path, tmp_path: Path) -> sqlite3.Connection:
    target = tmp_path / "data.db"
    with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return sqlite3.connect(target, isolation_level=None)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 120), st.sampled_from([0, 0, 1, 2, 5, 64])), max_size=30
    )
)
def test_merge_due_is_what_fts5s_merge_does(
    migrated: Path, tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, int]]
) -> None:
    """Segments written one transaction each (a fold's flush), merges of a few pages (ongoing
    merges left half done) or none: before each step, merge_due (a read of the structure
    record) says whether the 'merge' command does work, as FTS5 counts it (two changes or
    more), run and rolled back."""
    conn = _copy(migrated, tmp_path_factory.mktemp("merge"))
    rowid = 0
    for rows, pages in steps:
        conn.execute("BEGIN")
        for _ in range(rows):
            rowid += 1
            conn.execute(_FTS_INSERT, (rowid, f"n{rowid} alpha beta{rowid % 7}", f"/d/{rowid}"))
        conn.execute("COMMIT")
        due = name_fold.merge_due(conn)
        conn.execute("BEGIN")
        assert name_fold.merge_step(conn) == due
        conn.execute("ROLLBACK")
        if pages:
            conn.execute("BEGIN")
            name_fold.merge_step(conn, pages)
            conn.execute("COMMIT")
    assert name_fold.merge_due(conn) == _merges(conn)
    conn.close()


def _merges(conn: sqlite3.Connection) -> bool:
    conn.execute("BEGIN")
    try:
        return name_fold.merge_step(conn)
    finally:
        conn.execute("ROLLBACK")


def _fold_all(conn: sqlite3.Connection) -> None:
    while True:
        conn.execute("BEGIN IMMEDIATE")
        done = name_fold.fold(conn, budget=60.0)
        conn.execute("COMMIT")
        if not done.more:
            return


def _session(conn: sqlite3.Connection, n: int, name: str) -> None:
    conn.execute(
        "INSERT INTO sessions (id, name, created_at, updated_at, last_access, status) "
        "VALUES (?, ?, '2026-11-26T10:00:00Z', '2026-11-26T10:00:00Z', "
        "'2026-11-26T10:00:00Z', 'ended')",
        (f"s{n}", name),
    )


def test_has_work_says_what_a_fold_would_do(migrated: Path, tmp_path: Path) -> None:
    conn = _copy(migrated, tmp_path)
    assert not name_fold.has_work(conn)  # built empty by the migration
    for n in range(30):
        _session(conn, n, f"s-{n:02d}")
    assert name_fold.has_work(conn)  # inserted since the build
    _fold_all(conn)
    assert not name_fold.has_work(conn)
    conn.execute("UPDATE sessions SET name = 'a-first' WHERE id = 's7'")
    assert name_fold.has_work(conn)  # renamed: dirty
    _fold_all(conn)
    assert not name_fold.has_work(conn)
    conn.execute("UPDATE sessions SET project = 'p' WHERE id = 's8'")
    assert not name_fold.has_work(conn)  # re-texted in place by the trigger: nothing to fold
    # The highest built row replaced under its own rowid: dirty, but with its old snapshot
    # row, whose text is unknown; a fold cannot take it (it waits for `db reindex`), so there
    # is no work for the idle writer either.
    (top,) = conn.execute("SELECT max(rowid) FROM sessions").fetchone()
    conn.execute(
        "INSERT OR REPLACE INTO sessions (rowid, id, name, created_at, updated_at, last_access, "
        "status) SELECT rowid, id, 'zz-replaced', created_at, updated_at, last_access, status "
        "FROM sessions WHERE rowid = ?",
        (top,),
    )
    assert conn.execute("SELECT count(*) FROM sessions_name_dirty").fetchone() == (1,)
    assert not name_fold.has_work(conn)
    conn.close()


# --- who writes sessions with INSERT OR REPLACE? Nobody in store/ --------------------------------


def test_no_store_statement_replaces_a_session() -> None:
    """REPLACE deletes the old row without the delete triggers: its search and snapshot rows
    would stay behind. Every writer of sessions upserts (INSERT ... ON CONFLICT DO UPDATE,
    which runs the update triggers) or inserts."""
    pattern = re.compile(r"\bINSERT\s+OR\s+REPLACE\b|\bREPLACE\s+INTO\b")  # SQL is upper case
    offenders = []
    for path in [*sorted((ROOT / "store").rglob("*.py")), *sorted((ROOT / "sql").rglob("*.sql"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("--")[0] if path.suffix == ".sql" else line.split("#")[0]
            if pattern.search(code) and "REPLACE`" not in code and "``INSERT OR" not in code:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_a_backup_replay_of_changed_sessions_leaves_the_snapshot_clean(
    migrated: Path, tmp_path: Path
) -> None:
    """An incremental backup's sessions written over existing ones (restore): the upsert runs
    the update trigger, so a renamed session is dirty, folded in, clean; nothing stays
    stale."""
    conn = _copy(migrated, tmp_path)
    for n in range(10):
        _session(conn, n, f"s-{n}")
    _fold_all(conn)
    cols = ["id", "name", "created_at", "updated_at", "last_access", "status"]
    rows = [
        (f"s{n}", f"renamed-{n}", "2026-11-26T10:00:00Z", "2026-11-27T10:00:00Z", "x", "ended")
        for n in (2, 5)
    ]
    conn.execute("BEGIN IMMEDIATE")
    assert backup_sql.replay_rows(conn, "sessions", cols, rows) == 2
    conn.execute("COMMIT")
    assert conn.execute("SELECT count(*) FROM sessions_name_dirty").fetchone() == (2,)
    _fold_all(conn)
    assert not name_fold.has_work(conn)
    (stale,) = conn.execute(
        "SELECT count(*) FROM sessions_name_rank AS r WHERE NOT EXISTS "
        "(SELECT 1 FROM sessions AS s WHERE s.rowid = r.sid) OR EXISTS "
        "(SELECT 1 FROM sessions_name_dirty AS d WHERE d.sid = r.sid)"
    ).fetchone()
    assert stale == 0
    names = [
        name
        for (name,) in conn.execute(
            "SELECT s.name FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid "
            "ORDER BY r.rank"
        )
    ]
    assert names == sorted(names, key=str.lower) and "renamed-5" in names
    conn.close()
