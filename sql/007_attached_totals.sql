-- 007_attached_totals: aggregates of the attached time kept as events are written, and a
-- cheap path for events written in time order.
--
-- `ccmgr-watch stats` over a whole history read every island of attached_spans (006): ~89,000
-- at 10 k sessions and 1 M events, 0.8 s. Most sessions lie wholly inside the window asked for
-- (a whole history always), so their numbers can be kept ready (docs/stats.md, "How it is
-- computed"):
--
-- - attached_totals, per session: the first island's start and the last island's end
--   (first_start, last_end: 1e12 while open), the attached time of its closed islands
--   (closed_micros, integer microseconds: sums and differences stay exact) and its readable
--   attach events (attaches).
-- - attached_days, per (UTC day, session): the closed islands' microseconds in each UTC hour
--   (s0..s23) and the attach events in each UTC hour (a0..a23); n counts what was added to
--   the row (island pieces and attaches), so a row is removed when it holds nothing. Times
--   before 1970 are left out (statistics start at 1970).
-- - attached_clients: the clients attached after each session's last event (the set of the
--   definition): an island is open exactly when its session has a row here.
-- - stats_numbers: 0..999, to split an island into its days inside a trigger (no CTEs there).
--
-- Triggers on attached_spans keep totals and day rows current, whoever changes the islands.
-- Triggers on session_events:
-- - an attach, detach or end event after every readable one of its session (by time, then id:
--   what the watcher writes; two seeks of ix_session_events_attach tell) applies the
--   definition to the stored set of clients and the last island: a few index writes
--   (tr_attached_spans_in_order);
-- - an event written late does what 006's insert trigger did, then derives the set of clients
--   again from the open island's events (tr_attached_spans_late);
-- - an update or delete: 006's triggers derive the islands again; the set of clients is
--   derived again from all the session's events;
-- - attach counts follow every insert, update and delete of an `attached` event.
-- The backfill derives the same from attached_spans and the events. DOWN restores 006.

-- UP
CREATE TABLE stats_numbers (n INTEGER PRIMARY KEY);
WITH RECURSIVE k (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 999)
INSERT INTO stats_numbers (n) SELECT n FROM k;

CREATE TABLE attached_totals (
    session_id    TEXT PRIMARY KEY,
    first_start   REAL,
    last_end      REAL,
    closed_micros INTEGER NOT NULL DEFAULT 0,
    attaches      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE attached_clients (
    session_id TEXT NOT NULL,
    client     NOT NULL,
    PRIMARY KEY (session_id, client)
) WITHOUT ROWID;

CREATE TABLE attached_days (
    session_id TEXT NOT NULL,
    day        INTEGER NOT NULL,
    n          INTEGER NOT NULL DEFAULT 0,
    s0 INTEGER NOT NULL DEFAULT 0, s1 INTEGER NOT NULL DEFAULT 0, s2 INTEGER NOT NULL DEFAULT 0, s3 INTEGER NOT NULL DEFAULT 0, s4 INTEGER NOT NULL DEFAULT 0, s5 INTEGER NOT NULL DEFAULT 0, s6 INTEGER NOT NULL DEFAULT 0, s7 INTEGER NOT NULL DEFAULT 0, s8 INTEGER NOT NULL DEFAULT 0, s9 INTEGER NOT NULL DEFAULT 0, s10 INTEGER NOT NULL DEFAULT 0, s11 INTEGER NOT NULL DEFAULT 0,
    s12 INTEGER NOT NULL DEFAULT 0, s13 INTEGER NOT NULL DEFAULT 0, s14 INTEGER NOT NULL DEFAULT 0, s15 INTEGER NOT NULL DEFAULT 0, s16 INTEGER NOT NULL DEFAULT 0, s17 INTEGER NOT NULL DEFAULT 0, s18 INTEGER NOT NULL DEFAULT 0, s19 INTEGER NOT NULL DEFAULT 0, s20 INTEGER NOT NULL DEFAULT 0, s21 INTEGER NOT NULL DEFAULT 0, s22 INTEGER NOT NULL DEFAULT 0, s23 INTEGER NOT NULL DEFAULT 0,
    a0 INTEGER NOT NULL DEFAULT 0, a1 INTEGER NOT NULL DEFAULT 0, a2 INTEGER NOT NULL DEFAULT 0, a3 INTEGER NOT NULL DEFAULT 0, a4 INTEGER NOT NULL DEFAULT 0, a5 INTEGER NOT NULL DEFAULT 0, a6 INTEGER NOT NULL DEFAULT 0, a7 INTEGER NOT NULL DEFAULT 0, a8 INTEGER NOT NULL DEFAULT 0, a9 INTEGER NOT NULL DEFAULT 0, a10 INTEGER NOT NULL DEFAULT 0, a11 INTEGER NOT NULL DEFAULT 0,
    a12 INTEGER NOT NULL DEFAULT 0, a13 INTEGER NOT NULL DEFAULT 0, a14 INTEGER NOT NULL DEFAULT 0, a15 INTEGER NOT NULL DEFAULT 0, a16 INTEGER NOT NULL DEFAULT 0, a17 INTEGER NOT NULL DEFAULT 0, a18 INTEGER NOT NULL DEFAULT 0, a19 INTEGER NOT NULL DEFAULT 0, a20 INTEGER NOT NULL DEFAULT 0, a21 INTEGER NOT NULL DEFAULT 0, a22 INTEGER NOT NULL DEFAULT 0, a23 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, session_id)
) WITHOUT ROWID;
-- Reads go by day (stats sums each day over the sessions), writes and deletes by session.
CREATE INDEX ix_attached_days_session ON attached_days (session_id, day);

