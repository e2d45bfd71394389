"""Schema migrations: numbered files in ``sql/`` with an UP and a DOWN part each.

Each migration runs inside its own ``BEGIN IMMEDIATE`` transaction together with its row in
``schema_migrations`` (version, name, checksum, applied time), so two processes migrating the same
database at once serialise on SQLite's write lock and the second finds nothing left to do. A file
whose checksum no longer matches what was applied is refused: shipped migrations are never edited.

A database created by ccmgr-ultra's own Go store (its ``schema_migrations`` has a ``description``
column and no checksums) is adopted: its tables are renamed with a ``ccmgr_ultra_`` prefix and kept,
and their sessions and events are copied into this schema, inside the same transaction as 001.

This module is synchronous (stdlib ``sqlite3``); async callers run it in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import ChecksumMismatch, MigrationError, StoreError
from store.timefmt import format_ts, now_ts, parse_ts

_FILENAME = re.compile(r"^(?P<version>\d{3,})_(?P<name>[a-z0-9_]+)\.sql$")
_UP = re.compile(r"^--\s*UP\s*$", re.MULTILINE)
_DOWN = re.compile(r"^--\s*DOWN\s*$", re.MULTILINE)

LEGACY_PREFIX = "ccmgr_ultra_"


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file, parsed."""

    version: int
    name: str
    filename: str
    up: str
    down: str
    checksum: str


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    checksum: str
    applied_at: str


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """Where a database stands against the migrations this program ships."""

    current: int
    latest: int
    applied: list[AppliedMigration]
    pending: list[Migration]
    mismatched: list[Migration]
    unknown: list[AppliedMigration]

    @property
    def ok(self) -> bool:
        """True when every applied migration is known and unchanged."""
        return not self.mismatched and not self.unknown

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what ``db status --json`` prints)."""
        return {
            "current": self.current,
            "latest": self.latest,
            "up_to_date": self.current == self.latest and self.ok,
            "checksums_ok": self.ok,
            "applied": [
                {"version": a.version, "name": a.name, "applied_at": a.applied_at}
                for a in self.applied
            ],
            "pending": [{"version": m.version, "name": m.name} for m in self.pending],
            "mismatched": [m.filename for m in self.mismatched],
            "unknown": [a.version for a in self.unknown],
        }


def migrations_dir() -> Path:
    """The folder holding the migration files: inside the installed package, else ``sql/``."""
    here = Path(__file__).resolve().parent
    installed = here / "migrations"
    if installed.is_dir():
        return installed
    return here.parent / "sql"


def parse_migration(path: Path) -> Migration:
    """Read and split one migration file; raises MigrationError naming the file if malformed."""
    match = _FILENAME.match(path.name)
    if match is None:
        raise MigrationError(
            f"migration file name {path.name!r} is not NNN_name.sql",
            hint="rename it, e.g. 003_add_backups.sql",
        )
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    up_marks, down_marks = list(_UP.finditer(text)), list(_DOWN.finditer(text))
    if len(up_marks) != 1 or len(down_marks) != 1 or up_marks[0].end() > down_marks[0].start():
        raise MigrationError(
            f"migration {path.name} needs exactly one '-- UP' line followed by one '-- DOWN' line"
        )
    up = text[up_marks[0].end() : down_marks[0].start()].strip()
    down = text[down_marks[0].end() :].strip()
    return Migration(
        version=int(match["version"]),
        name=match["name"],
        filename=path.name,
        up=up,
        down=down,
        checksum=hashlib.sha256(raw).hexdigest(),
    )


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Every migration in ``folder`` (default: :func:`migrations_dir`), in version order."""
    folder = folder or migrations_dir()
    found = sorted((parse_migration(p) for p in folder.glob("*.sql")), key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {folder}")
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions in {folder} are not 1..N without gaps")
    return found


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; taken up front so concurrent migrators queue on the lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _table_exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def _is_ccmgr_ultra(conn: sqlite3.Connection) -> bool:
    cols = _columns(conn, "schema_migrations")
    return bool(cols) and "description" in cols and "checksum" not in cols


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               name       TEXT NOT NULL,
               checksum   TEXT NOT NULL,
               applied_at TEXT NOT NULL
           )"""
    )


def _applied(conn: sqlite3.Connection) -> list[AppliedMigration]:
    if not _table_exists(conn, "schema_migrations") or _is_ccmgr_ultra(conn):
        return []
    rows = conn.execute(
        "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
    )
    return [AppliedMigration(*row) for row in rows]


def status(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> MigrationStatus:
    """Compare the database's applied migrations with the shipped files."""
    migrations = load_migrations() if migrations is None else migrations
    return compare(_applied(conn), migrations)


