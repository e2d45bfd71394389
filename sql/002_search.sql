-- 002_search: full-text search over sessions, and indexes for the query language's qualifiers.
--
-- sessions_fts is an external-content FTS5 table: it stores only the index, the text lives in
-- sessions. Its rowid is sessions' implicit rowid (sessions has `id TEXT PRIMARY KEY`, so the rowid
-- is not an alias of any column). VACUUM may renumber implicit rowids, after which the index points
-- at the wrong rows: `ccmgr-watch db reindex` rebuilds it (docs/search.md).
--
-- Tokens are runs of letters and digits (unicode61: categories L*, N*, Co; everything else,
-- including "_", "-", "/" and ".", separates tokens), folded to lower case with diacritics removed,
-- so "ccmgr-myapp-main-feat_auth" and "/home/u/code/myapp" are both found by "myapp".
-- prefix='2 3' keeps short prefix queries ("au*") off a scan of the whole term list.
--
-- Triggers keep the index current for every writer, including a plain sqlite3 shell. Updates are
-- re-indexed only when an indexed column changes: the watcher updates last_access and status all
-- the time and those must not touch the index.
--
-- Qualifiers compare whole values case-insensitively (project:myapp, name:ccmgr-*): NOCASE indexes
-- let `= ? COLLATE NOCASE` and `LIKE ?` use an index (LIKE is case-insensitive for ASCII, as NOCASE
-- is); last_access second so "project:x, most recent first" reads the index in order.

-- UP
CREATE VIRTUAL TABLE sessions_fts USING fts5 (
    name, project, worktree, branch, directory,
    content = 'sessions',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER sessions_fts_after_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO sessions_fts (rowid, name, project, worktree, branch, directory)
    VALUES (new.rowid, new.name, new.project, new.worktree, new.branch, new.directory);
END;

CREATE TRIGGER sessions_fts_after_delete AFTER DELETE ON sessions BEGIN
    INSERT INTO sessions_fts (sessions_fts, rowid, name, project, worktree, branch, directory)
    VALUES ('delete', old.rowid, old.name, old.project, old.worktree, old.branch, old.directory);
END;

CREATE TRIGGER sessions_fts_after_update
AFTER UPDATE OF name, project, worktree, branch, directory ON sessions BEGIN
    INSERT INTO sessions_fts (sessions_fts, rowid, name, project, worktree, branch, directory)
    VALUES ('delete', old.rowid, old.name, old.project, old.worktree, old.branch, old.directory);
    INSERT INTO sessions_fts (rowid, name, project, worktree, branch, directory)
    VALUES (new.rowid, new.name, new.project, new.worktree, new.branch, new.directory);
END;

-- Index the rows that exist already.
INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild');

CREATE INDEX ix_sessions_name_nocase ON sessions (name COLLATE NOCASE, last_access);
CREATE INDEX ix_sessions_project_nocase ON sessions (project COLLATE NOCASE, last_access);
CREATE INDEX ix_sessions_worktree_nocase ON sessions (worktree COLLATE NOCASE, last_access);
CREATE INDEX ix_sessions_branch_nocase ON sessions (branch COLLATE NOCASE, last_access);
CREATE INDEX ix_sessions_directory ON sessions (directory, last_access);

-- DOWN
DROP INDEX ix_sessions_directory;
DROP INDEX ix_sessions_branch_nocase;
DROP INDEX ix_sessions_worktree_nocase;
DROP INDEX ix_sessions_project_nocase;
DROP INDEX ix_sessions_name_nocase;
DROP TRIGGER sessions_fts_after_update;
DROP TRIGGER sessions_fts_after_delete;
DROP TRIGGER sessions_fts_after_insert;
DROP TABLE sessions_fts;
