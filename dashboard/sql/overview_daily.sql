-- Run by overview.daily(): one row per day of the period (days of time zone $tz, so that they match the
-- reports' `from`/`to`), days without traffic included, over the documented `events` view.
WITH days AS (
    SELECT CAST(d AS DATE) AS day
    FROM range(CAST($first AS TIMESTAMP), CAST($last AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)
),
counts AS (
    SELECT CAST(timezone($tz, timezone('UTC', ts)) AS DATE) AS day,
           count(DISTINCT visitor_id) AS visitors,
           count(*) FILTER (WHERE type = 'pageview') AS pageviews,
           count(*) FILTER (WHERE type = 'conversion') AS conversions
    FROM events
    WHERE NOT is_bot AND ts >= $start AND ts < $end
      AND ($site IS NULL OR site = $site)
    GROUP BY day
)
SELECT days.day,
       coalesce(counts.visitors, 0) AS visitors,
       coalesce(counts.pageviews, 0) AS pageviews,
       coalesce(counts.conversions, 0) AS conversions
FROM days LEFT JOIN counts USING (day)
ORDER BY days.day;