-- Backfill: totals and hour sums from the stored islands, attach counts and the state from the events.
INSERT INTO attached_totals (session_id, first_start, last_end, closed_micros)
    SELECT session_id, min(span_start), max(span_end),
        sum(CASE WHEN span_end < 1e12 THEN CAST(round(span_end * 1e6) AS INTEGER) - CAST(round(span_start * 1e6) AS INTEGER) ELSE 0 END)
    FROM attached_spans GROUP BY session_id;
INSERT INTO attached_totals (session_id, attaches)
    SELECT session_id, count(*) FROM session_events
    WHERE event_type IN ('attached', 'detached', 'killed', 'vanished') AND event_type = 'attached' AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > -1e18 GROUP BY session_id
    ON CONFLICT (session_id) DO UPDATE SET attaches = excluded.attaches;
INSERT INTO attached_clients (session_id, client)
    SELECT DISTINCT session_id, client FROM (
        SELECT session_id, kind, client, lead(t) OVER (PARTITION BY session_id, client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                PARTITION BY session_id ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM (
            SELECT e.session_id, e.id, e.event_type AS kind, (unixepoch(e.timestamp) + CAST(substr(e.timestamp, 20, 7) AS REAL)) AS t,
                CASE e.event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(e.data) THEN e.data ->> 'client' END, '')
                    WHEN 'detached' THEN nullif(CASE WHEN json_valid(e.data) THEN e.data ->> 'client' END, '') END AS client
            FROM attached_spans AS o JOIN session_events AS e ON e.session_id = o.session_id
            WHERE o.span_end = 1e12 AND e.event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(e.timestamp) + CAST(substr(e.timestamp, 20, 7) AS REAL)) >= o.span_start))
    WHERE kind = 'attached' AND next_same IS NULL AND next_reset IS NULL;
INSERT INTO attached_days (session_id, day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23)
    SELECT sid, day, count(*),
        sum(max(0, min(hi, day * 86400000000 + 3600000000) - max(lo, day * 86400000000 + 0))),
        sum(max(0, min(hi, day * 86400000000 + 7200000000) - max(lo, day * 86400000000 + 3600000000))),
        sum(max(0, min(hi, day * 86400000000 + 10800000000) - max(lo, day * 86400000000 + 7200000000))),
        sum(max(0, min(hi, day * 86400000000 + 14400000000) - max(lo, day * 86400000000 + 10800000000))),
        sum(max(0, min(hi, day * 86400000000 + 18000000000) - max(lo, day * 86400000000 + 14400000000))),
        sum(max(0, min(hi, day * 86400000000 + 21600000000) - max(lo, day * 86400000000 + 18000000000))),
        sum(max(0, min(hi, day * 86400000000 + 25200000000) - max(lo, day * 86400000000 + 21600000000))),
        sum(max(0, min(hi, day * 86400000000 + 28800000000) - max(lo, day * 86400000000 + 25200000000))),
        sum(max(0, min(hi, day * 86400000000 + 32400000000) - max(lo, day * 86400000000 + 28800000000))),
        sum(max(0, min(hi, day * 86400000000 + 36000000000) - max(lo, day * 86400000000 + 32400000000))),
        sum(max(0, min(hi, day * 86400000000 + 39600000000) - max(lo, day * 86400000000 + 36000000000))),
        sum(max(0, min(hi, day * 86400000000 + 43200000000) - max(lo, day * 86400000000 + 39600000000))),
        sum(max(0, min(hi, day * 86400000000 + 46800000000) - max(lo, day * 86400000000 + 43200000000))),
        sum(max(0, min(hi, day * 86400000000 + 50400000000) - max(lo, day * 86400000000 + 46800000000))),
        sum(max(0, min(hi, day * 86400000000 + 54000000000) - max(lo, day * 86400000000 + 50400000000))),
        sum(max(0, min(hi, day * 86400000000 + 57600000000) - max(lo, day * 86400000000 + 54000000000))),
        sum(max(0, min(hi, day * 86400000000 + 61200000000) - max(lo, day * 86400000000 + 57600000000))),
        sum(max(0, min(hi, day * 86400000000 + 64800000000) - max(lo, day * 86400000000 + 61200000000))),
        sum(max(0, min(hi, day * 86400000000 + 68400000000) - max(lo, day * 86400000000 + 64800000000))),
        sum(max(0, min(hi, day * 86400000000 + 72000000000) - max(lo, day * 86400000000 + 68400000000))),
        sum(max(0, min(hi, day * 86400000000 + 75600000000) - max(lo, day * 86400000000 + 72000000000))),
        sum(max(0, min(hi, day * 86400000000 + 79200000000) - max(lo, day * 86400000000 + 75600000000))),
        sum(max(0, min(hi, day * 86400000000 + 82800000000) - max(lo, day * 86400000000 + 79200000000))),
        sum(max(0, min(hi, day * 86400000000 + 86400000000) - max(lo, day * 86400000000 + 82800000000)))
    FROM (SELECT x.sid, x.lo, x.hi, x.lo / 86400000000 + a.n + 1000 * b.n AS day
        FROM (SELECT session_id AS sid, CAST(round(max(span_start, 0.0) * 1e6) AS INTEGER) AS lo, CAST(round(span_end * 1e6) AS INTEGER) AS hi
            FROM attached_spans WHERE span_end < 1e12) AS x
        JOIN stats_numbers AS b ON b.n <= ((x.hi - 1) / 86400000000 - x.lo / 86400000000) / 1000
        JOIN stats_numbers AS a ON a.n <= (x.hi - 1) / 86400000000 - x.lo / 86400000000 - 1000 * b.n
        WHERE x.hi > x.lo)
    GROUP BY sid, day;
