-- Run by reports.attribution(model='markov') after journeys.sql: first-order transition counts between
-- the values of {dimension} (from an allow-list), over
--  - converting journeys: (start) -> touches in the lookback window -> (conversion), one per conversion;
--  - journeys that did not convert: for each visitor whose last touch falls in range, the touches in the
--    lookback window before that last touch and after the visitor's last conversion -> (null).
, converting AS (
    SELECT CASE WHEN i = 1 THEN '(start)' ELSE lag({dimension}) OVER (PARTITION BY conversion_id ORDER BY i) END
               AS src,
           {dimension} AS dst
    FROM numbered
    UNION ALL
    SELECT {dimension} AS src, '(conversion)' AS dst FROM numbered WHERE i = n
),
last_conversions AS (
    SELECT site, visitor_id, max(ts) AS last_converted_at
    FROM conversions
    WHERE ($site IS NULL OR site = $site) AND ($conversion IS NULL OR name = $conversion)
      AND ($include_bots OR NOT is_bot)
      AND ($include_rejected OR status IN ('submitted', 'sent'))
    GROUP BY site, visitor_id
),
open_touches AS (
    SELECT s.{dimension} AS value, s.previous.{dimension} AS previous_value, s.started_at, s.prev_touch_at,
           s.is_last_touch,
           greatest(s.last_touch_at - to_days(CAST($lookback AS INTEGER)),
                    coalesce(lc.last_converted_at + INTERVAL 1 MICROSECOND, s.last_touch_at - to_days(CAST($lookback AS INTEGER))))
               AS path_from
    FROM sessions s
    LEFT JOIN last_conversions lc ON lc.site = s.site AND lc.visitor_id = s.visitor_id
    WHERE s.is_touch
      AND ($start IS NULL OR s.last_touch_at >= $start) AND ($end IS NULL OR s.last_touch_at < $end)
      AND ($site IS NULL OR s.site = $site)
      AND ($include_bots OR NOT s.is_bot)
      AND (lc.last_converted_at IS NULL OR s.last_touch_at > lc.last_converted_at)
),
not_converting AS (
    SELECT CASE WHEN prev_touch_at >= path_from THEN previous_value ELSE '(start)' END AS src, value AS dst
    FROM open_touches
    WHERE started_at >= path_from
    UNION ALL
    SELECT value AS src, '(null)' AS dst FROM open_touches WHERE is_last_touch
)
SELECT src, dst, count(*) AS transitions
FROM (SELECT * FROM converting UNION ALL SELECT * FROM not_converting)
GROUP BY src, dst;
