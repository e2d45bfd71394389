-- 001_initial: sessions and their lifecycle events.
-- Table and column names follow ccmgr-ultra's seed schema (internal/storage/sqlite/001_initial.sql)
-- so that other tools and imports can rely on them. Timestamps are ISO 8601 UTC text with
-- microseconds and a Z suffix ("2026-11-26T10:50:58.123456Z"): they sort as text.
-- metadata and data hold JSON objects.

-- UP
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    project     TEXT,
    worktree    TEXT,
    branch      TEXT,
    directory   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_access TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    status      TEXT NOT NULL DEFAULT 'detached' CHECK (status IN ('attached', 'detached', 'ended')),
    ended_at    TEXT,
    -- What identifies the session in tmux: the server it lived on ("<socket path>#<pid>@<start>")
    -- and its tmux session id ("$3"). Both are NULL for sessions imported from elsewhere.
    tmux_server TEXT,
    tmux_id     TEXT
);

CREATE UNIQUE INDEX ix_sessions_tmux ON sessions (tmux_server, tmux_id) WHERE tmux_id IS NOT NULL;
CREATE INDEX ix_sessions_name ON sessions (name);
CREATE INDEX ix_sessions_status ON sessions (status, last_access);
CREATE INDEX ix_sessions_project ON sessions (project, last_access);
CREATE INDEX ix_sessions_last_access ON sessions (last_access);
CREATE INDEX ix_sessions_created_at ON sessions (created_at);

CREATE TABLE session_events (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    timestamp  TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX ix_session_events_session ON session_events (session_id, timestamp);
CREATE INDEX ix_session_events_timestamp ON session_events (timestamp);
CREATE INDEX ix_session_events_type ON session_events (event_type, timestamp);

-- DOWN
DROP TABLE session_events;
DROP TABLE sessions;