def compare(applied: list[AppliedMigration], migrations: list[Migration]) -> MigrationStatus:
    """Where a database with these applied migrations stands against ``migrations``."""
    by_version = {m.version: m for m in migrations}
    applied_versions = {a.version for a in applied}
    return MigrationStatus(
        current=max(applied_versions, default=0),
        latest=max(by_version, default=0),
        applied=applied,
        pending=[m for m in migrations if m.version not in applied_versions],
        mismatched=[
            by_version[a.version]
            for a in applied
            if a.version in by_version and by_version[a.version].checksum != a.checksum
        ],
        unknown=[a for a in applied if a.version not in by_version],
    )


def status_of_missing(migrations: list[Migration] | None = None) -> MigrationStatus:
    """The status of a database that does not exist yet: everything pending."""
    migrations = load_migrations() if migrations is None else migrations
    return MigrationStatus(
        current=0,
        latest=max((m.version for m in migrations), default=0),
        applied=[],
        pending=list(migrations),
        mismatched=[],
        unknown=[],
    )


def check(state: MigrationStatus) -> None:
    """Refuse a database whose applied migrations changed, or that is newer than this program."""
    if state.mismatched:
        names = ", ".join(m.filename for m in state.mismatched)
        raise ChecksumMismatch(
            f"migration {names} changed after it was applied to this database",
            hint="restore the shipped file; a fix to an applied migration must be a new migration",
        )
    if state.unknown:
        raise StoreError(
            f"the database is at schema version {state.current}, newer than this ccmgr-watch "
            f"knows (latest {state.latest})",
            hint="upgrade ccmgr-watch, or use a database made by this version",
        )


def plan_goal(migrations: list[Migration], target: int | None) -> tuple[dict[int, Migration], int]:
    """The shipped migrations by version and the version to reach (``target``, default the
    latest); MigrationError for a version that does not exist. Shared with the PostgreSQL
    migrator (store.postgres.migrate)."""
    by_version = {m.version: m for m in migrations}
    latest = max(by_version, default=0)
    goal = latest if target is None else target
    if not 0 <= goal <= latest:
        raise MigrationError(
            f"there is no schema version {goal}", hint=f"choose a version from 0 to {latest}"
        )
    return by_version, goal


def next_step(
    current: int, goal: int, by_version: dict[int, Migration]
) -> tuple[str, Migration] | None:
    """The one step from ``current`` towards ``goal``: ``("up", the next migration)`` or
    ``("down", the current one)``; None when there."""
    if current == goal:
        return None
    if current < goal:
        return "up", by_version[current + 1]
    return "down", by_version[current]


def migrate(
    conn: sqlite3.Connection,
    target: int | None = None,
    migrations: list[Migration] | None = None,
) -> list[tuple[str, Migration]]:
    """Bring the database to ``target`` (default: latest), up or down, one transaction a step.

    Returns the steps taken as ``("up" | "down", migration)``. The connection must be in
    autocommit mode (``isolation_level=None``).
    """
    migrations = load_migrations() if migrations is None else migrations
    by_version, goal = plan_goal(migrations, target)
    steps: list[tuple[str, Migration]] = []
    while True:
        with _immediate(conn):
            adopting = _table_exists(conn, "schema_migrations") and _is_ccmgr_ultra(conn)
            state = status(conn, migrations)
            check(state)
            taken = next_step(state.current, goal, by_version)
            if taken is None:
                return steps
            direction, step = taken
            if direction == "up":
                if adopting:
                    _rename_ccmgr_ultra_tables(conn)
                _ensure_table(conn)
                _run_script(conn, step.up)
                if adopting:
                    _copy_ccmgr_ultra_rows(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (step.version, step.name, step.checksum, now_ts()),
                )
                steps.append(("up", step))
            else:
                _run_script(conn, step.down)
                conn.execute("DELETE FROM schema_migrations WHERE version = ?", (step.version,))
                steps.append(("down", step))