INSERT INTO attached_days (session_id, day, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    SELECT session_id, m / 86400000000, count(*), sum((m % 86400000000) / 3600000000 = 0), sum((m % 86400000000) / 3600000000 = 1), sum((m % 86400000000) / 3600000000 = 2), sum((m % 86400000000) / 3600000000 = 3), sum((m % 86400000000) / 3600000000 = 4), sum((m % 86400000000) / 3600000000 = 5), sum((m % 86400000000) / 3600000000 = 6), sum((m % 86400000000) / 3600000000 = 7), sum((m % 86400000000) / 3600000000 = 8), sum((m % 86400000000) / 3600000000 = 9), sum((m % 86400000000) / 3600000000 = 10), sum((m % 86400000000) / 3600000000 = 11), sum((m % 86400000000) / 3600000000 = 12), sum((m % 86400000000) / 3600000000 = 13), sum((m % 86400000000) / 3600000000 = 14), sum((m % 86400000000) / 3600000000 = 15), sum((m % 86400000000) / 3600000000 = 16), sum((m % 86400000000) / 3600000000 = 17), sum((m % 86400000000) / 3600000000 = 18), sum((m % 86400000000) / 3600000000 = 19), sum((m % 86400000000) / 3600000000 = 20), sum((m % 86400000000) / 3600000000 = 21), sum((m % 86400000000) / 3600000000 = 22), sum((m % 86400000000) / 3600000000 = 23)
    FROM (SELECT session_id, CAST(round((unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) AS m FROM session_events
        WHERE event_type IN ('attached', 'detached', 'killed', 'vanished') AND event_type = 'attached' AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) >= 0)
    GROUP BY session_id, m / 86400000000
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;

-- The islands' aggregates follow every change of attached_spans, whoever makes it.
CREATE TRIGGER tr_attached_totals_span_insert AFTER INSERT ON attached_spans
BEGIN
    INSERT INTO attached_totals (session_id) VALUES (NEW.session_id) ON CONFLICT (session_id) DO NOTHING;
    UPDATE attached_totals SET closed_micros = closed_micros + (CASE WHEN NEW.span_end < 1e12 THEN CAST(round(NEW.span_end * 1e6) AS INTEGER) - CAST(round(NEW.span_start * 1e6) AS INTEGER) ELSE 0 END),
        first_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start LIMIT 1),
        last_end = (SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1)
    WHERE session_id = NEW.session_id;
    INSERT INTO attached_days (session_id, day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23)
    SELECT sid, day, 1,
        max(0, min(hi, day * 86400000000 + 3600000000) - max(lo, day * 86400000000 + 0)),
        max(0, min(hi, day * 86400000000 + 7200000000) - max(lo, day * 86400000000 + 3600000000)),
        max(0, min(hi, day * 86400000000 + 10800000000) - max(lo, day * 86400000000 + 7200000000)),
        max(0, min(hi, day * 86400000000 + 14400000000) - max(lo, day * 86400000000 + 10800000000)),
        max(0, min(hi, day * 86400000000 + 18000000000) - max(lo, day * 86400000000 + 14400000000)),
        max(0, min(hi, day * 86400000000 + 21600000000) - max(lo, day * 86400000000 + 18000000000)),
        max(0, min(hi, day * 86400000000 + 25200000000) - max(lo, day * 86400000000 + 21600000000)),
        max(0, min(hi, day * 86400000000 + 28800000000) - max(lo, day * 86400000000 + 25200000000)),
        max(0, min(hi, day * 86400000000 + 32400000000) - max(lo, day * 86400000000 + 28800000000)),
        max(0, min(hi, day * 86400000000 + 36000000000) - max(lo, day * 86400000000 + 32400000000)),
        max(0, min(hi, day * 86400000000 + 39600000000) - max(lo, day * 86400000000 + 36000000000)),
        max(0, min(hi, day * 86400000000 + 43200000000) - max(lo, day * 86400000000 + 39600000000)),
        max(0, min(hi, day * 86400000000 + 46800000000) - max(lo, day * 86400000000 + 43200000000)),
        max(0, min(hi, day * 86400000000 + 50400000000) - max(lo, day * 86400000000 + 46800000000)),
        max(0, min(hi, day * 86400000000 + 54000000000) - max(lo, day * 86400000000 + 50400000000)),
        max(0, min(hi, day * 86400000000 + 57600000000) - max(lo, day * 86400000000 + 54000000000)),
        max(0, min(hi, day * 86400000000 + 61200000000) - max(lo, day * 86400000000 + 57600000000)),
        max(0, min(hi, day * 86400000000 + 64800000000) - max(lo, day * 86400000000 + 61200000000)),
        max(0, min(hi, day * 86400000000 + 68400000000) - max(lo, day * 86400000000 + 64800000000)),
        max(0, min(hi, day * 86400000000 + 72000000000) - max(lo, day * 86400000000 + 68400000000)),
        max(0, min(hi, day * 86400000000 + 75600000000) - max(lo, day * 86400000000 + 72000000000)),
        max(0, min(hi, day * 86400000000 + 79200000000) - max(lo, day * 86400000000 + 75600000000)),
        max(0, min(hi, day * 86400000000 + 82800000000) - max(lo, day * 86400000000 + 79200000000)),
        max(0, min(hi, day * 86400000000 + 86400000000) - max(lo, day * 86400000000 + 82800000000))
    FROM (SELECT x.sid, x.lo, x.hi, x.lo / 86400000000 + a.n + 1000 * b.n AS day
        FROM (SELECT NEW.session_id AS sid, CAST(round(max(NEW.span_start, 0.0) * 1e6) AS INTEGER) AS lo, CAST(round(NEW.span_end * 1e6) AS INTEGER) AS hi) AS x
        JOIN stats_numbers AS b ON b.n <= ((x.hi - 1) / 86400000000 - x.lo / 86400000000) / 1000
        JOIN stats_numbers AS a ON a.n <= (x.hi - 1) / 86400000000 - x.lo / 86400000000 - 1000 * b.n
        WHERE NEW.span_end < 1e12 AND x.hi > x.lo)
    WHERE true
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
END;

CREATE TRIGGER tr_attached_totals_span_update AFTER UPDATE OF session_id, span_start, span_end ON attached_spans
BEGIN
    UPDATE attached_days SET n = n - 1,
        s0 = s0 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 3600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 0)),
        s1 = s1 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 7200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 3600000000)),
        s2 = s2 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 10800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 7200000000)),
        s3 = s3 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 14400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 10800000000)),
        s4 = s4 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 18000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 14400000000)),
        s5 = s5 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 21600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 18000000000)),
        s6 = s6 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 25200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 21600000000)),
        s7 = s7 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 28800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 25200000000)),
        s8 = s8 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 32400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 28800000000)),
        s9 = s9 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 36000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 32400000000)),
        s10 = s10 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 39600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 36000000000)),
        s11 = s11 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 43200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 39600000000)),
        s12 = s12 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 46800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 43200000000)),
        s13 = s13 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 50400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 46800000000)),
        s14 = s14 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 54000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 50400000000)),
        s15 = s15 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 57600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 54000000000)),
        s16 = s16 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 61200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 57600000000)),
        s17 = s17 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 64800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 61200000000)),
        s18 = s18 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 68400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 64800000000)),
        s19 = s19 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 72000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 68400000000)),
        s20 = s20 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 75600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 72000000000)),
        s21 = s21 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 79200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 75600000000)),
        s22 = s22 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 82800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 79200000000)),
        s23 = s23 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 86400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 82800000000))
    WHERE session_id = OLD.session_id AND OLD.span_end < 1e12 AND CAST(round(OLD.span_end * 1e6) AS INTEGER) > CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) AND day BETWEEN CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) / 86400000000 AND (CAST(round(OLD.span_end * 1e6) AS INTEGER) - 1) / 86400000000;
    DELETE FROM attached_days WHERE session_id = OLD.session_id AND OLD.span_end < 1e12 AND CAST(round(OLD.span_end * 1e6) AS INTEGER) > CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) AND day BETWEEN CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) / 86400000000 AND (CAST(round(OLD.span_end * 1e6) AS INTEGER) - 1) / 86400000000 AND n = 0;
    INSERT INTO attached_days (session_id, day, n, s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15, s16, s17, s18, s19, s20, s21, s22, s23)
    SELECT sid, day, 1,
        max(0, min(hi, day * 86400000000 + 3600000000) - max(lo, day * 86400000000 + 0)),
        max(0, min(hi, day * 86400000000 + 7200000000) - max(lo, day * 86400000000 + 3600000000)),
        max(0, min(hi, day * 86400000000 + 10800000000) - max(lo, day * 86400000000 + 7200000000)),
        max(0, min(hi, day * 86400000000 + 14400000000) - max(lo, day * 86400000000 + 10800000000)),
        max(0, min(hi, day * 86400000000 + 18000000000) - max(lo, day * 86400000000 + 14400000000)),
        max(0, min(hi, day * 86400000000 + 21600000000) - max(lo, day * 86400000000 + 18000000000)),
        max(0, min(hi, day * 86400000000 + 25200000000) - max(lo, day * 86400000000 + 21600000000)),
        max(0, min(hi, day * 86400000000 + 28800000000) - max(lo, day * 86400000000 + 25200000000)),
        max(0, min(hi, day * 86400000000 + 32400000000) - max(lo, day * 86400000000 + 28800000000)),
        max(0, min(hi, day * 86400000000 + 36000000000) - max(lo, day * 86400000000 + 32400000000)),
        max(0, min(hi, day * 86400000000 + 39600000000) - max(lo, day * 86400000000 + 36000000000)),
        max(0, min(hi, day * 86400000000 + 43200000000) - max(lo, day * 86400000000 + 39600000000)),
        max(0, min(hi, day * 86400000000 + 46800000000) - max(lo, day * 86400000000 + 43200000000)),
        max(0, min(hi, day * 86400000000 + 50400000000) - max(lo, day * 86400000000 + 46800000000)),
        max(0, min(hi, day * 86400000000 + 54000000000) - max(lo, day * 86400000000 + 50400000000)),
        max(0, min(hi, day * 86400000000 + 57600000000) - max(lo, day * 86400000000 + 54000000000)),
        max(0, min(hi, day * 86400000000 + 61200000000) - max(lo, day * 86400000000 + 57600000000)),
        max(0, min(hi, day * 86400000000 + 64800000000) - max(lo, day * 86400000000 + 61200000000)),
        max(0, min(hi, day * 86400000000 + 68400000000) - max(lo, day * 86400000000 + 64800000000)),
        max(0, min(hi, day * 86400000000 + 72000000000) - max(lo, day * 86400000000 + 68400000000)),
        max(0, min(hi, day * 86400000000 + 75600000000) - max(lo, day * 86400000000 + 72000000000)),
        max(0, min(hi, day * 86400000000 + 79200000000) - max(lo, day * 86400000000 + 75600000000)),
        max(0, min(hi, day * 86400000000 + 82800000000) - max(lo, day * 86400000000 + 79200000000)),
        max(0, min(hi, day * 86400000000 + 86400000000) - max(lo, day * 86400000000 + 82800000000))
    FROM (SELECT x.sid, x.lo, x.hi, x.lo / 86400000000 + a.n + 1000 * b.n AS day
        FROM (SELECT NEW.session_id AS sid, CAST(round(max(NEW.span_start, 0.0) * 1e6) AS INTEGER) AS lo, CAST(round(NEW.span_end * 1e6) AS INTEGER) AS hi) AS x
        JOIN stats_numbers AS b ON b.n <= ((x.hi - 1) / 86400000000 - x.lo / 86400000000) / 1000
        JOIN stats_numbers AS a ON a.n <= (x.hi - 1) / 86400000000 - x.lo / 86400000000 - 1000 * b.n
        WHERE NEW.span_end < 1e12 AND x.hi > x.lo)
    WHERE true
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
    -- The same session (what the triggers do): one update of its totals.
    UPDATE attached_totals SET closed_micros = closed_micros + (CASE WHEN NEW.span_end < 1e12 THEN CAST(round(NEW.span_end * 1e6) AS INTEGER) - CAST(round(NEW.span_start * 1e6) AS INTEGER) ELSE 0 END - CASE WHEN OLD.span_end < 1e12 THEN CAST(round(OLD.span_end * 1e6) AS INTEGER) - CAST(round(OLD.span_start * 1e6) AS INTEGER) ELSE 0 END),
        first_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start LIMIT 1),
        last_end = (SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1)
    WHERE session_id = NEW.session_id AND OLD.session_id = NEW.session_id;
    UPDATE attached_totals SET closed_micros = closed_micros + (-CASE WHEN OLD.span_end < 1e12 THEN CAST(round(OLD.span_end * 1e6) AS INTEGER) - CAST(round(OLD.span_start * 1e6) AS INTEGER) ELSE 0 END),
        first_start = (SELECT span_start FROM attached_spans WHERE session_id = OLD.session_id ORDER BY span_start LIMIT 1),
        last_end = (SELECT span_end FROM attached_spans WHERE session_id = OLD.session_id ORDER BY span_start DESC LIMIT 1)
    WHERE session_id = OLD.session_id AND OLD.session_id <> NEW.session_id;
    INSERT INTO attached_totals (session_id) SELECT NEW.session_id WHERE OLD.session_id <> NEW.session_id
        ON CONFLICT (session_id) DO NOTHING;
    UPDATE attached_totals SET closed_micros = closed_micros + (CASE WHEN NEW.span_end < 1e12 THEN CAST(round(NEW.span_end * 1e6) AS INTEGER) - CAST(round(NEW.span_start * 1e6) AS INTEGER) ELSE 0 END),
        first_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start LIMIT 1),
        last_end = (SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1)
    WHERE session_id = NEW.session_id AND OLD.session_id <> NEW.session_id;
