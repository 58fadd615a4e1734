-- Run by funnel page: the most visited paths and the conversion and event names of the site, to
-- suggest step patterns.
SELECT kind, value
FROM (
    SELECT CASE type WHEN 'pageview' THEN 'pageview' WHEN 'conversion' THEN 'conversion' ELSE 'event' END AS kind,
           CASE WHEN type = 'pageview' THEN path ELSE name END AS value,
           count(*) AS n
    FROM events
    WHERE NOT is_bot AND ($site IS NULL OR site = $site)
      AND ts >= $start AND ts < $end
      AND (CASE WHEN type = 'pageview' THEN path ELSE name END) IS NOT NULL
    GROUP BY ALL
)
QUALIFY row_number() OVER (PARTITION BY kind ORDER BY n DESC, value) <= 40
ORDER BY kind, n DESC, value;
