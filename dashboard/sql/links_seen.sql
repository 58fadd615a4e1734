-- Run by links.seen(): the UTM values a site has received (bots left out), with how many events
-- carried each spelling, for the link builder's suggestions and its list of look-alike spellings
-- (event_log rather than the `events` view: see overview_counts.sql).
WITH tagged AS (
    SELECT utm_source, utm_medium, utm_campaign
    FROM event_log
    WHERE coalesce(utm_source, utm_medium, utm_campaign) IS NOT NULL
      AND ($site IS NULL OR site = $site)
      AND NOT wl_is_bot(is_bot, bot_reason, origin)
)
SELECT param, value, count(*) AS events
FROM (
    SELECT 'utm_source' AS param, utm_source AS value FROM tagged
    UNION ALL SELECT 'utm_medium', utm_medium FROM tagged
    UNION ALL SELECT 'utm_campaign', utm_campaign FROM tagged
)
WHERE value IS NOT NULL
GROUP BY param, value
ORDER BY param, events DESC, value
LIMIT 3000;
