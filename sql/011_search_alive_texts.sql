-- 011_search_alive_texts: the alive sessions' searchable texts, together, for a status filter.
--
-- `ccmgr-watch query 'auth status:active'` (or `-status:ended`, `status:attached`,
-- `status:detached`) keeps the sessions still alive: about 0.2 % of a long history (2,041 of
-- 1,000,000 in the benchmark). The words are tested on each of those rows' own text, and each
-- row lies somewhere in the table (a 1.4 GB file at 1 M sessions): ~4.5 µs a row read, 9-15 ms
-- for a dense word, more for a phrase, which must read them all.
--
-- This partial index holds only the sessions that are not ended, with every column a search
-- tests or sorts on: one contiguous run of ~100 pages at 1 M sessions, read whole in ~0.6 ms
-- (docs/search.md, "Dense data, sixth round"). It is covering: the plans alive_scored and
-- alive_tested never read the table for a row that is not on the page. SQLite uses a partial
-- index only when the query's WHERE implies the index's, so those plans' SQL carries the same
-- term (`sessions.status <> 'ended'`) beside the status filter.
--
-- last_access first: by recent, the index gives the order, and a read stops at the page.
-- Writes: a session's entry is written while it is alive (its inserts, its last_access,
-- status and text updates), and deleted when it ends; an ended session costs nothing.

-- UP
CREATE INDEX ix_sessions_alive ON sessions (
    last_access, status, created_at, name, project, worktree, branch, directory, host
) WHERE status <> 'ended';

-- DOWN
DROP INDEX ix_sessions_alive;
