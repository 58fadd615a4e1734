-- Run by reports.funnel(): an ordered funnel. The Python side repeats the marked blocks once per step
-- ({k} = step number, {p} = the step before; integers, never user text) and picks for each step the
-- cheapest matcher its pattern allows (equality, prefix... LIKE only for other globs); patterns,
-- names, dates and the window are bound parameters. An outcome:NAME step is no event: the leads' latest
-- outcomes become extra rows of step_events (@outcome_rows), only when a funnel has such a step. A visitor reaches step k when it did steps 1..k in
-- this order (each strictly after the one before), step k within the window after step 1. Each occurrence of step 1 in
-- range is tried as a start, with the earliest possible next steps; the visitor keeps the last start
-- that goes furthest. Visitors are told apart by a 64-bit hash of (site, visitor_id):
-- joins on an integer are several times faster, and two visitors share a hash with a probability of
-- about n^2 / 2^65 (3e-8 for a million visitors).
-- @prologue
WITH step_events AS (
    SELECT hash(site, visitor_id) AS visitor, ts,
{matches}
    FROM event_log
    WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < CAST($end AS TIMESTAMP) + CAST($window AS INTERVAL))
      AND ($site IS NULL OR site = $site)
      AND ($include_bots OR NOT wl_is_bot(is_bot, bot_reason, origin))
      -- a rejected conversion (its status in the derived `conversions`) is no step, unless $include_rejected
      AND ($include_rejected OR type <> 'conversion'
           OR (site, event_id, origin) NOT IN (SELECT site, conversion_id, origin FROM conversions
                                               WHERE status NOT IN ('submitted', 'sent')))
{outcome_rows}
)
-- @start
, reached1 AS (
    SELECT visitor, ts AS t1 FROM step_events
    WHERE step1 AND ($end IS NULL OR ts < $end)
)
-- @match_name (conversion:NAME, event:NAME)
        (type = $kind{k} AND name = $pattern{k}) AS step{k}
-- @match_exact (pageview:/path)
        (type = 'pageview' AND path = $pattern{k}) AS step{k}
-- @match_prefix (pageview:/path*)
        (type = 'pageview' AND starts_with(path, $pattern{k})) AS step{k}
-- @match_suffix (pageview:*end)
        (type = 'pageview' AND ends_with(path, $pattern{k})) AS step{k}
-- @match_contains (pageview:*part*)
        (type = 'pageview' AND contains(path, $pattern{k})) AS step{k}
-- @match_like (pageview:/a*b*: any other glob)
        (type = 'pageview' AND path LIKE $pattern{k} ESCAPE '\') AS step{k}
-- @match_outcome (outcome:NAME: no event is one; the rows of @outcome_rows are)
        FALSE AS step{k}
-- @outcome_rows (only with an outcome:NAME step: each lead's latest outcome as a row of its visitor, at its ts)
    UNION ALL
    SELECT hash(c.site, c.visitor_id) AS visitor, o.ts,
{outcome_matches}
    FROM (SELECT lead_id, outcome, ts FROM lead_outcomes
          QUALIFY row_number() OVER (PARTITION BY lead_id ORDER BY ts DESC, recorded_at DESC) = 1) o
    JOIN conversions c ON c.conversion_id = o.lead_id
    WHERE ($start IS NULL OR o.ts >= $start)
      AND ($end IS NULL OR o.ts < CAST($end AS TIMESTAMP) + CAST($window AS INTERVAL))
      AND ($site IS NULL OR c.site = $site)
      AND ($include_bots OR NOT c.is_bot)
      AND ($include_rejected OR c.status IN ('submitted', 'sent'))
-- @outcome_is (in @outcome_rows, for an outcome:NAME step)
        (o.outcome = $pattern{k}) AS step{k}
-- @outcome_not (in @outcome_rows, for any other step)
        FALSE AS step{k}
-- @step (the starts that reached step {p}, each with its earliest step {k} after it, within the window)
, reached{k} AS (
    SELECT r.*, e.ts AS t{k}
    FROM reached{p} r
    ASOF JOIN (SELECT visitor, ts FROM step_events WHERE step{k}) e
      ON r.visitor = e.visitor AND r.t{p} < e.ts
    WHERE e.ts <= r.t1 + CAST($window AS INTERVAL)
)
-- @epilogue
, furthest AS (
    {furthest}
),
best AS (
    SELECT * FROM furthest
    QUALIFY row_number() OVER (PARTITION BY visitor ORDER BY level DESC, t1 DESC) = 1
),
split AS (
    SELECT b.*, {split} AS split_value
    FROM best b
    {split_join}
)
SELECT coalesce(split_value, $missing) AS split_value,
{aggregates}
FROM split
GROUP BY ALL
ORDER BY visitors1 DESC, split_value;
-- @visitors
       count(t{k}) AS visitors{k}
-- @median
       median(epoch(t{k}) - epoch(t{p})) AS median{k}
