-- Run by sessions._changed_visitors() when event_log changed behind our back (another process wrote,
-- or events were purged): the visitors whose events no longer match their sessions, into wl_todo.
CREATE OR REPLACE TEMP TABLE wl_todo AS
WITH current AS (
    SELECT site, visitor_id, count(*) AS events, max(received_at) AS last_received_at
    FROM event_log GROUP BY site, visitor_id
),
derived AS (
    SELECT site, visitor_id, sum(events) AS events, max(last_received_at) AS last_received_at
    FROM sessions GROUP BY site, visitor_id
)
SELECT coalesce(c.site, d.site) AS site, coalesce(c.visitor_id, d.visitor_id) AS visitor_id
FROM current c
FULL OUTER JOIN derived d ON c.site = d.site AND c.visitor_id = d.visitor_id
WHERE c.events IS DISTINCT FROM d.events OR c.last_received_at IS DISTINCT FROM d.last_received_at;