END;

CREATE TRIGGER tr_attached_totals_span_delete AFTER DELETE ON attached_spans
BEGIN
    UPDATE attached_days SET n = n - 1,
        s0 = s0 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 3600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 0)),
        s1 = s1 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 7200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 3600000000)),
        s2 = s2 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 10800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 7200000000)),
        s3 = s3 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 14400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 10800000000)),
        s4 = s4 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 18000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 14400000000)),
        s5 = s5 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 21600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 18000000000)),
        s6 = s6 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 25200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 21600000000)),
        s7 = s7 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 28800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 25200000000)),
        s8 = s8 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 32400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 28800000000)),
        s9 = s9 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 36000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 32400000000)),
        s10 = s10 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 39600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 36000000000)),
        s11 = s11 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 43200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 39600000000)),
        s12 = s12 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 46800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 43200000000)),
        s13 = s13 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 50400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 46800000000)),
        s14 = s14 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 54000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 50400000000)),
        s15 = s15 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 57600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 54000000000)),
        s16 = s16 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 61200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 57600000000)),
        s17 = s17 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 64800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 61200000000)),
        s18 = s18 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 68400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 64800000000)),
        s19 = s19 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 72000000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 68400000000)),
        s20 = s20 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 75600000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 72000000000)),
        s21 = s21 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 79200000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 75600000000)),
        s22 = s22 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 82800000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 79200000000)),
        s23 = s23 - max(0, min(CAST(round(OLD.span_end * 1e6) AS INTEGER), day * 86400000000 + 86400000000) - max(CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER), day * 86400000000 + 82800000000))
    WHERE session_id = OLD.session_id AND OLD.span_end < 1e12 AND CAST(round(OLD.span_end * 1e6) AS INTEGER) > CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) AND day BETWEEN CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) / 86400000000 AND (CAST(round(OLD.span_end * 1e6) AS INTEGER) - 1) / 86400000000;
    DELETE FROM attached_days WHERE session_id = OLD.session_id AND OLD.span_end < 1e12 AND CAST(round(OLD.span_end * 1e6) AS INTEGER) > CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) AND day BETWEEN CAST(round(max(OLD.span_start, 0.0) * 1e6) AS INTEGER) / 86400000000 AND (CAST(round(OLD.span_end * 1e6) AS INTEGER) - 1) / 86400000000 AND n = 0;
    UPDATE attached_totals SET closed_micros = closed_micros + (-CASE WHEN OLD.span_end < 1e12 THEN CAST(round(OLD.span_end * 1e6) AS INTEGER) - CAST(round(OLD.span_start * 1e6) AS INTEGER) ELSE 0 END),
        first_start = (SELECT span_start FROM attached_spans WHERE session_id = OLD.session_id ORDER BY span_start LIMIT 1),
        last_end = (SELECT span_end FROM attached_spans WHERE session_id = OLD.session_id ORDER BY span_start DESC LIMIT 1)
    WHERE session_id = OLD.session_id;
    DELETE FROM attached_totals WHERE session_id = OLD.session_id AND first_start IS NULL AND attaches = 0;
