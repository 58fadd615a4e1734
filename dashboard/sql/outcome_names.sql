-- Run by closedloop.outcome_names(): the outcomes in use (each lead's latest, as the reports read them),
-- most frequent first, for the outcome pickers and the leads page's suggestions.
SELECT outcome, count(*) AS leads
FROM (SELECT outcome, row_number() OVER (PARTITION BY lead_id ORDER BY ts DESC, recorded_at DESC) AS latest
      FROM lead_outcomes)
WHERE latest = 1
GROUP BY outcome
ORDER BY leads DESC, outcome
LIMIT 200;
