-- 012_reserved: a stand-in for the 012 of another branch (merged separately), so that this
-- branch's migrations run 1..N without a gap. Drop this file when that 012 is merged.

-- UP
SELECT 1;

-- DOWN
SELECT 1;