END;

-- Attach counts, whatever the order.
CREATE TRIGGER tr_attached_counts_delete AFTER DELETE ON session_events
WHEN OLD.event_type = 'attached' AND (unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) > -1e18
BEGIN
    UPDATE attached_totals SET attaches = attaches - 1 WHERE session_id = OLD.session_id;
    UPDATE attached_days SET n = attached_days.n - 1, a0 = a0 - (x.n = 0), a1 = a1 - (x.n = 1), a2 = a2 - (x.n = 2), a3 = a3 - (x.n = 3), a4 = a4 - (x.n = 4), a5 = a5 - (x.n = 5), a6 = a6 - (x.n = 6), a7 = a7 - (x.n = 7), a8 = a8 - (x.n = 8), a9 = a9 - (x.n = 9), a10 = a10 - (x.n = 10), a11 = a11 - (x.n = 11), a12 = a12 - (x.n = 12), a13 = a13 - (x.n = 13), a14 = a14 - (x.n = 14), a15 = a15 - (x.n = 15), a16 = a16 - (x.n = 16), a17 = a17 - (x.n = 17), a18 = a18 - (x.n = 18), a19 = a19 - (x.n = 19), a20 = a20 - (x.n = 20), a21 = a21 - (x.n = 21), a22 = a22 - (x.n = 22), a23 = a23 - (x.n = 23)
    FROM stats_numbers AS x
    WHERE x.n = (CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) % 86400000000) / 3600000000 AND session_id = OLD.session_id AND day = CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000 AND CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) >= 0
       ;
    DELETE FROM attached_days WHERE session_id = OLD.session_id AND day = CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000 AND n = 0;
    DELETE FROM attached_totals WHERE session_id = OLD.session_id AND first_start IS NULL AND attaches = 0;
