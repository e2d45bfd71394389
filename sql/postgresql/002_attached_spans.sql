-- 002_attached_spans (PostgreSQL): the attached time of every session, kept as it happens.
--
-- What sql/006_attached_spans.sql is to SQLite, for `ccmgr-watch stats` on PostgreSQL (docs/stats.md
-- "How it is computed", docs/postgresql.md "stats"): attached_spans holds per session its
-- **islands**, the maximal stretches during which at least one client was attached, before any
-- clipping (start and end in epoch seconds with microseconds, end 1e12 while a client is still
-- attached after the last event), the number of attach events in each and the time of the last.
-- Deriving them from the events at every `stats` run was measured at 24-35 s over 1 M events
-- (window functions over ~660,000 attach, detach and end events, and their timestamps read from
-- text); read from this table the same statement takes a fraction of a second.
--
-- ccmgr_epoch(text): stored timestamp text as epoch seconds with its fraction, exactly as
-- SQLite's `unixepoch(t) + CAST(substr(t, 20, 7) AS REAL)` reads it (store/stats.py), NULL
-- where SQLite gives NULL (a cast would raise instead): the stored form by position, through
-- make_timestamp (immutable, so the function is inlined and indexable; ~1 us a row), anything
-- else through ccmgr_epoch_text (slow: regular expressions), which follows SQLite's date.c (a 30th of February is the 2nd of March, hour
-- 24 is midnight after, seconds rounded to the millisecond before the whole seconds are taken).
-- SQLite also reads a bare time, a Julian day number and 'now': no ccmgr-watch path stores
-- those, and here they are NULL.
--
-- Triggers keep the table current whichever path writes the events (the watcher, `db copy`,
-- import, revive). They are statement-level with transition tables: `db copy` merges 20,000
-- events in one INSERT ... SELECT, and the islands of the sessions it touched are derived once
-- for the statement, not once per row. After an INSERT, per touched session, from the island
-- that starts last at or before the earliest new attach/detach/killed/vanished event (the set
-- of clients is empty at an island's start, so nothing before it matters): delete it and every
-- later island, derive them again from the events after the end of the island before them
-- (usually the current island and the new event: a few rows through
-- ix_session_events_attach). Exact for events written out of time order too. After an UPDATE or
-- DELETE, the touched sessions' islands are derived again from all their events; deleting a
-- session removes its islands (the foreign key).

-- UP
CREATE FUNCTION ccmgr_epoch_text(value text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m text[];
    y int; mo int; d int; hh int; mi int; ss int; frac double precision;
    yy int; era int; yoe int; doy int; days bigint; tz int := 0; prefix text[];
BEGIN
    m := regexp_match(value,
        '^(-?)([0-9]{4})-([0-9]{2})-([0-9]{2})'
        '(?:[ T]+([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?)?'
        ' *(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))? *$');
    IF m IS NULL THEN
        RETURN NULL;
    END IF;
    y := m[2]::int * CASE WHEN m[1] = '-' THEN -1 ELSE 1 END;
    mo := m[3]::int; d := m[4]::int;
    hh := coalesce(m[5]::int, 0); mi := coalesce(m[6]::int, 0); ss := coalesce(m[7]::int, 0);
    frac := coalesce(('0.' || m[8])::double precision, 0.0);
    IF mo NOT BETWEEN 1 AND 12 OR d NOT BETWEEN 1 AND 31 OR hh > 24 OR mi > 59 OR ss > 59 THEN
        RETURN NULL;
    END IF;
    IF m[10] IS NOT NULL THEN
        IF m[10]::int > 14 OR m[11]::int > 59 THEN
            RETURN NULL;
        END IF;
        tz := (m[10]::int * 3600 + m[11]::int * 60) * CASE WHEN m[9] = '-' THEN -1 ELSE 1 END;
    END IF;
    -- Days from the civil date (H. Hinnant's days_from_civil; linear in the day, as SQLite).
    yy := y - CASE WHEN mo <= 2 THEN 1 ELSE 0 END;
    era := floor(yy / 400.0)::int;
    yoe := yy - era * 400;
    doy := (153 * mod(mo + 9, 12) + 2) / 5 + d - 1;
    days := era::bigint * 146097 + (yoe * 365 + yoe / 4 - yoe / 100 + doy) - 719468;
    -- SQLite keeps milliseconds: .9995 s rounds up into the next whole second.
    prefix := regexp_match(substr(value, 20, 7), '^ *([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)');
    RETURN days * 86400 + hh * 3600 + mi * 60 + floor(floor((ss + frac) * 1000 + 0.5) / 1000) - tz
        + coalesce(prefix[1]::double precision, 0.0);
END
$$;

CREATE FUNCTION ccmgr_epoch(value text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- The stored form without a regular expression (PostgreSQL's cost ~4 us a row): its shape
    -- by translate, its fields by position; the day and the hour are added linearly.
    SELECT CASE
        WHEN length(value) = 27
            AND translate(value, '123456789', '000000000') = '0000-00-00T00:00:00.000000Z'
        THEN CASE WHEN substr(value, 1, 4)::int > 0 AND substr(value, 6, 2)::int BETWEEN 1 AND 12
                AND substr(value, 9, 2)::int BETWEEN 1 AND 31 AND substr(value, 12, 2)::int <= 24
                AND substr(value, 15, 2)::int <= 59 AND substr(value, 18, 2)::int <= 59
            THEN date_part('epoch', make_timestamp(substr(value, 1, 4)::int,
                    substr(value, 6, 2)::int, 1, 0, 0, 0))
                + (substr(value, 9, 2)::int - 1) * 86400 + substr(value, 12, 2)::int * 3600
                + substr(value, 15, 2)::int * 60
                + floor(floor((substr(value, 18, 2)::int
                    + ('0' || substr(value, 20, 7))::double precision) * 1000 + 0.5) / 1000)
                + substr(value, 20, 7)::double precision END
        ELSE ccmgr_epoch_text(value) END
$$;

CREATE TABLE attached_spans (
    session_id  text COLLATE "C" NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    span_start  double precision NOT NULL,
    span_end    double precision NOT NULL,
    attaches    integer NOT NULL,
    last_attach double precision NOT NULL,
    PRIMARY KEY (session_id, span_start)
);

-- Each event's and session's times as epoch seconds, computed once as they are written (reading
-- them from the text costs ~6-10 us each: seconds at every `stats --by day` over a year of
-- attaches, 0.3 s for the times of 10,000 sessions).
ALTER TABLE session_events
    ADD COLUMN epoch double precision GENERATED ALWAYS AS (ccmgr_epoch(timestamp)) STORED;
ALTER TABLE sessions
    ADD COLUMN created_epoch double precision GENERATED ALWAYS AS (ccmgr_epoch(created_at)) STORED,
    ADD COLUMN ended_epoch double precision GENERATED ALWAYS AS (ccmgr_epoch(ended_at)) STORED,
    ADD COLUMN last_access_epoch double precision
        GENERATED ALWAYS AS (ccmgr_epoch(last_access)) STORED;

-- One session's attach, detach and end events in time order, from a given time.
CREATE INDEX ix_session_events_attach ON session_events (session_id, epoch)
    WHERE event_type IN ('attached', 'detached', 'killed', 'vanished');

-- The islands of the sessions `ids` from their events after `afters` (epoch seconds): the
-- derivation of docs/stats.md. Per attach, its client's span, until the client's next event or
-- the next event that empties the set (a client-less detach, killed, vanished), whichever is
-- first; then the union of a session's spans as islands (touching spans join).
-- plpgsql, not sql, and a generic plan: its statement's plan is kept between calls (a sql
-- function is planned at every call: the trigger took ~2.5 ms an event that way, ~1 ms so).
CREATE FUNCTION ccmgr_derive_spans(ids text[], afters double precision[])
RETURNS TABLE (session_id text, span_start double precision, span_end double precision,
               attaches integer, last_attach double precision)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
    SELECT sid, min(s), max(e), count(*)::int, max(s) FROM (
        SELECT sid, s, e, sum(brk) OVER (PARTITION BY sid ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS g FROM (
            SELECT sid, s, e, CASE WHEN s <= max(e) OVER (PARTITION BY sid ORDER BY s, e
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS brk FROM (
                SELECT sid, t AS s, least(coalesce(next_same, 1e12), coalesce(next_reset, 1e12)) AS e FROM (
                    SELECT sid, t, kind,
                        lead(t) OVER (PARTITION BY sid, client ORDER BY t, id) AS next_same,
                        min(t) FILTER (WHERE client IS NULL) OVER (
                            PARTITION BY sid ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
                    FROM (
                        SELECT x.session_id AS sid, x.id, x.event_type AS kind,
                            x.epoch AS t,
                            CASE x.event_type
                                WHEN 'attached' THEN coalesce(CASE WHEN json_typeof(x.data) = 'object' THEN x.data ->> 'client' END, '')
                                WHEN 'detached' THEN nullif(CASE WHEN json_typeof(x.data) = 'object' THEN x.data ->> 'client' END, '') END AS client
                        FROM unnest(ids, afters) AS f (sid, after)
                            JOIN session_events AS x ON x.session_id = f.sid
                        WHERE x.event_type IN ('attached', 'detached', 'killed', 'vanished')
                            AND x.epoch > f.after) AS ev) AS ordered
                WHERE kind = 'attached') AS spans) AS breaks) AS grouped
    GROUP BY sid, g;
END
$$;

-- Events added: each touched session's islands from the one the earliest new event falls in.
CREATE FUNCTION ccmgr_spans_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
    starts double precision[];
BEGIN
    SELECT array_agg(n.session_id), array_agg(n.t) INTO ids, starts FROM (
        SELECT new_rows.session_id, min(new_rows.epoch) AS t FROM new_rows
        WHERE new_rows.event_type IN ('attached', 'detached', 'killed', 'vanished')
        GROUP BY new_rows.session_id) AS n
    WHERE n.t IS NOT NULL;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM attached_spans AS a USING unnest(ids, starts) AS f (sid, t)
    WHERE a.session_id = f.sid AND a.span_start >= coalesce(
        (SELECT b.span_start FROM attached_spans AS b
         WHERE b.session_id = f.sid AND b.span_start <= f.t ORDER BY b.span_start DESC LIMIT 1),
        -1e18);
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT * FROM ccmgr_derive_spans(ids, ARRAY(
        SELECT coalesce((SELECT b.span_end FROM attached_spans AS b WHERE b.session_id = f.sid
                         ORDER BY b.span_start DESC LIMIT 1), -1e18)
        FROM unnest(ids) WITH ORDINALITY AS f (sid, i) ORDER BY f.i));
    RETURN NULL;
END
$$;

-- Events changed or removed: the touched sessions' islands from all their events.
CREATE FUNCTION ccmgr_spans_rederive(ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM attached_spans WHERE attached_spans.session_id = ANY (ids);
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT d.* FROM ccmgr_derive_spans(ids, array_fill(-1e18::double precision, ARRAY[cardinality(ids)])) AS d
    WHERE EXISTS (SELECT 1 FROM sessions WHERE sessions.id = d.session_id);
END
$$;

CREATE FUNCTION ccmgr_spans_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ccmgr_spans_rederive(ARRAY(
        SELECT DISTINCT old_rows.session_id FROM old_rows
        WHERE old_rows.event_type IN ('attached', 'detached', 'killed', 'vanished')));
    RETURN NULL;
END
$$;

CREATE FUNCTION ccmgr_spans_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ccmgr_spans_rederive(ARRAY(
        SELECT old_rows.session_id FROM old_rows
        WHERE old_rows.event_type IN ('attached', 'detached', 'killed', 'vanished')
        UNION SELECT new_rows.session_id FROM new_rows
        WHERE new_rows.event_type IN ('attached', 'detached', 'killed', 'vanished')));
    RETURN NULL;
END
$$;

CREATE TRIGGER tr_attached_spans_insert AFTER INSERT ON session_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ccmgr_spans_after_insert();
CREATE TRIGGER tr_attached_spans_delete AFTER DELETE ON session_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ccmgr_spans_after_delete();
CREATE TRIGGER tr_attached_spans_update AFTER UPDATE ON session_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ccmgr_spans_after_update();

-- The islands of every session recorded so far.
INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
SELECT * FROM ccmgr_derive_spans(
    ARRAY(SELECT id FROM sessions ORDER BY id),
    array_fill(-1e18::double precision, ARRAY[(SELECT count(*) FROM sessions)::int]));

-- DOWN
DROP TRIGGER tr_attached_spans_update ON session_events;
DROP TRIGGER tr_attached_spans_delete ON session_events;
DROP TRIGGER tr_attached_spans_insert ON session_events;
DROP FUNCTION ccmgr_spans_after_update();
DROP FUNCTION ccmgr_spans_after_delete();
DROP FUNCTION ccmgr_spans_rederive(text[]);
DROP FUNCTION ccmgr_spans_after_insert();
DROP FUNCTION ccmgr_derive_spans(text[], double precision[]);
DROP INDEX ix_session_events_attach;
ALTER TABLE session_events DROP COLUMN epoch;
ALTER TABLE sessions DROP COLUMN created_epoch, DROP COLUMN ended_epoch,
    DROP COLUMN last_access_epoch;
DROP TABLE attached_spans;
DROP FUNCTION ccmgr_epoch(text);
DROP FUNCTION ccmgr_epoch_text(text);
