-- Run by overview.live(): visitors with an event in the last 30 minutes (bots left out).
SELECT count(DISTINCT visitor_id) AS visitors
FROM events
WHERE NOT is_bot AND ts >= $since
  AND ($site IS NULL OR site = $site);