END;

CREATE TRIGGER tr_attached_counts_update AFTER UPDATE OF session_id, event_type, timestamp ON session_events
WHEN (OLD.event_type = 'attached' AND (unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) > -1e18) OR (NEW.event_type = 'attached' AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) > -1e18)
BEGIN
    UPDATE attached_totals SET attaches = attaches - 1 WHERE session_id = OLD.session_id AND OLD.event_type = 'attached' AND (unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) > -1e18;
    UPDATE attached_days SET n = attached_days.n - 1, a0 = a0 - (x.n = 0), a1 = a1 - (x.n = 1), a2 = a2 - (x.n = 2), a3 = a3 - (x.n = 3), a4 = a4 - (x.n = 4), a5 = a5 - (x.n = 5), a6 = a6 - (x.n = 6), a7 = a7 - (x.n = 7), a8 = a8 - (x.n = 8), a9 = a9 - (x.n = 9), a10 = a10 - (x.n = 10), a11 = a11 - (x.n = 11), a12 = a12 - (x.n = 12), a13 = a13 - (x.n = 13), a14 = a14 - (x.n = 14), a15 = a15 - (x.n = 15), a16 = a16 - (x.n = 16), a17 = a17 - (x.n = 17), a18 = a18 - (x.n = 18), a19 = a19 - (x.n = 19), a20 = a20 - (x.n = 20), a21 = a21 - (x.n = 21), a22 = a22 - (x.n = 22), a23 = a23 - (x.n = 23)
    FROM stats_numbers AS x
    WHERE x.n = (CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) % 86400000000) / 3600000000 AND session_id = OLD.session_id AND day = CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000 AND CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) >= 0
        AND OLD.event_type = 'attached' AND (unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) > -1e18;
    DELETE FROM attached_days WHERE session_id = OLD.session_id AND day = CAST(round((unixepoch(OLD.timestamp) + CAST(substr(OLD.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000 AND n = 0;
    DELETE FROM attached_totals WHERE session_id = OLD.session_id AND first_start IS NULL AND attaches = 0;
    INSERT INTO attached_totals (session_id, attaches) SELECT NEW.session_id, 1 WHERE NEW.event_type = 'attached' AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) > -1e18 AND EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id)
    ON CONFLICT (session_id) DO UPDATE SET attaches = attaches + 1;
    INSERT INTO attached_days (session_id, day, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    SELECT NEW.session_id, CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000, 1, h.n = 0, h.n = 1, h.n = 2, h.n = 3, h.n = 4, h.n = 5, h.n = 6, h.n = 7, h.n = 8, h.n = 9, h.n = 10, h.n = 11, h.n = 12, h.n = 13, h.n = 14, h.n = 15, h.n = 16, h.n = 17, h.n = 18, h.n = 19, h.n = 20, h.n = 21, h.n = 22, h.n = 23
    FROM stats_numbers AS h WHERE h.n = (CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) % 86400000000) / 3600000000 AND CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) >= 0 AND NEW.event_type = 'attached' AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) > -1e18 AND EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id)
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
END;

