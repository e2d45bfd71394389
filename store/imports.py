"""The statements of ``ccmgr-watch import`` and of writing JSON state back out.

Reading a ``data.db`` handed to ``import`` (ccmgr-ultra's or another ccmgr-watch's, from a copy
so the original is never touched), finding the stored sessions an import may merge into, writing
an import in one transaction, and reading the sessions an export or dual mode writes as JSON.
The decisions are the caller's (``watcher.importer``); this module only runs statements.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from store.columns import IMPORT_UPDATABLE, SESSION_COLUMNS
from store.db import _run_transaction, connect_sync
from store.errors import DataError, StoreError
from store.reads import EventRecord, SessionRecord, open_reader, read_error, session_from_row
from store.timefmt import now_ts

T = TypeVar("T")
_CHUNK: Final = 400  # parameters per IN (...) list, well under SQLite's limit
_SELECT: Final = "SELECT " + ", ".join(SESSION_COLUMNS) + " FROM sessions"
_INSERT_SESSION: Final = (
    "INSERT INTO sessions ("
    + ", ".join(SESSION_COLUMNS)
    + ") VALUES ("
    + ", ".join("?" for _ in SESSION_COLUMNS)
    + ")"
)
_INSERT_EVENT: Final = (
    "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?, ?, ?, ?)"
)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class ImportReader:
    """The reads an import plan needs, on the connection of its transaction."""

    def __init__(self, conn: sqlite3.Connection | None) -> None:
        self._conn = conn

    def sessions(
        self,
        ids: Sequence[str],
        names: Sequence[str],
        identities: Sequence[tuple[str, str]],
    ) -> list[SessionRecord]:
        """Stored sessions with one of these ids, names or (tmux_server, tmux_id)."""
        if self._conn is None:
            return []
        found: dict[str, SessionRecord] = {}
        for column, values in (("id", sorted(set(ids))), ("name", sorted(set(names)))):
            for chunk in _chunks(values):
                marks = ", ".join("?" for _ in chunk)
                for row in self._conn.execute(
                    f"{_SELECT} WHERE {column} IN ({marks})", tuple(chunk)
                ):
                    record = session_from_row(row)
                    found[record.id] = record
        by_server: dict[str, list[str]] = {}
        for server, tmux_id in sorted(set(identities)):
            by_server.setdefault(server, []).append(tmux_id)
        for server, tmux_ids in by_server.items():
            for chunk in _chunks(tmux_ids):
                marks = ", ".join("?" for _ in chunk)
                for row in self._conn.execute(
                    f"{_SELECT} WHERE tmux_server = ? AND tmux_id IN ({marks})",
                    (server, *chunk),
                ):
                    record = session_from_row(row)
                    found[record.id] = record
        return list(found.values())

    def events(self, session_ids: Sequence[str]) -> list[EventRecord]:
        """Every stored event of these sessions."""
        if self._conn is None:
            return []
        result: list[EventRecord] = []
        for chunk in _chunks(sorted(set(session_ids))):
            marks = ", ".join("?" for _ in chunk)
            for sid, kind, stamp, data in self._conn.execute(
                "SELECT session_id, event_type, timestamp, data FROM session_events "
                f"WHERE session_id IN ({marks})",
                tuple(chunk),
            ):
                try:
                    parsed = json.loads(data) if data else {}
                except ValueError:
                    parsed = {"legacy_value": data}
                result.append(
                    EventRecord(
                        session_id=sid,
                        event_type=kind,
                        timestamp=stamp,
                        data=parsed if isinstance(parsed, dict) else {"legacy_value": parsed},
                    )
                )
        return result

    def identity_taken(self, server: str, tmux_id: str) -> bool:
        """Whether a stored session already has this tmux identity."""
        if self._conn is None:
            return False
        row = self._conn.execute(
            "SELECT 1 FROM sessions WHERE tmux_server = ? AND tmux_id = ?", (server, tmux_id)
        ).fetchone()
        return row is not None


class ImportWrites:
    """What an import writes: new sessions, changed columns of stored ones, new events."""

    def __init__(
        self,
        adds: Sequence[SessionRecord],
        updates: Sequence[tuple[str, dict[str, Any]]],
        events: Sequence[EventRecord],
    ) -> None:
        self.adds = adds
        self.updates = updates
        self.events = events


def _encode(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _write(conn: sqlite3.Connection, writes: ImportWrites) -> None:
    now = now_ts()
    conn.executemany(
        _INSERT_SESSION,
        [
            tuple(
                _encode(getattr(s, c)) if c == "metadata" else getattr(s, c)
                for c in SESSION_COLUMNS
            )
            for s in writes.adds
        ],
    )
    for sid, changes in writes.updates:
        columns = sorted(changes)
        unknown = set(columns) - IMPORT_UPDATABLE
        if unknown:
            raise ValueError(f"an import does not change {sorted(unknown)}")
        sets = ", ".join(f"{c} = ?" for c in columns)
        values = [_encode(changes[c]) if c == "metadata" else changes[c] for c in columns]
        conn.execute(
            f"UPDATE sessions SET {sets}, updated_at = ? WHERE id = ?", (*values, now, sid)
        )
    conn.executemany(
        _INSERT_EVENT,
        [(e.session_id, e.event_type, e.timestamp, _encode(e.data)) for e in writes.events],
    )


def run_import(
    path: Path, plan: Callable[[ImportReader], ImportWrites | None], *, write: bool
) -> None:
    """Run ``plan`` against the database at ``path`` and write what it returns, all in one
    ``BEGIN IMMEDIATE`` transaction (the plan sees what it changes; a watcher's writes wait).

    ``write=False`` (a dry run) only reads, and a missing database is an empty one.
    """
    if not write:
        if not path.exists():
            plan(ImportReader(None))
            return
        conn = open_reader(str(path))
        try:
            plan(ImportReader(conn))
        except sqlite3.Error as exc:
            raise read_error(path, exc) from exc
        finally:
            conn.close()
        return
    conn = connect_sync(path)

    def work(c: sqlite3.Connection) -> None:
        writes = plan(ImportReader(c))
        if writes is not None:
            _write(c, writes)

    try:
        _run_transaction(conn, work)
    except sqlite3.Error as exc:
        raise StoreError(f"importing into {path} failed: {exc}") from exc
    finally:
        conn.close()


# --- a data.db given to import -------------------------------------------------------------------

_SESSION_WANTED: Final = (
    "id",
    "name",
    "project",
    "worktree",
    "branch",
    "directory",
    "created_at",
    "last_access",
    "metadata",
    "status",
    "ended_at",
    "tmux_server",
    "tmux_id",
)


def read_foreign_database(
    path: Path, label: str
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The session and event rows of a ``data.db`` at ``path`` (ccmgr-ultra's schema, or
    ccmgr-watch's), read from a private copy so the file and its ``-wal`` are left as they were.

    Raises DataError (naming ``label``) when it is not a readable database of sessions.
    """
    with tempfile.TemporaryDirectory(prefix="ccmgr-watch-import-") as folder:
        copy = Path(folder) / "data.db"
        try:
            shutil.copyfile(path, copy)
            wal = Path(f"{path}-wal")
            if wal.is_file():
                shutil.copyfile(wal, Path(f"{copy}-wal"))
        except OSError as exc:
            raise DataError(f"{label}: cannot read: {exc.strerror or exc}") from None
        os.chmod(copy, 0o600)
        try:
            conn = sqlite3.connect(copy, isolation_level=None)
        except sqlite3.Error as exc:
            raise _not_database(label, exc) from None
        try:
            return _read_tables(conn, label)
        except sqlite3.Error as exc:
            raise _not_database(label, exc) from None
        finally:
            conn.close()


def _not_database(label: str, exc: Exception) -> DataError:
    return DataError(
        f"{label}: not a readable SQLite database ({exc})",
        hint="check the file (`sqlite3 FILE 'PRAGMA integrity_check'`), or leave it out",
    )


def _read_tables(
    conn: sqlite3.Connection, label: str
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    conn.execute("PRAGMA query_only = ON")
    check = conn.execute("PRAGMA quick_check").fetchone()
    if not check or check[0] != "ok":
        raise DataError(
            f"{label}: the database is damaged (quick_check: {check[0] if check else '?'})",
            hint="repair it with `sqlite3 FILE .recover`, or leave it out",
        )
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    if "sessions" not in tables:
        raise DataError(
            f"{label}: has no sessions table: not a ccmgr-ultra or ccmgr-watch database",
            hint="give ccmgr-ultra's data.db (~/.config/ccmgr-ultra/data.db)",
        )
    columns = [row[1] for row in conn.execute("SELECT * FROM pragma_table_info('sessions')")]
    if "id" not in columns:
        raise DataError(f"{label}: table sessions has no id column")
    chosen = [c for c in _SESSION_WANTED if c in columns]
    sessions = [
        dict(zip(chosen, row, strict=True))
        for row in conn.execute(
            "SELECT " + ", ".join(f'"{c}"' for c in chosen) + " FROM sessions ORDER BY rowid"
        )
    ]
    events: list[dict[str, object]] = []
    if "session_events" in tables:
        have = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('session_events')")}
        wanted = [c for c in ("session_id", "event_type", "timestamp", "data") if c in have]
        if "session_id" in wanted:
            events = [
                dict(zip(wanted, row, strict=True))
                for row in conn.execute(
                    "SELECT "
                    + ", ".join(f'"{c}"' for c in wanted)
                    + " FROM session_events ORDER BY rowid"
                )
            ]
    return sessions, events


# --- JSON state out ------------------------------------------------------------------------------


def sessions_for_state(path: Path, *, alive_only: bool) -> list[SessionRecord]:
    """Every session (``alive_only``: those not ended), by id: what a JSON state file holds."""
    conn = open_reader(str(path))
    try:
        where = " WHERE status != 'ended'" if alive_only else ""
        return [session_from_row(row) for row in conn.execute(f"{_SELECT}{where} ORDER BY id")]
    except sqlite3.Error as exc:
        raise read_error(path, exc) from exc
    finally:
        conn.close()
