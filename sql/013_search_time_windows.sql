-- 013_search_time_windows: a since:/until: window's rowids by day, and the sessions last used
-- before they were created, for `ccmgr-watch query 'auth until:2025-02-11'`.
--
-- A window in the past (docs/search.md, "Dense data, seventh round"):
--
-- * Ranked, its matches are streamed newest first from the highest rowid among its sessions.
--   ix_sessions_last_access orders them by time, so that highest rowid was the maximum over
--   every one of the window's entries (95,000 for a window of ~10 % of 1 M sessions, ~9 ms).
--   ix_sessions_access_day holds each ended session's day of last access (the first ten
--   characters of last_access, a UTC date) and then its rowid: a whole day's highest and
--   lowest rowid are the two ends of its run, one seek each, so a window of 80 days costs 160
--   seeks (~0.5 ms); only the two days at its ends are read entry by entry from the
--   last-access index, and the alive sessions from their own index (011). Ended sessions
--   only: the watcher moves an alive session's last_access on every event, and SQLite
--   rewrites an index entry whenever a column it holds is set, so the day index costs an
--   alive session's event only the test of its WHERE; a session's entry is written when it
--   ends.
-- * Sorted by creation, its newest sessions by created_at are found by walking
--   ix_sessions_created_at down from the window's end: a session used until the window's end
--   was created before it, unless its last access precedes its creation. Nothing in the
--   schema forbids that (imported rows, another host's clock), so ix_sessions_used_early holds
--   exactly those sessions (none, normally: an empty index): the walk adds the ones in the
--   window, and stays exact whatever the data.
--
-- Both are ordinary indexes: `db reindex`, VACUUM and doctor need nothing for them.

-- UP
CREATE INDEX ix_sessions_access_day ON sessions (substr(last_access, 1, 10))
    WHERE status = 'ended';
CREATE INDEX ix_sessions_used_early ON sessions (last_access) WHERE created_at > last_access;

-- DOWN
DROP INDEX ix_sessions_used_early;
DROP INDEX ix_sessions_access_day;