-- An event in time order (after every readable attach, detach or end event of its session, by
-- time then id): a few index writes on the set of attached clients and the last island.
CREATE TRIGGER tr_attached_spans_in_order AFTER INSERT ON session_events
WHEN NEW.event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) > -1e18 AND NOT EXISTS (SELECT 1 FROM session_events AS l WHERE l.session_id = NEW.session_id AND l.event_type IN ('attached', 'detached', 'killed', 'vanished') AND ((unixepoch(l.timestamp) + CAST(substr(l.timestamp, 20, 7) AS REAL)) > (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) OR ((unixepoch(l.timestamp) + CAST(substr(l.timestamp, 20, 7) AS REAL)) = (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) AND l.id > NEW.id)))
BEGIN
    INSERT INTO attached_totals (session_id, attaches) SELECT NEW.session_id, 1 WHERE NEW.event_type = 'attached'
    ON CONFLICT (session_id) DO UPDATE SET attaches = attaches + 1;
    INSERT INTO attached_days (session_id, day, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    SELECT NEW.session_id, CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000, 1, h.n = 0, h.n = 1, h.n = 2, h.n = 3, h.n = 4, h.n = 5, h.n = 6, h.n = 7, h.n = 8, h.n = 9, h.n = 10, h.n = 11, h.n = 12, h.n = 13, h.n = 14, h.n = 15, h.n = 16, h.n = 17, h.n = 18, h.n = 19, h.n = 20, h.n = 21, h.n = 22, h.n = 23
    FROM stats_numbers AS h WHERE h.n = (CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) % 86400000000) / 3600000000 AND CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) >= 0 AND NEW.event_type = 'attached'
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
    -- attached: reopen the last island if it ended at this moment (touching stretches join),
    -- else open one if none is open; then count the attach in it and add the client.
    UPDATE attached_spans SET span_end = 1e12
    WHERE NEW.event_type = 'attached' AND session_id = NEW.session_id AND span_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1)
        AND span_end >= (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) AND span_end < 1e12;
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT NEW.session_id, (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)), 1e12, 0, (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL))
    WHERE NEW.event_type = 'attached' AND coalesce((SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1) < 1e12, 1);
    UPDATE attached_spans SET attaches = attaches + 1, last_attach = (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL))
    WHERE NEW.event_type = 'attached' AND session_id = NEW.session_id AND span_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1);
    INSERT INTO attached_clients (session_id, client) SELECT NEW.session_id, CASE NEW.event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') WHEN 'detached' THEN nullif(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') END
    WHERE NEW.event_type = 'attached' ON CONFLICT DO NOTHING;
    -- detached (its client; none: everyone), killed, vanished: the client or everyone leaves;
    -- the island closes when nobody is left.
    DELETE FROM attached_clients WHERE NEW.event_type <> 'attached' AND session_id = NEW.session_id
        AND (client = CASE NEW.event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') WHEN 'detached' THEN nullif(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') END OR CASE NEW.event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') WHEN 'detached' THEN nullif(CASE WHEN json_valid(NEW.data) THEN NEW.data ->> 'client' END, '') END IS NULL);
    UPDATE attached_spans SET span_end = (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL))
    WHERE NEW.event_type <> 'attached' AND session_id = NEW.session_id AND span_start = (SELECT span_start FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1)
        AND span_end = 1e12 AND NOT EXISTS (SELECT 1 FROM attached_clients WHERE session_id = NEW.session_id);
END;

-- An event written late (before another one of its session): 006's partial derivation, from
-- the island it falls in; then the set of clients still attached.
CREATE TRIGGER tr_attached_spans_late AFTER INSERT ON session_events
WHEN NEW.event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) > -1e18 AND EXISTS (SELECT 1 FROM session_events AS l WHERE l.session_id = NEW.session_id AND l.event_type IN ('attached', 'detached', 'killed', 'vanished') AND ((unixepoch(l.timestamp) + CAST(substr(l.timestamp, 20, 7) AS REAL)) > (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) OR ((unixepoch(l.timestamp) + CAST(substr(l.timestamp, 20, 7) AS REAL)) = (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) AND l.id > NEW.id)))
BEGIN
    INSERT INTO attached_totals (session_id, attaches) SELECT NEW.session_id, 1 WHERE NEW.event_type = 'attached'
    ON CONFLICT (session_id) DO UPDATE SET attaches = attaches + 1;
    INSERT INTO attached_days (session_id, day, n, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23)
    SELECT NEW.session_id, CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) / 86400000000, 1, h.n = 0, h.n = 1, h.n = 2, h.n = 3, h.n = 4, h.n = 5, h.n = 6, h.n = 7, h.n = 8, h.n = 9, h.n = 10, h.n = 11, h.n = 12, h.n = 13, h.n = 14, h.n = 15, h.n = 16, h.n = 17, h.n = 18, h.n = 19, h.n = 20, h.n = 21, h.n = 22, h.n = 23
    FROM stats_numbers AS h WHERE h.n = (CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) % 86400000000) / 3600000000 AND CAST(round((unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) * 1e6) AS INTEGER) >= 0 AND NEW.event_type = 'attached'
    ON CONFLICT (day, session_id) DO UPDATE SET n = n + excluded.n,
    s0 = s0 + excluded.s0, s1 = s1 + excluded.s1, s2 = s2 + excluded.s2, s3 = s3 + excluded.s3, s4 = s4 + excluded.s4, s5 = s5 + excluded.s5,
    s6 = s6 + excluded.s6, s7 = s7 + excluded.s7, s8 = s8 + excluded.s8, s9 = s9 + excluded.s9, s10 = s10 + excluded.s10, s11 = s11 + excluded.s11,
    s12 = s12 + excluded.s12, s13 = s13 + excluded.s13, s14 = s14 + excluded.s14, s15 = s15 + excluded.s15, s16 = s16 + excluded.s16, s17 = s17 + excluded.s17,
    s18 = s18 + excluded.s18, s19 = s19 + excluded.s19, s20 = s20 + excluded.s20, s21 = s21 + excluded.s21, s22 = s22 + excluded.s22, s23 = s23 + excluded.s23,
    a0 = a0 + excluded.a0, a1 = a1 + excluded.a1, a2 = a2 + excluded.a2, a3 = a3 + excluded.a3, a4 = a4 + excluded.a4, a5 = a5 + excluded.a5,
    a6 = a6 + excluded.a6, a7 = a7 + excluded.a7, a8 = a8 + excluded.a8, a9 = a9 + excluded.a9, a10 = a10 + excluded.a10, a11 = a11 + excluded.a11,
    a12 = a12 + excluded.a12, a13 = a13 + excluded.a13, a14 = a14 + excluded.a14, a15 = a15 + excluded.a15, a16 = a16 + excluded.a16, a17 = a17 + excluded.a17,
    a18 = a18 + excluded.a18, a19 = a19 + excluded.a19, a20 = a20 + excluded.a20, a21 = a21 + excluded.a21, a22 = a22 + excluded.a22, a23 = a23 + excluded.a23;
    DELETE FROM attached_spans WHERE session_id = NEW.session_id AND span_start >= coalesce(
        (SELECT span_start FROM attached_spans
         WHERE session_id = NEW.session_id AND span_start <= (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL))
         ORDER BY span_start DESC LIMIT 1), -1e18);
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT NEW.session_id, min(s), max(e), count(*), max(s) FROM (
        SELECT s, e, sum(brk) OVER (ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS g FROM (
            SELECT s, e, CASE WHEN s <= max(e) OVER (
                ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS brk FROM (
                SELECT t AS s, min(coalesce(next_same, 1e12), coalesce(next_reset, 1e12)) AS e
                FROM (
                    SELECT t, kind,
                        lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
                        min(t) FILTER (WHERE client IS NULL) OVER (
                            ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
                    FROM (
                        SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                            CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                                WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
                        FROM session_events
                        WHERE session_id = NEW.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > coalesce((SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id
                    ORDER BY span_start DESC LIMIT 1), -1e18)))
                WHERE kind = 'attached')))
    GROUP BY g;
    DELETE FROM attached_clients WHERE session_id = NEW.session_id;
    INSERT INTO attached_clients (session_id, client)
    SELECT DISTINCT NEW.session_id, client FROM (
        SELECT kind, client, lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM (
            SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                    WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
            FROM session_events
            WHERE session_id = NEW.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) >= coalesce((SELECT CASE WHEN span_end = 1e12 THEN span_start END FROM attached_spans WHERE session_id = NEW.session_id ORDER BY span_start DESC LIMIT 1), 1e13)
                AND EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id)))
    WHERE kind = 'attached' AND next_same IS NULL AND next_reset IS NULL;
END;

-- An update or delete: the set of clients from all the session's events (006's
-- triggers derive its islands again).
CREATE TRIGGER tr_attached_state_delete AFTER DELETE ON session_events
WHEN OLD.event_type IN ('attached', 'detached', 'killed', 'vanished')
BEGIN
    DELETE FROM attached_clients WHERE session_id = OLD.session_id;
    INSERT INTO attached_clients (session_id, client)
    SELECT DISTINCT OLD.session_id, client FROM (
        SELECT kind, client, lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM (
            SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                    WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
            FROM session_events
            WHERE session_id = OLD.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) >= -1e18
                AND EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id)))
    WHERE kind = 'attached' AND next_same IS NULL AND next_reset IS NULL;
