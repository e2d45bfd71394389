-- 005_search_name_order: a qualifier's sessions in name order, for `--sort name`.
--
-- `ccmgr-watch query project:myapp --sort name` lists a project's sessions A-Z. Without these
-- indexes SQLite reads every session of the project from its (project, last_access) index and
-- sorts them all: about a second for a project that holds 300,000 of 1,000,000 sessions. And a
-- walk of the name index cannot help: names start with their project's ("ccmgr-myapp-..."), so
-- one project's sessions come in one late stretch of A-Z. With (project, name), the first page
-- is the index's first rows for that project.
--
-- Only for the qualifiers that keep many sessions: project, branch (main is in most
-- projects) and status (ended: most sessions). A worktree holds a few sessions; sorting them
-- is cheap. last_access is deliberately not in these indexes (ix_sessions_*_nocase have it
-- second): the watcher updates last_access all the time, and those updates must not touch
-- three more indexes. The name order's tie-break (last_access, then rowid, newest first) is sorted among
-- sessions with the same name only, which SQLite does on the fly.
--
-- Cost (measured at 1,000,000 sessions, docs/search.md): index size and insert time.

-- UP
CREATE INDEX ix_sessions_project_name ON sessions (project COLLATE NOCASE, name COLLATE NOCASE);
CREATE INDEX ix_sessions_branch_name ON sessions (branch COLLATE NOCASE, name COLLATE NOCASE);
CREATE INDEX ix_sessions_status_name ON sessions (status, name COLLATE NOCASE);

-- DOWN
DROP INDEX ix_sessions_status_name;
DROP INDEX ix_sessions_branch_name;
DROP INDEX ix_sessions_project_name;
