-- 010_stats_ended: each ended session's statistics over a whole history, kept ready.
--
-- `ccmgr-watch stats` with no query over all time read every session: its timestamps as
-- numbers, joined to its sql/007 totals, one row each to Python to be summed per group and for
-- the lifetimes' medians (~5-8 µs a session: ~60 of a ~210 ms command at 10 k sessions,
-- docs/stats.md). An ended session's numbers over [1970, hi] do not change with `now` once hi
-- is past its last moment, so they are kept here, one narrow row per ended session, by
-- triggers on sessions and attached_totals whoever changes them: its group keys, whether it
-- was created in the window (born), when (created: `--by day|hour` place it in local time),
-- its lifetime, its closed attached time (microseconds) and attach events, and exact_from:
-- the earliest window end from which these are its numbers (its latest moment: created,
-- ended, last island's end), or 1e300 when the session is not "whole" (an island open, or
-- outside its life, or a timestamp SQLite cannot read: `stats` reads such a session from its
-- islands as before). `stats` sums this table per group in SQL (an index per group in
-- lifetime order: no sorting, and each median read by its offset) and reads only the alive
-- sessions and those with exact_from after the window's end (ix_stats_ended_exact) the old
-- way (store/stats.py); a window reads only the sessions whose exact_from is in or after it.
-- Cost: one trigger check per session update, and one row (five index entries) rewritten
-- when an ended session or its totals change.

