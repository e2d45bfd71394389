-- 012_search_name_fold: the name-order snapshot (sql/009) kept fresh by folds, not rebuilds.
--
-- `--sort name` reads sessions_name_fts, whose rowid is each session's rank in name order at its
-- last build; sessions written since (the delta) are merged by every query, ~40 µs for each
-- renamed one, and a rebuild took one write transaction of 60-90 s at 1,000,000 sessions, so
-- the watcher never made it there (docs/search.md, "Dense data, seventh round").
--
-- Three changes let the watcher fold the delta in, a few dozen sessions per transaction of ~10 ms
-- (store.name_fold.fold):
--
-- * ranks have gaps: the build gives the n-th session A-Z (NOCASE, ties by rowid) the rank
--   n * 2^20, so a session folded in later takes a rank between its name-neighbours' and no
--   other row moves. (The index grows by ~30 %: its rowid deltas take 3-4 bytes, not 1-2.)
-- * the snapshot holds clean rows only: a rename (or a row moved to another rowid) deletes the
--   session's snapshot row in the trigger, which has the text it was indexed with (old.*), and
--   marks it dirty, to be folded in again under its new name; a delete deletes its row. A dirty
--   session is therefore never in the snapshot (except one written by INSERT OR REPLACE, which
--   deletes without triggers: it stays dirty, tested by each query, until `db reindex`).
-- * FTS5 merges its index segments after a write, in steps of 64 pages times its levels (up to
--   ~250 ms of a fold transaction at 1 M sessions): automerge is off for this index, and each
--   fold transaction merges at most 64 pages itself (store.name_fold.MERGE_PAGES), of a level
--   with 8 segments or more (usermerge; at 4, the default, it went on merging the build's big
--   segments: 23 ms a step, up to 225 ms), so no transaction holds the watcher's events up
--   for long.
--
-- The insert trigger of 009 stays as it is. Rebuilt here (60-90 s at 1,000,000 sessions, as
-- 009's build), by `ccmgr-watch db reindex` and store.name_order.rebuild, which run the same
-- statements.

-- UP
DROP TRIGGER sessions_name_after_update;

-- Only a built session not dirty has a snapshot row, and only a change of an indexed value acts.
CREATE TRIGGER sessions_name_after_update
AFTER UPDATE OF name, project, worktree, branch, directory ON sessions
WHEN old.rowid <= (SELECT max_rowid FROM sessions_name_build)
    AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty WHERE sid = old.rowid)
    AND (old.rowid IS NOT new.rowid OR old.name IS NOT new.name OR old.project IS NOT new.project
        OR old.worktree IS NOT new.worktree OR old.branch IS NOT new.branch
        OR old.directory IS NOT new.directory)
BEGIN
    -- Its snapshot row out, with the text it was indexed with ...
    INSERT INTO sessions_name_fts (sessions_name_fts, rowid, name, project, worktree, branch, directory)
    SELECT 'delete', rank, old.name, old.project, old.worktree, old.branch, old.directory
    FROM sessions_name_rank WHERE sid = old.rowid;
    -- ... and back under the same rank when the name (NOCASE) and the row stayed: it still holds.
    INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory)
    SELECT rank, new.name, new.project, new.worktree, new.branch, new.directory
    FROM sessions_name_rank
    WHERE sid = old.rowid AND new.rowid = old.rowid AND new.name = old.name COLLATE NOCASE;
    -- Renamed or moved: out of the snapshot, dirty until a fold gives it a rank again.
    DELETE FROM sessions_name_rank
    WHERE sid = old.rowid AND (new.rowid IS NOT old.rowid OR new.name <> old.name COLLATE NOCASE);
    INSERT OR IGNORE INTO sessions_name_dirty (sid)
    SELECT new.rowid WHERE (new.rowid IS NOT old.rowid OR new.name <> old.name COLLATE NOCASE)
        AND new.rowid <= (SELECT max_rowid FROM sessions_name_build);
END;

-- A deleted session's snapshot row goes with it (a dirty one has none; one left by INSERT OR
-- REPLACE keeps its rank row, whose session is gone: the walk joins sessions and skips it).
CREATE TRIGGER sessions_name_after_delete AFTER DELETE ON sessions
WHEN old.rowid <= (SELECT max_rowid FROM sessions_name_build) BEGIN
    INSERT INTO sessions_name_fts (sessions_name_fts, rowid, name, project, worktree, branch, directory)
    SELECT 'delete', rank, old.name, old.project, old.worktree, old.branch, old.directory
    FROM sessions_name_rank
    WHERE sid = old.rowid AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty WHERE sid = old.rowid);
    DELETE FROM sessions_name_rank
    WHERE sid = old.rowid AND NOT EXISTS (SELECT 1 FROM sessions_name_dirty WHERE sid = old.rowid);
    DELETE FROM sessions_name_dirty WHERE sid = old.rowid;
END;

-- The build with gaps (store.name_order.rebuild runs the same statements): 009's rows may be
-- stale (renamed and deleted sessions kept theirs), and its ranks have no gaps.
DELETE FROM sessions_name_build;
INSERT INTO sessions_name_fts (sessions_name_fts) VALUES ('delete-all');
DELETE FROM sessions_name_rank;
DELETE FROM sessions_name_dirty;

INSERT INTO sessions_name_rank (rank, sid)
SELECT row_number() OVER (ORDER BY name COLLATE NOCASE, rowid) * 1048576, rowid FROM sessions;

INSERT INTO sessions_name_fts (rowid, name, project, worktree, branch, directory)
SELECT r.rank, s.name, s.project, s.worktree, s.branch, s.directory
FROM sessions_name_rank AS r JOIN sessions AS s ON s.rowid = r.sid ORDER BY r.rank;

INSERT INTO sessions_name_build (id, max_rowid, sessions, built_at)
SELECT 1, coalesce(max(rowid), 0), count(*), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM sessions;

INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('automerge', 0);
INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('usermerge', 8);

-- DOWN
-- 009's triggers work on this state as it is (any ranks in name order; a dirty session with no
-- snapshot row is one 009 would skip): no rebuild.
INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('automerge', 4);
INSERT INTO sessions_name_fts (sessions_name_fts, rank) VALUES ('usermerge', 4);
DROP TRIGGER sessions_name_after_delete;
DROP TRIGGER sessions_name_after_update;

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
