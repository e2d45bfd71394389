-- 008_attached_days_all: the hour sums of every session per UTC day, for `stats` over a whole history.
--
-- `ccmgr-watch stats` with no query over all time sums sql/007's attached_days over every session
-- it reads from the aggregates: at 10 k sessions and 1 M events ~20,000 (day, session) rows of 48
-- numbers, ~25 ms of a ~190 ms command (docs/stats.md). This table holds those sums per UTC day
-- over all sessions (~365 rows a year), kept by triggers on attached_days whoever changes it: the
-- same columns, and n, the number of attached_days rows of the day (a row is removed when none is
-- left). `stats` reads it for a whole history without a query and subtracts the few sessions it
-- reads from their islands instead (store/stats.py); every other statistic reads attached_days.
-- Cost: one more row written with every change of attached_days (scripts/bench_stats.py --writes).

-- UP
CREATE TABLE attached_days_all (
    day INTEGER PRIMARY KEY,
    n   INTEGER NOT NULL DEFAULT 0,
    s0 INTEGER NOT NULL DEFAULT 0, s1 INTEGER NOT NULL DEFAULT 0, s2 INTEGER NOT NULL DEFAULT 0, s3 INTEGER NOT NULL DEFAULT 0, s4 INTEGER NOT NULL DEFAULT 0, s5 INTEGER NOT NULL DEFAULT 0,
    s6 INTEGER NOT NULL DEFAULT 0, s7 INTEGER NOT NULL DEFAULT 0, s8 INTEGER NOT NULL DEFAULT 0, s9 INTEGER NOT NULL DEFAULT 0, s10 INTEGER NOT NULL DEFAULT 0, s11 INTEGER NOT NULL DEFAULT 0,
    s12 INTEGER NOT NULL DEFAULT 0, s13 INTEGER NOT NULL DEFAULT 0, s14 INTEGER NOT NULL DEFAULT 0, s15 INTEGER NOT NULL DEFAULT 0, s16 INTEGER NOT NULL DEFAULT 0, s17 INTEGER NOT NULL DEFAULT 0,
    s18 INTEGER NOT NULL DEFAULT 0, s19 INTEGER NOT NULL DEFAULT 0, s20 INTEGER NOT NULL DEFAULT 0, s21 INTEGER NOT NULL DEFAULT 0, s22 INTEGER NOT NULL DEFAULT 0, s23 INTEGER NOT NULL DEFAULT 0,
    a0 INTEGER NOT NULL DEFAULT 0, a1 INTEGER NOT NULL DEFAULT 0, a2 INTEGER NOT NULL DEFAULT 0, a3 INTEGER NOT NULL DEFAULT 0, a4 INTEGER NOT NULL DEFAULT 0, a5 INTEGER NOT NULL DEFAULT 0,
    a6 INTEGER NOT NULL DEFAULT 0, a7 INTEGER NOT NULL DEFAULT 0, a8 INTEGER NOT NULL DEFAULT 0, a9 INTEGER NOT NULL DEFAULT 0, a10 INTEGER NOT NULL DEFAULT 0, a11 INTEGER NOT NULL DEFAULT 0,
    a12 INTEGER NOT NULL DEFAULT 0, a13 INTEGER NOT NULL DEFAULT 0, a14 INTEGER NOT NULL DEFAULT 0, a15 INTEGER NOT NULL DEFAULT 0, a16 INTEGER NOT NULL DEFAULT 0, a17 INTEGER NOT NULL DEFAULT 0,
    a18 INTEGER NOT NULL DEFAULT 0, a19 INTEGER NOT NULL DEFAULT 0, a20 INTEGER NOT NULL DEFAULT 0, a21 INTEGER NOT NULL DEFAULT 0, a22 INTEGER NOT NULL DEFAULT 0, a23 INTEGER NOT NULL DEFAULT 0
);

