-- 004_hosts: the host each session and event was captured on.
--
-- One history may gather sessions from several machines (a shared PostgreSQL store, or a copy of
-- another machine's file), and two machines both have a tmux session "$0" on a socket of the same
-- path: the host tells them apart. The watcher writes its `watcher.host` (default: the machine's
-- hostname) into every session it upserts and every event it inserts.
--
-- Rows recorded before this migration keep host NULL ("captured before hosts were recorded"); the
-- watcher fills in its own host the next time it writes such a session, and `host:""` finds the
-- rest. Session ids do not change: a session id is derived from its server key, and only server
-- lifetimes the store has not seen yet get the host in their key (docs/postgresql.md, "Hosts").
--
-- `host:NAME` compares the whole value case-insensitively, like `project:`: a NOCASE index with
-- last_access second, as 002's field indexes.

-- UP
ALTER TABLE sessions ADD COLUMN host TEXT;
ALTER TABLE session_events ADD COLUMN host TEXT;

CREATE INDEX ix_sessions_host_nocase ON sessions (host COLLATE NOCASE, last_access);

-- DOWN
DROP INDEX ix_sessions_host_nocase;
ALTER TABLE session_events DROP COLUMN host;
ALTER TABLE sessions DROP COLUMN host;