def split_statements(script: str) -> list[str]:
    """Split SQL text into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if _has_code(statement):
                statements.append(statement)
            buffer = ""
    if _has_code(buffer):
        raise MigrationError(f"incomplete SQL statement at the end of a migration: {buffer[:60]!r}")
    return statements


def _has_code(sql: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT first; statements run one by one inside our transaction.
    for statement in split_statements(script):
        conn.execute(statement)


# --- adopting a database that ccmgr-ultra's Go store created -------------------------------------


def _rename_ccmgr_ultra_tables(conn: sqlite3.Connection) -> None:
    """Keep ccmgr-ultra's tables under a prefix; their data is copied after 001 has run."""
    for table in ("schema_migrations", "session_events", "sessions"):
        if not _table_exists(conn, table):
            continue
        target = LEGACY_PREFIX + table
        suffix = 1
        while _table_exists(conn, target):
            suffix += 1
            target = f"{LEGACY_PREFIX}{table}_{suffix}"
        try:
            conn.execute(f'ALTER TABLE "{table}" RENAME TO "{target}"')
        except sqlite3.OperationalError:
            # A broken view or trigger in their schema makes the modern rename refuse; the
            # legacy rename does not rewrite views and triggers, which we do not use.
            conn.execute("PRAGMA legacy_alter_table = ON")
            try:
                conn.execute(f'ALTER TABLE "{table}" RENAME TO "{target}"')
            finally:
                conn.execute("PRAGMA legacy_alter_table = OFF")


def _legacy_ts(value: object, fallback: str) -> str:
    if isinstance(value, str) and value:
        try:
            moment = parse_ts(value)
        except ValueError:
            return fallback
        return format_ts(moment) if moment.year > 1 else fallback
    return fallback


def _legacy_json(value: object) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    try:
        parsed = json.loads(value) if isinstance(value, str | bytes) else value
    except ValueError:
        return {"legacy_value": str(value)}
    if isinstance(parsed, dict):
        return parsed
    return {} if parsed is None else {"legacy_value": parsed}


def _copy_ccmgr_ultra_rows(conn: sqlite3.Connection) -> None:
    """Copy ccmgr-ultra's sessions and events into the new tables, normalising their values."""
    now = now_ts()
    sessions_table = LEGACY_PREFIX + "sessions"
    events_table = LEGACY_PREFIX + "session_events"
    known: set[str] = set()
    if _table_exists(conn, sessions_table):
        cols = set(_columns(conn, sessions_table))

        def col(name: str) -> str:
            return f'"{name}"' if name in cols else "NULL"

        rows = conn.execute(
            "SELECT id, name, "
            + ", ".join(
                col(c)
                for c in (
                    "project",
                    "worktree",
                    "branch",
                    "directory",
                    "created_at",
                    "updated_at",
                    "last_access",
                    "metadata",
                )
            )
            + f' FROM "{sessions_table}"'
        ).fetchall()
        for sid, name, project, worktree, branch, directory, created, updated, last, meta in rows:
            sid = str(sid) if sid is not None else ""
            created_ts = _legacy_ts(created, now)
            metadata = _legacy_json(meta)
            metadata.setdefault("imported_from", "ccmgr-ultra data.db")
            conn.execute(
                "INSERT INTO sessions (id, name, project, worktree, branch, directory, created_at,"
                " updated_at, last_access, metadata, status, ended_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ended', NULL)",
                (
                    sid,
                    str(name) if name is not None else sid,
                    project,
                    worktree,
                    branch,
                    directory,
                    created_ts,
                    _legacy_ts(updated, created_ts),
                    _legacy_ts(last, created_ts),
                    json.dumps(metadata, ensure_ascii=False),
                ),
            )
            known.add(sid)
    if _table_exists(conn, events_table):
        cols = set(_columns(conn, events_table))
        data_col = '"data"' if "data" in cols else "NULL"
        rows = conn.execute(
            f'SELECT session_id, event_type, "timestamp", {data_col} FROM "{events_table}" '
            "ORDER BY id"
        ).fetchall()
        for session_id, event_type, timestamp, data in rows:
            sid = str(session_id) if session_id is not None else ""
            if sid not in known:
                # An event whose session row is gone: keep it under a placeholder session.
                conn.execute(
                    "INSERT INTO sessions (id, name, created_at, updated_at, last_access,"
                    " metadata, status) VALUES (?, ?, ?, ?, ?, ?, 'ended')",
                    (
                        sid,
                        sid or "(unknown)",
                        now,
                        now,
                        now,
                        json.dumps({"imported_from": "ccmgr-ultra data.db", "placeholder": True}),
                    ),
                )
                known.add(sid)
            conn.execute(
                "INSERT INTO session_events (session_id, event_type, timestamp, data)"
                " VALUES (?, ?, ?, ?)",
                (
                    sid,
                    str(event_type) if event_type is not None else "unknown",
                    _legacy_ts(timestamp, now),
                    json.dumps(_legacy_json(data), ensure_ascii=False),
                ),
            )
