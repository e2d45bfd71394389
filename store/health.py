"""Checks of the database's health for ``ccmgr-watch doctor``: SQLite's ``quick_check`` and the
full-text index's own ``integrity-check``, each bounded in time.

``quick_check`` runs on a read-only connection (:func:`store.reads.open_reader`). FTS5's
``integrity-check`` is an ``INSERT`` command, which SQLite refuses on a read-only connection
(and SQLite 3.40 has no other way to run it), so it runs inside a transaction that is rolled back:
it writes nothing, but waits like a writer for the capture writer's lock, so its wait is short.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field

from store.reads import open_reader

FTS_TABLE = "sessions_fts"
LOCK_WAIT_MS = 2000  # how long the FTS check waits for the writer's lock before giving up


@dataclass(slots=True)
class Health:
    """What one check found: ``ok``, or ``problems`` (SQLite's words), or that it ran out of
    time (``timed_out``) or could not run (``skipped`` says why)."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    timed_out: bool = False
    skipped: str | None = None


def _deadline(conn: sqlite3.Connection, seconds: float) -> None:
    """Interrupt the connection's statement once ``seconds`` have passed."""
    end = time.monotonic() + seconds
    # Called every 10,000 virtual machine steps (a few hundred microseconds): a non-zero answer
    # interrupts the statement (sqlite3.OperationalError "interrupted").
    conn.set_progress_handler(lambda: int(time.monotonic() > end), 10_000)


def quick_check(path: str, *, timeout: float, most: int = 10) -> Health:
    """``PRAGMA quick_check`` on a read-only connection: the b-trees, pages and records (not the
    indexes' contents against their tables: that is ``integrity_check``, much slower)."""
    conn = open_reader(path)
    try:
        _deadline(conn, timeout)
        try:
            rows = conn.execute(f"PRAGMA quick_check({int(most)})").fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return Health(ok=False, timed_out=True)
            raise
    finally:
        conn.close()
    problems = [str(row[0]) for row in rows]
    return Health(ok=problems == ["ok"], problems=[] if problems == ["ok"] else problems)


def fts_integrity_check(path: str, *, timeout: float) -> Health:
    """FTS5's ``integrity-check`` of the session index, including its agreement with the
    ``sessions`` table (``rank`` 1), in a transaction that is rolled back."""
    if not os.path.isfile(path):
        return Health(ok=False, skipped=f"no database at {path}")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
        ).fetchone()
        if found is None:
            return Health(ok=False, skipped="the database has no search index (schema too old)")
        _deadline(conn, timeout)
        conn.execute("BEGIN")
        try:
            conn.execute(
                f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "interrupted" in text:
                return Health(ok=False, timed_out=True)
            if "locked" in text or "busy" in text:
                return Health(ok=False, skipped=f"the database stayed locked ({text})")
            if "readonly" in text:
                return Health(ok=False, skipped=f"the database cannot be written ({text})")
            raise
        except sqlite3.DatabaseError as exc:
            # SQLITE_CORRUPT_VTAB: "database disk image is malformed"
            return Health(ok=False, problems=[str(exc)])
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    finally:
        conn.close()
    return Health(ok=True)
