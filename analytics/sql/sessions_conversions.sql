-- Run by sessions._build(), first: the conversions of the events in wl_scope with their status, into the
-- derived table (sessions_build.sql then counts the accepted ones per session).
-- - The form plugin's verdict: the latest status event naming the conversion (props.of = its event_id),
--   else 'submitted', within the scope of its event id (same site, same way in: wl_way). A verdict may
--   come under another visitor id (the daily hash changed between the submission and the verdict):
--   sessions_scope_todo.sql brings the conversion's visitor into scope.
-- - The collector's own signals, for live events only (origin beacon or pixel; imports and API events
--   are exempt), read as 'spam' with a reason unless the plugin already rejected the conversion:
--   no pageview of the visitor in the 30 minutes before (a form posted by a script that never loaded a
--   page), and more than 5 conversions of the visitor within 10 minutes (the sixth on). A consent-free
--   visitor's first 30 minutes of a UTC day are not checked for the pageview: the page may have been
--   counted under yesterday's hash.
INSERT INTO conversions
WITH conv AS (
    SELECT arrival, event_id, site, visitor_id, ts, received_at, name, props, origin, wl_way(origin) AS way,
           wl_is_bot(is_bot, bot_reason, origin) AS is_bot,
           origin IN ('beacon', 'pixel') AS checked,
           visitor_kind = 'hash' AND ts - date_trunc('day', ts) < INTERVAL 30 MINUTE AS after_midnight
    FROM wl_scope
    WHERE type = 'conversion'
),
verdicts AS (
    SELECT v.site, wl_way(v.origin) AS way, json_extract_string(v.props, '$.of') AS conversion_id,
           v.name AS verdict
    FROM event_log v
    SEMI JOIN conv c ON c.site = v.site AND c.way = wl_way(v.origin)
                    AND c.event_id = json_extract_string(v.props, '$.of')
    WHERE v.type = 'status'
    QUALIFY row_number() OVER (PARTITION BY v.site, wl_way(v.origin), json_extract_string(v.props, '$.of')
                               ORDER BY v.ts DESC, v.received_at DESC, v.rowid DESC) = 1
),
pageviews AS (
    SELECT site, visitor_id, ts FROM wl_scope WHERE type = 'pageview'
),
signals AS (
    SELECT c.*,
           c.checked AND NOT c.after_midnight
               AND (p.ts IS NULL OR c.ts - p.ts > INTERVAL 30 MINUTE) AS no_pageview,
           c.checked AND c.ts - lag(c.ts, 5) OVER (PARTITION BY c.site, c.visitor_id, c.checked
                                                   ORDER BY c.ts, c.received_at, c.arrival)
                         <= INTERVAL 10 MINUTE AS burst
    FROM conv c
    ASOF LEFT JOIN pageviews p ON p.site = c.site AND p.visitor_id = c.visitor_id AND c.ts >= p.ts
)
SELECT s.event_id, s.site, s.visitor_id, s.ts, s.name, s.props, s.is_bot,
       CASE WHEN v.verdict NOT IN ('submitted', 'sent') THEN v.verdict
            WHEN s.no_pageview OR s.burst THEN 'spam'
            ELSE coalesce(v.verdict, 'submitted') END AS status,
       CASE WHEN v.verdict NOT IN ('submitted', 'sent') THEN NULL
            WHEN s.no_pageview THEN 'no pageview in the 30 minutes before'
            WHEN s.burst THEN 'more than 5 conversions in 10 minutes'
       END AS status_reason,
       s.origin
FROM signals s
LEFT JOIN verdicts v ON v.site = s.site AND v.way = s.way AND v.conversion_id = s.event_id;
