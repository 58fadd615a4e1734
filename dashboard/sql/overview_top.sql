-- Run by overview.top(): the period's visits (the analytics' `sessions`, one per landing) grouped four
-- ways at once, the first $limit values of each with their visits, visitors and the conversions made
-- in those visits; `total` is the dimension's visits of the period, for shares.
WITH visits AS (
    SELECT channel, campaign, source, landing_page, visitor_id, conversions
    FROM sessions
    WHERE is_touch AND NOT is_bot
      AND started_at >= $start AND started_at < $end
      AND ($site IS NULL OR site = $site)
),
grouped AS (
    SELECT CASE WHEN GROUPING(channel) = 0 THEN 'channel'
                WHEN GROUPING(campaign) = 0 THEN 'campaign'
                WHEN GROUPING(source) = 0 THEN 'source'
                ELSE 'landing_page' END AS dimension,
           coalesce(channel, campaign, source, landing_page) AS value,
           count(*) AS sessions,
           count(DISTINCT visitor_id) AS visitors,
           sum(conversions) AS conversions
    FROM visits
    GROUP BY GROUPING SETS ((channel), (campaign), (source), (landing_page))
)
SELECT dimension, value, sessions, visitors, conversions,
       sum(sessions) OVER (PARTITION BY dimension) AS total
FROM grouped
QUALIFY row_number() OVER (PARTITION BY dimension ORDER BY sessions DESC, value) <= $limit
ORDER BY dimension, sessions DESC, value;
