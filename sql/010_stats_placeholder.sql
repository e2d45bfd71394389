-- 010_stats_placeholder: stands in for the lead's migration 010 (stats) on this branch only.
--
-- Migration versions must run 1..N without gaps (store.migrations.load_migrations), and this
-- branch's migration is 011. At the merge this file is deleted and main's 010 takes its place;
-- it changes nothing in the schema, so no database depends on it.

-- UP
SELECT 1;

-- DOWN
SELECT 1;
