-- Run by overview.totals(): the period's counts over the documented `events` view. Bots are left out
-- of every count but the last, which says how many events were left out as bots.
SELECT count(DISTINCT visitor_id) FILTER (WHERE NOT is_bot) AS visitors,
       count(*) FILTER (WHERE NOT is_bot AND type = 'pageview') AS pageviews,
       count(*) FILTER (WHERE NOT is_bot AND type = 'conversion') AS conversions,
       count(DISTINCT visitor_id) FILTER (WHERE NOT is_bot AND type = 'conversion') AS converted,
       count(*) FILTER (WHERE is_bot) AS bot_events
FROM events
WHERE ts >= $start AND ts < $end
  AND ($site IS NULL OR site = $site);
