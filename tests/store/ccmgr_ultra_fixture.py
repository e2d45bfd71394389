"""A database as ccmgr-ultra's Go store would leave it (its 001 and 002 migrations applied)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# internal/storage/sqlite/migrations/001_initial.sql, UP part (see the formats reference, §2).
CCMGR_ULTRA_001 = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project TEXT, worktree TEXT, branch TEXT, directory TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_access TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    metadata TEXT DEFAULT '{}'
);
CREATE TABLE session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    data TEXT DEFAULT '{}',
    FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
);
CREATE INDEX idx_sessions_name ON sessions(name);
CREATE INDEX idx_sessions_project ON sessions(project);
CREATE INDEX idx_sessions_worktree ON sessions(worktree);
CREATE INDEX idx_sessions_branch ON sessions(branch);
CREATE INDEX idx_sessions_created_at ON sessions(created_at);
CREATE INDEX idx_sessions_updated_at ON sessions(updated_at);
CREATE INDEX idx_sessions_last_access ON sessions(last_access);
CREATE INDEX idx_session_events_session_id ON session_events(session_id);
CREATE INDEX idx_session_events_type ON session_events(event_type);
CREATE INDEX idx_session_events_timestamp ON session_events(timestamp);
CREATE TRIGGER update_sessions_updated_at AFTER UPDATE ON sessions FOR EACH ROW
    BEGIN UPDATE sessions SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END;
"""

# A reduced 002_analytics_views.sql: its columns, one table, views and the trigger on sessions.
CCMGR_ULTRA_002 = """
ALTER TABLE sessions ADD COLUMN analytics_data TEXT DEFAULT '{}';
ALTER TABLE session_events ADD COLUMN processed_at TIMESTAMP;
CREATE TABLE daily_session_stats (
    id INTEGER PRIMARY KEY AUTOINCREMENT, date DATE NOT NULL, project TEXT, worktree TEXT,
    session_count INTEGER DEFAULT 0, total_duration_minutes INTEGER DEFAULT 0,
    avg_duration_minutes REAL DEFAULT 0, active_time_minutes INTEGER DEFAULT 0,
    idle_time_minutes INTEGER DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE(date, project, worktree)
);
CREATE VIEW session_analytics AS
    SELECT s.id, s.name, s.project, count(e.id) AS event_count
    FROM sessions s LEFT JOIN session_events e ON e.session_id = s.id GROUP BY s.id;
CREATE VIEW recent_activity AS
    SELECT e.*, s.name FROM session_events e JOIN sessions s ON s.id = e.session_id
    ORDER BY e.timestamp DESC LIMIT 100;
CREATE TRIGGER update_daily_stats_on_session_update AFTER UPDATE ON sessions FOR EACH ROW
    BEGIN
        INSERT OR IGNORE INTO daily_session_stats (date, project, worktree)
        VALUES (DATE('now'), NEW.project, NEW.worktree);
    END;
"""

SESSIONS = [
    # id, name, project, worktree, branch, directory, created, updated, last_access, metadata
    (
        "ccmgr-myproject-main-feature",
        "ccmgr-myproject-main-feature",
        "myproject",
        "main",
        "feature",
        "/home/u/code/myproject",
        "2025-06-21 23:03:13.256298-07:00",
        "2025-06-22 17:03:13",
        "2025-06-21 23:03:13.256298-07:00",
        '{"key": "value"}',
    ),
    (
        "7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11",
        "legacy one",
        None,
        None,
        None,
        None,
        "2025-06-20 10:00:00",
        "2025-06-20 10:00:00",
        "2025-06-20 11:30:00",
        "null",
    ),
    (
        "broken-values",
        "broken values",
        "p",
        "w",
        "b",
        "/tmp",
        "not a date",
        "0001-01-01 00:00:00+00:00",
        "2025-06-20T11:30:00Z",
        "{not json",
    ),
]

EVENTS = [
    (
        "ccmgr-myproject-main-feature",
        "session_start",
        "2025-06-21 23:03:13.256298-07:00",
        '{"action":"start"}',
    ),
    ("ccmgr-myproject-main-feature", "claude_state_change", "2025-06-22 17:03:13", None),
    (
        "7b0e1c52-9d4f-4a8e-9a59-1f0cbb6f2d11",
        "migrated",
        "2025-06-20 10:00:00",
        '{"source":"json","file":"/x/state.json"}',
    ),
]


def make_ccmgr_ultra_db(path: Path, *, with_002: bool = True) -> None:
    """Create ``path`` the way ccmgr-ultra's migrator would, with rows in it."""
    conn = sqlite3.connect(path)
    conn.executescript(CCMGR_ULTRA_001)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
        " applied_at TIMESTAMP NOT NULL)"
    )
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial', '2025-06-21 23:03:13')")
    if with_002:
        conn.executescript(CCMGR_ULTRA_002)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (2, 'analytics views', '2025-06-21 23:03:14')"
        )
    conn.executemany(
        "INSERT INTO sessions (id, name, project, worktree, branch, directory,"
        " created_at, updated_at, last_access, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)",
        SESSIONS,
    )
    conn.executemany(
        "INSERT INTO session_events (session_id, event_type, timestamp, data) VALUES (?,?,?,?)",
        EVENTS,
    )
    conn.commit()
    conn.close()
