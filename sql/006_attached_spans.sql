-- 006_attached_spans: the attached time of every session, kept as it happens.
--
-- `ccmgr-watch stats` over a whole history used to derive attached time from every attach,
-- detach and end event at each run (three sorted passes over ~660,000 events at 1 M events:
-- 12.6 s). attached_spans holds the result of that derivation (docs/stats.md, "Definitions"),
-- per session: its **islands**, the maximal stretches during which at least one client was
-- attached, before any clipping. A row: the island's start and end (epoch seconds with
-- microseconds, end 1e12 while a client is still attached after the session's last event),
-- the number of attach events in it (every readable attach lies in exactly one island: an
-- attach immediately followed by its detach makes an island of length 0) and the time of its
-- last attach. Clipping to the session's life (created_at, and ended_at, now or last_access for
-- an island still open) and to a window happens when reading: those change without events.
--
-- Triggers keep the table current on every insert, update and delete of an attach, detach,
-- killed or vanished event, whichever path writes it (the watcher, import, revive). Islands
-- are separated by time without any client, so the set of attached clients is empty at an
-- island's start and what happens before it has no effect after it. An inserted event at time
-- T therefore only changes the island that starts last at or before T and those after it: the
-- insert trigger deletes those and derives them again from the events after the end of the
-- island before them (usually the last island and the event's own attach: a few events, read
-- through ix_session_events_attach). This is exact for events inserted out of time order too.
-- Both bounds are found through the primary key (the last island by start is the one that ends
-- last: islands do not overlap), so the cost does not grow with the session's history.
-- An update or delete derives the session's islands again from all its events.
-- The backfill below is the same derivation over every session.

-- UP
CREATE TABLE attached_spans (
    session_id  TEXT NOT NULL,
    span_start  REAL NOT NULL,
    span_end    REAL NOT NULL,
    attaches    INTEGER NOT NULL,
    last_attach REAL NOT NULL,
    PRIMARY KEY (session_id, span_start)
) WITHOUT ROWID;

-- One session's attach, detach and end events in time order, from a given time.
CREATE INDEX ix_session_events_attach
    ON session_events (session_id, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)))
    WHERE event_type IN ('attached', 'detached', 'killed', 'vanished');

INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT session_id, min(s), max(e), count(*), max(s) FROM (
        SELECT session_id, s, e, sum(brk) OVER (PARTITION BY session_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS g FROM (
            SELECT session_id, s, e, CASE WHEN s <= max(e) OVER (
                PARTITION BY session_id ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS brk FROM (
                SELECT session_id, t AS s, min(coalesce(next_same, 1e12), coalesce(next_reset, 1e12)) AS e
                FROM (
                    SELECT session_id, t, kind,
                        lead(t) OVER (PARTITION BY session_id, client ORDER BY t, id) AS next_same,
                        min(t) FILTER (WHERE client IS NULL) OVER (
                            PARTITION BY session_id ORDER BY t DESC, id DESC ROWS UNBOUNDED PRECEDING) AS next_reset
                    FROM (
                        SELECT session_id, id, event_type AS kind, (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) AS t,
                            CASE event_type WHEN 'attached' THEN coalesce(CASE WHEN json_valid(data) THEN data ->> 'client' END, '')
                                WHEN 'detached' THEN nullif(CASE WHEN json_valid(data) THEN data ->> 'client' END, '') END AS client
                        FROM session_events
                        WHERE event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > -1e18))
                WHERE kind = 'attached')))
    GROUP BY session_id, g;

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

CREATE TRIGGER tr_attached_spans_delete AFTER DELETE ON session_events
WHEN OLD.event_type IN ('attached', 'detached', 'killed', 'vanished')
BEGIN
    DELETE FROM attached_spans WHERE session_id = OLD.session_id;
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT OLD.session_id, min(s), max(e), count(*), max(s) FROM (
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
                        WHERE session_id = OLD.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > -1e18))
                WHERE kind = 'attached')))
    GROUP BY g HAVING EXISTS (SELECT 1 FROM sessions WHERE id = OLD.session_id);
END;

CREATE TRIGGER tr_attached_spans_update AFTER UPDATE OF session_id, event_type, timestamp, data
ON session_events
WHEN OLD.event_type IN ('attached', 'detached', 'killed', 'vanished') OR NEW.event_type IN ('attached', 'detached', 'killed', 'vanished')
BEGIN
    DELETE FROM attached_spans WHERE session_id = OLD.session_id;
    INSERT INTO attached_spans (session_id, span_start, span_end, attaches, last_attach)
    SELECT OLD.session_id, min(s), max(e), count(*), max(s) FROM (
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
                        WHERE session_id = OLD.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > -1e18))
                WHERE kind = 'attached')))
    GROUP BY g;
    DELETE FROM attached_spans WHERE session_id = NEW.session_id;
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
                        WHERE session_id = NEW.session_id AND event_type IN ('attached', 'detached', 'killed', 'vanished') AND (unixepoch(timestamp) + CAST(substr(timestamp, 20, 7) AS REAL)) > -1e18))
                WHERE kind = 'attached')))
    GROUP BY g;
END;

CREATE TRIGGER tr_attached_spans_session_delete AFTER DELETE ON sessions
BEGIN
    DELETE FROM attached_spans WHERE session_id = OLD.id;
END;

-- DOWN
DROP TRIGGER tr_attached_spans_session_delete;
DROP TRIGGER tr_attached_spans_update;
DROP TRIGGER tr_attached_spans_delete;
DROP TRIGGER tr_attached_spans_insert;
DROP INDEX ix_session_events_attach;
DROP TABLE attached_spans;
