"""``doctor`` on a PostgreSQL store: the server and its schema checked, the password never shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from store.postgres.connect import connect_sync
from watcher.cli.main import run


def doctor(capsys: pytest.CaptureFixture[str], url: str) -> tuple[int, dict[str, Any], str]:
    code = run(["doctor", "--db", url, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), out + err


def finding(report: dict[str, Any], fid: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in report["findings"] if f["id"] == fid]
    assert len(found) == 1, found
    return found[0]


def test_a_migrated_store_is_checked_as_postgresql(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = doctor(capsys, pg_url)
    assert report["database"] == pg_url
    assert finding(report, "db.connect")["level"] == "ok"
    assert finding(report, "db.migrations")["message"].startswith("schema up to date")
    assert "pg_dump" in finding(report, "backup.age")["message"]
    # Nothing treats the URL as a file: no "no database at ..." and no SQLite checks.
    ids = {f["id"] for f in report["findings"]}
    assert not ids & {"db.exists", "db.quick_check", "db.search_index"}
    assert code == 1  # no watcher records into it here: that needs attention


def test_a_store_behind_its_schema_says_how_to_migrate(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = connect_sync(pg_url)
    try:
        conn.execute(
            "DELETE FROM schema_migrations"
            " WHERE version = (SELECT max(version) FROM schema_migrations)"
        )
    finally:
        conn.close()
    _, report, _ = doctor(capsys, pg_url)
    migrations = finding(report, "db.migrations")
    assert migrations["level"] == "warn" and "pending" in migrations["message"]
    assert migrations["fix"].startswith("ccmgr-watch db migrate --db")


def test_an_unreachable_server_is_an_error_and_the_password_never_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://me:s3cret@127.0.0.1:1/ccmgr?connect_timeout=2"
    code, report, text = doctor(capsys, url)
    assert code == 1 and "s3cret" not in text
    connect = finding(report, "db.connect")
    assert connect["level"] == "error" and "cannot connect" in connect["message"]
    assert report["database"] == "postgresql://me:***@127.0.0.1:1/ccmgr?connect_timeout=2"
