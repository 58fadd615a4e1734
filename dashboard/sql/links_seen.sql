-- Run by links.seen(): the UTM values a site has received (bots left out), with how many events
-- carried each spelling, for the link builder's suggestions and its list of look-alike spellings.
SELECT param, value, count(*) AS events, max(ts) AS last_seen
FROM (
    SELECT ts, 'utm_source' AS param, utm_source AS value FROM events
    WHERE utm_source IS NOT NULL AND NOT is_bot AND ($site IS NULL OR site = $site)
    UNION ALL
    SELECT ts, 'utm_medium', utm_medium FROM events
    WHERE utm_medium IS NOT NULL AND NOT is_bot AND ($site IS NULL OR site = $site)
    UNION ALL
    SELECT ts, 'utm_campaign', utm_campaign FROM events
    WHERE utm_campaign IS NOT NULL AND NOT is_bot AND ($site IS NULL OR site = $site)
)
GROUP BY param, value
ORDER BY param, events DESC, value
LIMIT 3000;
