-- Run by data.names(): the most frequent paths, conversion names and event names of the period, to
-- suggest funnel steps and leads filters (event_log rather than the `events` view: see
-- overview_counts.sql).
SELECT kind, value
FROM (
    SELECT type AS kind, CASE WHEN type = 'pageview' THEN path ELSE name END AS value, count(*) AS n
    FROM event_log
    WHERE ts >= $start AND ts < $end
      AND ($site IS NULL OR site = $site)
      AND type IN ('pageview', 'conversion', 'event')
      AND NOT wl_is_bot(is_bot, bot_reason, origin)
    GROUP BY ALL
)
WHERE value IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY kind ORDER BY n DESC, value) <= 40
ORDER BY kind, n DESC, value;