-- UP
CREATE TABLE stats_ended (
    session_id TEXT PRIMARY KEY,
    project    TEXT,
    worktree   TEXT,
    branch     TEXT,
    born       INTEGER NOT NULL,
    created    REAL,
    ended      REAL,
    life       REAL,
    micros     INTEGER NOT NULL,
    attaches   INTEGER NOT NULL,
    exact_from REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX ix_stats_ended_exact ON stats_ended (exact_from);
-- Per group in lifetime order, covering what `stats` sums: the sums stream by group, and a
-- group's median lifetime is read by its offset in the group (store/stats.py); the last one
-- for the median over every session.
CREATE INDEX ix_stats_ended_project ON stats_ended (project, life, exact_from, born, micros, attaches);
CREATE INDEX ix_stats_ended_worktree ON stats_ended (worktree, life, exact_from, born, micros, attaches);
CREATE INDEX ix_stats_ended_branch ON stats_ended (branch, life, exact_from, born, micros, attaches);
CREATE INDEX ix_stats_ended_life ON stats_ended (life, exact_from, born);

-- The one definition of a row (store/stats.py spans_sql with the window [0, hi], hi at or
-- after exact_from: the session is alive in it, whole, and its numbers are the aggregates').
CREATE VIEW stats_ended_source (session_id, project, worktree, branch, born, created, ended, life, micros, attaches, exact_from) AS
SELECT id, project, worktree, branch, coalesce(created >= 0, 0), created, ended, max(0.0, ended - created), micros, attaches,
    CASE WHEN created IS NOT NULL AND ended IS NOT NULL AND ended >= 0 AND created <= 1e12
        AND (first_start IS NULL OR (last_end < 1e12 AND first_start >= max(0.0, created) AND last_end <= min(1e12, ended)))
    THEN max(created, ended, coalesce(last_end, 0.0)) ELSE 1e300 END
FROM (
    SELECT s.id, nullif(s.project, '') AS project, nullif(s.worktree, '') AS worktree, nullif(s.branch, '') AS branch,
        (unixepoch(s.created_at) + CAST(substr(s.created_at, 20, 7) AS REAL)) AS created,
        coalesce(unixepoch(s.ended_at) + CAST(substr(s.ended_at, 20, 7) AS REAL),
            unixepoch(s.last_access) + CAST(substr(s.last_access, 20, 7) AS REAL)) AS ended,
        t.first_start, t.last_end, coalesce(t.closed_micros, 0) AS micros, coalesce(t.attaches, 0) AS attaches
    FROM sessions AS s LEFT JOIN attached_totals AS t ON t.session_id = s.id
    WHERE s.status = 'ended'
);

INSERT INTO stats_ended SELECT * FROM stats_ended_source;

CREATE TRIGGER tr_stats_ended_session_insert AFTER INSERT ON sessions
WHEN NEW.status = 'ended'
BEGIN
    INSERT INTO stats_ended SELECT * FROM stats_ended_source WHERE session_id = NEW.id;
END;

CREATE TRIGGER tr_stats_ended_session_update
AFTER UPDATE OF id, project, worktree, branch, created_at, last_access, status, ended_at ON sessions
WHEN OLD.status = 'ended' OR NEW.status = 'ended'
BEGIN
    DELETE FROM stats_ended WHERE session_id = OLD.id;
    INSERT INTO stats_ended SELECT * FROM stats_ended_source WHERE session_id = NEW.id;
END;

CREATE TRIGGER tr_stats_ended_session_delete AFTER DELETE ON sessions
WHEN OLD.status = 'ended'
BEGIN
    DELETE FROM stats_ended WHERE session_id = OLD.id;
END;

-- The totals change as events are written (late events of an ended session too): the row is
-- updated in place from its own times and the new totals, by the view's expression (an alive
-- session has no row: the update finds none).
CREATE TRIGGER tr_stats_ended_totals_insert AFTER INSERT ON attached_totals
BEGIN
    UPDATE stats_ended SET micros = NEW.closed_micros, attaches = NEW.attaches,
        exact_from = CASE WHEN created IS NOT NULL AND ended IS NOT NULL AND ended >= 0 AND created <= 1e12
            AND (NEW.first_start IS NULL OR (NEW.last_end < 1e12 AND NEW.first_start >= max(0.0, created) AND NEW.last_end <= min(1e12, ended)))
        THEN max(created, ended, coalesce(NEW.last_end, 0.0)) ELSE 1e300 END
    WHERE session_id = NEW.session_id;
END;

CREATE TRIGGER tr_stats_ended_totals_update AFTER UPDATE ON attached_totals
BEGIN
    UPDATE stats_ended SET micros = 0, attaches = 0, exact_from = CASE WHEN created IS NOT NULL AND ended IS NOT NULL AND ended >= 0 AND created <= 1e12
        THEN max(created, ended, 0.0) ELSE 1e300 END  -- no totals: no island
    WHERE session_id = OLD.session_id AND OLD.session_id <> NEW.session_id;
    UPDATE stats_ended SET micros = NEW.closed_micros, attaches = NEW.attaches,
        exact_from = CASE WHEN created IS NOT NULL AND ended IS NOT NULL AND ended >= 0 AND created <= 1e12
            AND (NEW.first_start IS NULL OR (NEW.last_end < 1e12 AND NEW.first_start >= max(0.0, created) AND NEW.last_end <= min(1e12, ended)))
        THEN max(created, ended, coalesce(NEW.last_end, 0.0)) ELSE 1e300 END
    WHERE session_id = NEW.session_id;
END;

CREATE TRIGGER tr_stats_ended_totals_delete AFTER DELETE ON attached_totals
BEGIN
    UPDATE stats_ended SET micros = 0, attaches = 0, exact_from = CASE WHEN created IS NOT NULL AND ended IS NOT NULL AND ended >= 0 AND created <= 1e12
        THEN max(created, ended, 0.0) ELSE 1e300 END  -- no totals: no island
    WHERE session_id = OLD.session_id;
END;

-- DOWN
DROP TRIGGER tr_stats_ended_totals_delete;
DROP TRIGGER tr_stats_ended_totals_update;
DROP TRIGGER tr_stats_ended_totals_insert;
DROP TRIGGER tr_stats_ended_session_delete;
DROP TRIGGER tr_stats_ended_session_update;
DROP TRIGGER tr_stats_ended_session_insert;
DROP VIEW stats_ended_source;
DROP TABLE stats_ended;