INSERT INTO attached_days_all (day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    SELECT day, count(*),
    sum(s0), sum(s1), sum(s2), sum(s3), sum(s4), sum(s5), sum(s6), sum(s7), sum(s8), sum(s9), sum(s10), sum(s11),
    sum(s12), sum(s13), sum(s14), sum(s15), sum(s16), sum(s17), sum(s18), sum(s19), sum(s20), sum(s21), sum(s22), sum(s23),
    sum(a0), sum(a1), sum(a2), sum(a3), sum(a4), sum(a5), sum(a6), sum(a7), sum(a8), sum(a9), sum(a10), sum(a11),
    sum(a12), sum(a13), sum(a14), sum(a15), sum(a16), sum(a17), sum(a18), sum(a19), sum(a20), sum(a21), sum(a22), sum(a23)
    FROM attached_days GROUP BY day;

CREATE TRIGGER tr_attached_days_all_insert AFTER INSERT ON attached_days
BEGIN
    INSERT INTO attached_days_all (day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    VALUES (NEW.day, 1,
    NEW.s0, NEW.s1, NEW.s2, NEW.s3, NEW.s4, NEW.s5, NEW.s6, NEW.s7, NEW.s8, NEW.s9, NEW.s10, NEW.s11,
    NEW.s12, NEW.s13, NEW.s14, NEW.s15, NEW.s16, NEW.s17, NEW.s18, NEW.s19, NEW.s20, NEW.s21, NEW.s22, NEW.s23,
    NEW.a0, NEW.a1, NEW.a2, NEW.a3, NEW.a4, NEW.a5, NEW.a6, NEW.a7, NEW.a8, NEW.a9, NEW.a10, NEW.a11,
    NEW.a12, NEW.a13, NEW.a14, NEW.a15, NEW.a16, NEW.a17, NEW.a18, NEW.a19, NEW.a20, NEW.a21, NEW.a22, NEW.a23)
    ON CONFLICT (day) DO UPDATE SET n = n + 1,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
END;

-- The usual change: the same day's sums (an island closed, an attach counted).
CREATE TRIGGER tr_attached_days_all_update AFTER UPDATE ON attached_days
WHEN OLD.day = NEW.day
BEGIN
    UPDATE attached_days_all SET
    s0 = s0 + NEW.s0 - OLD.s0, s1 = s1 + NEW.s1 - OLD.s1, s2 = s2 + NEW.s2 - OLD.s2, s3 = s3 + NEW.s3 - OLD.s3,
    s4 = s4 + NEW.s4 - OLD.s4, s5 = s5 + NEW.s5 - OLD.s5, s6 = s6 + NEW.s6 - OLD.s6, s7 = s7 + NEW.s7 - OLD.s7,
    s8 = s8 + NEW.s8 - OLD.s8, s9 = s9 + NEW.s9 - OLD.s9, s10 = s10 + NEW.s10 - OLD.s10, s11 = s11 + NEW.s11 - OLD.s11,
    s12 = s12 + NEW.s12 - OLD.s12, s13 = s13 + NEW.s13 - OLD.s13, s14 = s14 + NEW.s14 - OLD.s14, s15 = s15 + NEW.s15 - OLD.s15,
    s16 = s16 + NEW.s16 - OLD.s16, s17 = s17 + NEW.s17 - OLD.s17, s18 = s18 + NEW.s18 - OLD.s18, s19 = s19 + NEW.s19 - OLD.s19,
    s20 = s20 + NEW.s20 - OLD.s20, s21 = s21 + NEW.s21 - OLD.s21, s22 = s22 + NEW.s22 - OLD.s22, s23 = s23 + NEW.s23 - OLD.s23,
    a0 = a0 + NEW.a0 - OLD.a0, a1 = a1 + NEW.a1 - OLD.a1, a2 = a2 + NEW.a2 - OLD.a2, a3 = a3 + NEW.a3 - OLD.a3,
    a4 = a4 + NEW.a4 - OLD.a4, a5 = a5 + NEW.a5 - OLD.a5, a6 = a6 + NEW.a6 - OLD.a6, a7 = a7 + NEW.a7 - OLD.a7,
    a8 = a8 + NEW.a8 - OLD.a8, a9 = a9 + NEW.a9 - OLD.a9, a10 = a10 + NEW.a10 - OLD.a10, a11 = a11 + NEW.a11 - OLD.a11,
    a12 = a12 + NEW.a12 - OLD.a12, a13 = a13 + NEW.a13 - OLD.a13, a14 = a14 + NEW.a14 - OLD.a14, a15 = a15 + NEW.a15 - OLD.a15,
    a16 = a16 + NEW.a16 - OLD.a16, a17 = a17 + NEW.a17 - OLD.a17, a18 = a18 + NEW.a18 - OLD.a18, a19 = a19 + NEW.a19 - OLD.a19,
    a20 = a20 + NEW.a20 - OLD.a20, a21 = a21 + NEW.a21 - OLD.a21, a22 = a22 + NEW.a22 - OLD.a22, a23 = a23 + NEW.a23 - OLD.a23
    WHERE day = NEW.day;
END;

CREATE TRIGGER tr_attached_days_all_move AFTER UPDATE ON attached_days
WHEN OLD.day <> NEW.day
BEGIN
    UPDATE attached_days_all SET n = n - 1,
    s0 = s0 - OLD.s0, s1 = s1 - OLD.s1, s2 = s2 - OLD.s2, s3 = s3 - OLD.s3, s4 = s4 - OLD.s4, s5 = s5 - OLD.s5,
    s6 = s6 - OLD.s6, s7 = s7 - OLD.s7, s8 = s8 - OLD.s8, s9 = s9 - OLD.s9, s10 = s10 - OLD.s10, s11 = s11 - OLD.s11,
    s12 = s12 - OLD.s12, s13 = s13 - OLD.s13, s14 = s14 - OLD.s14, s15 = s15 - OLD.s15, s16 = s16 - OLD.s16, s17 = s17 - OLD.s17,
    s18 = s18 - OLD.s18, s19 = s19 - OLD.s19, s20 = s20 - OLD.s20, s21 = s21 - OLD.s21, s22 = s22 - OLD.s22, s23 = s23 - OLD.s23,
    a0 = a0 - OLD.a0, a1 = a1 - OLD.a1, a2 = a2 - OLD.a2, a3 = a3 - OLD.a3, a4 = a4 - OLD.a4, a5 = a5 - OLD.a5,
    a6 = a6 - OLD.a6, a7 = a7 - OLD.a7, a8 = a8 - OLD.a8, a9 = a9 - OLD.a9, a10 = a10 - OLD.a10, a11 = a11 - OLD.a11,
    a12 = a12 - OLD.a12, a13 = a13 - OLD.a13, a14 = a14 - OLD.a14, a15 = a15 - OLD.a15, a16 = a16 - OLD.a16, a17 = a17 - OLD.a17,
    a18 = a18 - OLD.a18, a19 = a19 - OLD.a19, a20 = a20 - OLD.a20, a21 = a21 - OLD.a21, a22 = a22 - OLD.a22, a23 = a23 - OLD.a23
    WHERE day = OLD.day;
    DELETE FROM attached_days_all WHERE day = OLD.day AND n = 0;
    INSERT INTO attached_days_all (day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    VALUES (NEW.day, 1,
    NEW.s0, NEW.s1, NEW.s2, NEW.s3, NEW.s4, NEW.s5, NEW.s6, NEW.s7, NEW.s8, NEW.s9, NEW.s10, NEW.s11,
    NEW.s12, NEW.s13, NEW.s14, NEW.s15, NEW.s16, NEW.s17, NEW.s18, NEW.s19, NEW.s20, NEW.s21, NEW.s22, NEW.s23,
    NEW.a0, NEW.a1, NEW.a2, NEW.a3, NEW.a4, NEW.a5, NEW.a6, NEW.a7, NEW.a8, NEW.a9, NEW.a10, NEW.a11,
    NEW.a12, NEW.a13, NEW.a14, NEW.a15, NEW.a16, NEW.a17, NEW.a18, NEW.a19, NEW.a20, NEW.a21, NEW.a22, NEW.a23)
    ON CONFLICT (day) DO UPDATE SET n = n + 1,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
END;

CREATE TRIGGER tr_attached_days_all_delete AFTER DELETE ON attached_days
BEGIN
    UPDATE attached_days_all SET n = n - 1,
    s0 = s0 - OLD.s0, s1 = s1 - OLD.s1, s2 = s2 - OLD.s2, s3 = s3 - OLD.s3, s4 = s4 - OLD.s4, s5 = s5 - OLD.s5,
    s6 = s6 - OLD.s6, s7 = s7 - OLD.s7, s8 = s8 - OLD.s8, s9 = s9 - OLD.s9, s10 = s10 - OLD.s10, s11 = s11 - OLD.s11,
    s12 = s12 - OLD.s12, s13 = s13 - OLD.s13, s14 = s14 - OLD.s14, s15 = s15 - OLD.s15, s16 = s16 - OLD.s16, s17 = s17 - OLD.s17,
    s18 = s18 - OLD.s18, s19 = s19 - OLD.s19, s20 = s20 - OLD.s20, s21 = s21 - OLD.s21, s22 = s22 - OLD.s22, s23 = s23 - OLD.s23,
    a0 = a0 - OLD.a0, a1 = a1 - OLD.a1, a2 = a2 - OLD.a2, a3 = a3 - OLD.a3, a4 = a4 - OLD.a4, a5 = a5 - OLD.a5,
    a6 = a6 - OLD.a6, a7 = a7 - OLD.a7, a8 = a8 - OLD.a8, a9 = a9 - OLD.a9, a10 = a10 - OLD.a10, a11 = a11 - OLD.a11,
    a12 = a12 - OLD.a12, a13 = a13 - OLD.a13, a14 = a14 - OLD.a14, a15 = a15 - OLD.a15, a16 = a16 - OLD.a16, a17 = a17 - OLD.a17,
    a18 = a18 - OLD.a18, a19 = a19 - OLD.a19, a20 = a20 - OLD.a20, a21 = a21 - OLD.a21, a22 = a22 - OLD.a22, a23 = a23 - OLD.a23
    WHERE day = OLD.day;
    DELETE FROM attached_days_all WHERE day = OLD.day AND n = 0;
END;

-- DOWN
DROP TRIGGER tr_attached_days_all_delete;
DROP TRIGGER tr_attached_days_all_move;
DROP TRIGGER tr_attached_days_all_update;
DROP TRIGGER tr_attached_days_all_insert;
DROP TABLE attached_days_all;
