"""The test harness's own PostgreSQL server: private, one database per test."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.pg_server import TEMPLATE, PgServer


def test_each_test_gets_its_own_database_on_a_private_socket(
    pg_server: PgServer, pg_url: str
) -> None:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert name is not None and name[0] != TEMPLATE and name[0].startswith("test_")
    assert listen == ("",)  # no TCP: only the socket in the server's own folder
    mode = os.stat(pg_server.root).st_mode
    assert stat.S_IMODE(mode) == 0o700


def test_a_second_database_is_another_database(pg_server: PgServer, pg_url: str) -> None:
    import psycopg

    other = pg_server.new_database()
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    with psycopg.connect(other) as conn:
        found = conn.execute("SELECT to_regclass('only_here')").fetchone()
    assert found == (None,)


def test_without_postgresql_the_tests_skip_saying_how_to_enable_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests import pg_server

    monkeypatch.setattr(pg_server, "find_bin_dir", lambda: None)
    with pytest.raises(pytest.skip.Exception) as skipped, pg_server.running_server():
        pass  # pragma: no cover - never reached
    message = str(skipped.value)
    assert "no initdb/pg_ctl found" in message and "CCMGR_WATCH_PG_BIN" in message
    assert "\n" not in message


def test_the_bin_folder_is_found_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.pg_server import find_bin_dir

    for tool in ("initdb", "pg_ctl"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("CCMGR_WATCH_PG_BIN", str(tmp_path))
    assert find_bin_dir() == tmp_path
