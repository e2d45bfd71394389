"""Migration 002: the FTS index, its triggers, its tokenizer, reindexing, up and down."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import migrations
from store.db import migrate_sync, reindex

from .conftest import insert_sessions, make_session


def fts(conn: sqlite3.Connection, match: str) -> set[str]:
    rows = conn.execute(
        "SELECT id FROM sessions WHERE rowid IN "
        "(SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)",
        (match,),
    )
    return {row[0] for row in rows}


def integrity(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO sessions_fts (sessions_fts, rank) VALUES ('integrity-check', 1)")


@pytest.mark.parametrize("word", ["myapp", "feat", "auth", "ccmgr", "main", "home", "code"])
def test_tokens_split_on_everything_but_letters_and_digits(
    conn: sqlite3.Connection, word: str
) -> None:
    insert_sessions(
        conn,
        [make_session(1, name="ccmgr-myapp-main-feat_auth", directory="/home/u/code/myapp")],
    )
    assert fts(conn, f'"{word}"') == {"s0001"}
    assert fts(conn, f'"{word.upper()}"') == {"s0001"}


def test_diacritics_and_case_fold(conn: sqlite3.Connection) -> None:
    insert_sessions(conn, [make_session(1, name="Café Über")])
    assert fts(conn, '"cafe"') == fts(conn, '"CAFÉ"') == fts(conn, '"uber"') == {"s0001"}


def test_triggers_follow_plain_sql_writes(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO sessions (id, name, project, created_at, updated_at, last_access) "
        "VALUES ('a', 'alpha-one', 'proj', 't', 't', 't')"
    )
    assert fts(conn, '"alpha"') == {"a"}
    conn.execute("UPDATE sessions SET name = 'beta-two' WHERE id = 'a'")
    assert fts(conn, '"alpha"') == set()
    assert fts(conn, '"beta"') == {"a"}
    conn.execute("UPDATE sessions SET branch = 'feat/x', directory = '/srv/y' WHERE id = 'a'")
    assert fts(conn, '"feat" AND "srv"') == {"a"}
    conn.execute("UPDATE sessions SET project = NULL WHERE id = 'a'")
    assert fts(conn, '"proj"') == set()
    integrity(conn)
    conn.execute("DELETE FROM sessions WHERE id = 'a'")
    assert fts(conn, '"beta"') == set()
    integrity(conn)


def test_status_and_last_access_updates_do_not_touch_the_index(
    conn: sqlite3.Connection,
) -> None:
    insert_sessions(conn, [make_session(1, name="alpha")])
    before = conn.total_changes
    conn.execute(
        "UPDATE sessions SET last_access = 'z', status = 'attached', updated_at = 'z', "
        "metadata = '{\"k\": 1}', ended_at = NULL WHERE id = 's0001'"
    )
    assert conn.total_changes - before == 1  # the row itself; no trigger wrote to the index
    before = conn.total_changes
    conn.execute("UPDATE sessions SET name = 'beta' WHERE id = 's0001'")
    assert conn.total_changes - before > 1
    integrity(conn)


def test_migration_indexes_existing_rows_and_down_drops_everything(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    migrate_sync(path, 1)
    with sqlite3.connect(path, isolation_level=None) as conn:
        insert_sessions(conn, [make_session(1, name="old-session")])
    migrate_sync(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert fts(conn, '"old"') == {"s0001"}
        integrity(conn)
        migrations.migrate(conn, 1)
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
        assert not [n for n in names if "fts" in n or "nocase" in n or "directory" in n]
        migrations.migrate(conn)
        assert fts(conn, '"old"') == {"s0001"}
    finally:
        conn.close()


def test_reindex_repairs_an_index_out_of_step(conn: sqlite3.Connection) -> None:
    insert_sessions(conn, [make_session(n, name=f"name{n}") for n in range(1, 6)])
    # Renumber rowids the way VACUUM may, behind the index's back.
    conn.execute("DROP TRIGGER sessions_fts_after_update")
    conn.execute("UPDATE sessions SET rowid = rowid + 100")
    assert fts(conn, '"name1"') == set()
    assert reindex(Path(conn_path(conn))) == 5
    assert fts(conn, '"name1"') == {"s0001"}
    integrity(conn)


def test_vacuum_then_reindex_keeps_search_right(conn: sqlite3.Connection) -> None:
    insert_sessions(conn, [make_session(n, name=f"name{n}") for n in range(1, 30)])
    conn.execute("DELETE FROM sessions WHERE id IN ('s0002', 's0010', 's0020')")
    conn.execute("VACUUM")
    reindex(Path(conn_path(conn)))
    assert fts(conn, '"name25"') == {"s0025"}
    integrity(conn)


def conn_path(conn: sqlite3.Connection) -> str:
    """The file of the test's connection (reindex opens its own, as `db reindex` does)."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])
