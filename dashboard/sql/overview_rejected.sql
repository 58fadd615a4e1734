-- Run by overview.compute(): the period's conversions the site rejected (the analytics' derived
-- `conversions`: a status other than submitted or sent), per status, bots left out as in the reports.
SELECT status, count(*) AS conversions
FROM conversions
WHERE ts >= $start AND ts < $end
  AND ($site IS NULL OR site = $site)
  AND NOT is_bot
  AND status NOT IN ('submitted', 'sent')
GROUP BY status
ORDER BY conversions DESC, status;
