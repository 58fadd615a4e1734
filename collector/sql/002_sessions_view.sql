-- Migration 2 (owned by the analytics): the `events` view gets a real session_id. Sessions live in the
-- derived table `sessions`, which the analytics drop and rebuild from event_log whenever their version
-- changes (analytics/sessions.py); this migration only creates a placeholder so that the view binds.
-- An event belongs to the latest session of its visitor that started at or before it (an ASOF join).
CREATE TABLE IF NOT EXISTS sessions (
    site       VARCHAR NOT NULL,
    visitor_id VARCHAR NOT NULL,
    session_id VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL
);

CREATE OR REPLACE VIEW events AS
SELECT e.event_id, e.ts, e.received_at, e.site, e.type, e.name, e.visitor_id,
       s.session_id,
       e.url, e.path, e.referrer, e.referrer_domain,
       e.utm_source, e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.utm_id,
       e.click_id, e.click_id_type, e.props,
       e.browser, e.browser_version, e.os, e.device, e.country, e.region, e.city, e.is_bot, e.origin
FROM event_log e
ASOF LEFT JOIN sessions s
    ON e.site = s.site AND e.visitor_id = s.visitor_id AND e.ts >= s.started_at;
