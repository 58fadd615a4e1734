-- Run by overview.compute(): visitors with an event in the last 30 minutes, bots left out (event_log
-- rather than the `events` view: see overview_counts.sql).
SELECT count(DISTINCT visitor_id) AS visitors
FROM event_log
WHERE ts >= $since
  AND ($site IS NULL OR site = $site)
  AND NOT wl_is_bot(is_bot, bot_reason, origin);
