-- 003_search_prefixes: index every word prefix of one to eight letters.
--
-- A bare word is a prefix query ("auth" finds "authentication"). FTS5 answers a prefix from its
-- own index only when the prefix's length is one of the table's `prefix=` lengths; any other
-- length makes it read and merge the doclist of every term that starts with it, on every
-- evaluation. 002 indexed lengths 2 and 3, so "a" and any word of four or more letters ("auth",
-- "main", "myapp") paid that merge: about 1 ms per evaluation for a word in half of 100,000
-- sessions, which rules out testing candidate sessions one by one against the index (the plans
-- that keep a dense word fast, see docs/search.md). With lengths 1 to 8, every word of up to
-- eight letters is one indexed doclist.
--
-- Cost (measured, docs/search.md): the index about doubles (16 MB to 34 MB for 100,000 sessions),
-- and this migration rebuilds it: a few seconds per 100,000 sessions, once. The table's contents,
-- tokenizer and triggers are unchanged (the triggers name the table, which is recreated under the
-- same name).

-- UP
DROP TABLE sessions_fts;

CREATE VIRTUAL TABLE sessions_fts USING fts5 (
    name, project, worktree, branch, directory,
    content = 'sessions',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3 4 5 6 7 8'
);

INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild');

-- DOWN
DROP TABLE sessions_fts;

CREATE VIRTUAL TABLE sessions_fts USING fts5 (
    name, project, worktree, branch, directory,
    content = 'sessions',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

INSERT INTO sessions_fts (sessions_fts) VALUES ('rebuild');
