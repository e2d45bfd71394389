-- 009_search_name_snapshot: the full-text matches in name order, for `--sort name`.
--
-- `ccmgr-watch query myapp --sort name` needs the first matches A-Z. sessions_fts hands its
-- matches over in rowid order (the order sessions were recorded in), so a word in 30 % of a
-- million sessions meant sorting 300,000 matches, or walking the name index until the word's
-- matches began: names start with their project's ("ccmgr-myapp-..."), so that is late in A-Z.
--
-- sessions_name_fts is a second full-text index of the same columns, tokenizer and prefixes
-- (sql/003), whose rowid is each session's rank in name order (NOCASE, as `--sort name`
-- compares) at its last build: its matches, read in rowid order, are in name order, and a query
-- stops at its page. It is a snapshot (docs/search.md, "Dense data, fifth round"):
--
-- * sessions_name_rank maps a rank to the session's rowid (and back: UNIQUE).
-- * sessions_name_build holds the highest session rowid at the build: sessions inserted later
--   have higher rowids and are read from sessions_fts (their matches, a rowid range) by each
--   query, which merges them in. Inserting a session writes nothing here.
-- * sessions_name_dirty holds the built sessions renamed since, and sessions inserted under a
--   built rowid (reused after a delete): queries skip their snapshot rows and test them
--   against sessions_fts instead. A deleted session needs nothing (the walk joins sessions).
--   A change of project, worktree, branch or directory that keeps the name (NOCASE) rewrites
--   the session's snapshot row in place.
--
-- Rebuilt here, by `ccmgr-watch db reindex` and store.name_order.rebuild. The snapshot is
-- contentless (content = ''): it keeps no copy of the text; deleting a row from it needs the
-- text it was indexed with, which the update trigger has (old.*). Not for PostgreSQL.

-- UP
CREATE VIRTUAL TABLE sessions_name_fts USING fts5 (
    name, project, worktree, branch, directory,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3 4 5 6 7 8'
);

CREATE TABLE sessions_name_rank (
    rank INTEGER PRIMARY KEY,
    sid  INTEGER NOT NULL UNIQUE
);

CREATE TABLE sessions_name_dirty (sid INTEGER PRIMARY KEY);

CREATE TABLE sessions_name_build (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    max_rowid INTEGER NOT NULL,
    sessions  INTEGER NOT NULL,
    built_at  TEXT NOT NULL
);

-- A deleted session needs nothing: the walk joins sessions, and its snapshot row finds none.
-- But a session inserted under a built rowid (SQLite reuses the highest rowid once its row is
-- deleted) is not above the build's: it is tested as a dirty one, its rowid's snapshot row
-- (another session's text) skipped.
CREATE TRIGGER sessions_name_after_insert AFTER INSERT ON sessions
WHEN new.rowid <= (SELECT max_rowid FROM sessions_name_build) BEGIN
    INSERT OR IGNORE INTO sessions_name_dirty (sid) VALUES (new.rowid);
END;

-- Only when an indexed value really changed (an UPDATE that sets the same values is no change),
-- and only for a built session not yet dirty.
CREATE TRIGGER sessions_name_after_update
AFTER UPDATE OF name, project, worktree, branch, directory ON sessions
WHEN old.rowid <= (SELECT max_rowid FROM sessions_name_build)
    AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty WHERE sid = old.rowid)
    AND (old.rowid IS NOT new.rowid OR old.name IS NOT new.name OR old.project IS NOT new.project
        OR old.worktree IS NOT new.worktree OR old.branch IS NOT new.branch
        OR old.directory IS NOT new.directory)
BEGIN
    -- The same name (NOCASE) and row: its rank still holds; its snapshot row is rewritten.
    INSERT INTO sessions_name_fts (sessions_name_fts, rowid, name, project, worktree, branch, directory)
    SELECT 'delete', rank, old.name, old.project, old.worktree, old.branch, old.directory
    FROM sessions_name_rank
    WHERE sid = old.rowid AND new.rowid = old.rowid AND new.name = old.name COLLATE NOCASE;
    INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory)
    SELECT rank, new.name, new.project, new.worktree, new.branch, new.directory
    FROM sessions_name_rank
    WHERE sid = old.rowid AND new.rowid = old.rowid AND new.name = old.name COLLATE NOCASE;
    -- Renamed (or moved to another rowid): tested against sessions_fts until the next build.
    INSERT OR IGNORE INTO sessions_name_dirty (sid)
    SELECT old.rowid WHERE new.rowid IS NOT old.rowid OR new.name <> old.name COLLATE NOCASE;
    INSERT OR IGNORE INTO sessions_name_dirty (sid)
    SELECT new.rowid WHERE new.rowid IS NOT old.rowid;
END;

-- The build (store.name_order.REBUILD_SQL runs the same statements).
INSERT INTO sessions_name_rank (rank, sid)
SELECT row_number() OVER (ORDER BY name COLLATE NOCASE, rowid), rowid FROM sessions;

INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory)
SELECT r.rank, s.name, s.project, s.worktree, s.branch, s.directory
FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid ORDER BY r.rank;

INSERT INTO sessions_name_build (id, max_rowid, sessions, built_at)
SELECT 1, coalesce(max(rowid), 0), count(*), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM sessions;

-- DOWN
DROP TRIGGER sessions_name_after_update;
DROP TRIGGER sessions_name_after_insert;
DROP TABLE sessions_name_build;
DROP TABLE sessions_name_dirty;
DROP TABLE sessions_name_rank;
DROP TABLE sessions_name_fts;
