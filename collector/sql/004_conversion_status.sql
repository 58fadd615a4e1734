-- Migration 4 (owned by the analytics, as migration 2): the `events` view gets `status` and
-- `status_reason` on conversions. A form plugin's verdict is an event of its own (type 'status', the word
-- as name, the conversion's event_id as props.of): nothing is rewritten. The analytics derive each
-- conversion's status (its latest verdict, else 'submitted'; or 'spam' from the collector's own signals,
-- with a reason) into the derived table `conversions`, which they drop and rebuild whenever its version
-- changes (analytics/sessions.py); this migration only makes sure the columns exist so that the view
-- binds before the analytics first run. Other events have a NULL status.
CREATE TABLE IF NOT EXISTS conversions (
    conversion_id VARCHAR NOT NULL,
    site          VARCHAR NOT NULL,
    visitor_id    VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,
    name          VARCHAR,
    props         VARCHAR,
    is_bot        BOOLEAN NOT NULL
);
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS status_reason VARCHAR;
ALTER TABLE conversions ADD COLUMN IF NOT EXISTS origin VARCHAR;

CREATE OR REPLACE VIEW events AS
SELECT e.event_id, e.ts, e.received_at, e.site, e.type, e.name, e.visitor_id,
       s.session_id,
       e.url, e.path, e.referrer, e.referrer_domain,
       e.utm_source, e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.utm_id,
       e.click_id, e.click_id_type, e.props,
       e.browser, e.browser_version, e.os, e.device, e.country, e.region, e.city, e.is_bot, e.origin,
       CASE WHEN e.type = 'conversion' THEN coalesce(c.status, 'submitted') END AS status,
       CASE WHEN e.type = 'conversion' THEN c.status_reason END AS status_reason
FROM event_log e
ASOF LEFT JOIN sessions s
    ON e.site = s.site AND e.visitor_id = s.visitor_id AND e.ts >= s.started_at
-- Equality only in the ON: a condition on one side there (e.type) turns DuckDB's hash join into a nested
-- loop; the CASEs above keep the status to conversions.
LEFT JOIN conversions c
    ON c.site = e.site AND c.conversion_id = e.event_id AND c.origin = e.origin;