END;

CREATE TRIGGER tr_attached_state_update AFTER UPDATE OF session_id, event_type, timestamp, data ON session_events
WHEN OLD.event_type IN ('attached', 'detached', 'killed', 'vanished') OR NEW.event_type IN ('attached', 'detached', 'killed', 'vanished')
BEGIN
    DELETE FROM attached_clients WHERE session_id = OLD.session_id;
    INSERT INTO attached_clients (session_id, client)
    SELECT DISTINCT OLD.session_id, client FROM (
        SELECT kind, client, lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM (
            SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                    WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
            FROM session_events
            WHERE session_id = OLD.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) >= -1e18
                AND EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id)))
    WHERE kind = 'attached' AND next_same IS NULL AND next_reset IS NULL;
    DELETE FROM attached_clients WHERE session_id = NEW.session_id;
    INSERT INTO attached_clients (session_id, client)
    SELECT DISTINCT NEW.session_id, client FROM (
        SELECT kind, client, lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
            min(t) FILTER (WHERE client IS NULL) OVER (
                ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
        FROM (
            SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                    WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
            FROM session_events
            WHERE session_id = NEW.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) >= -1e18
                AND EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id)))
    WHERE kind = 'attached' AND next_same IS NULL AND next_reset IS NULL;
END;

CREATE TRIGGER tr_attached_totals_session_delete AFTER DELETE ON sessions
BEGIN
    DELETE FROM attached_totals WHERE session_id = OLD.id;
    DELETE FROM attached_clients WHERE session_id = OLD.id;
    DELETE FROM attached_days WHERE session_id = OLD.id;
END;

DROP TRIGGER tr_attached_spans_insert;

-- DOWN
DROP TRIGGER tr_attached_totals_session_delete;
DROP TRIGGER tr_attached_state_update;
DROP TRIGGER tr_attached_state_delete;
DROP TRIGGER tr_attached_spans_late;
DROP TRIGGER tr_attached_spans_in_order;
DROP TRIGGER tr_attached_counts_update;
DROP TRIGGER tr_attached_counts_delete;
DROP TRIGGER tr_attached_totals_span_delete;
DROP TRIGGER tr_attached_totals_span_update;
DROP TRIGGER tr_attached_totals_span_insert;
DROP TABLE attached_days;
DROP TABLE attached_clients;
DROP TABLE attached_totals;
DROP TABLE stats_numbers;
-- 006's insert trigger, as 006 created it.
CREATE TRIGGER tr_attached_spans_insert AFTER INSERT ON session_events
WHEN NEW.event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL)) IS NOT NULL
BEGIN
    DELETE FROM attached_spans WHERE session_id = NEW.session_id AND span_start >= coalesce(
        (SELECT span_start FROM attached_spans
         WHERE session_id = NEW.session_id AND span_start <= (unixepoch(NEW.timestamp) + CAST(substr(NEW.timestamp, 20, 7) AS REAL))
         ORDER BY span_start DESC LIMIT 1), -1e18);
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT NEW.session_id, min(s), max(e), count(*), max(s) FROM (
        SELECT s, e, sum(brk) OVER (ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS g FROM (
            SELECT s, e, CASE WHEN s <= max(e) OVER (
                ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS brk FROM (
                SELECT t AS s, min(coalesce(next_same, 1e12), coalesce(next_reset, 1e12)) AS e
                FROM (
                    SELECT t, kind,
                        lead(t) OVER (PARTITION BY client ORDER BY t, id) AS next_same,
                        min(t) FILTER (WHERE client IS NULL) OVER (
                            ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
                    FROM (
                        SELECT id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                            CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                                WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
                        FROM session_events
                        WHERE session_id = NEW.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > coalesce((SELECT span_end FROM attached_spans WHERE session_id = NEW.session_id
                    ORDER BY span_start DESC LIMIT 1), -1e18)))
                WHERE kind = 'attached')))
    GROUP BY g;
END;
