-- Run by reports.attribution() after journeys.sql: each touch's share of its conversion under every
-- heuristic model, summed by the chosen dimension (the conversions, and their outcomes' value in euros).
-- {dimension} and {weight} come from allow-lists.
, weighted AS (
    SELECT *,
           max(CASE WHEN channel <> 'Direct' THEN i END) OVER (PARTITION BY conversion_id) AS last_non_direct_i,
           pow(2.0, -(epoch(converted_at) - epoch(touched_at)) / (7 * 86400.0)) AS decay,
           sum(pow(2.0, -(epoch(converted_at) - epoch(touched_at)) / (7 * 86400.0)))
               OVER (PARTITION BY conversion_id) AS decay_total
    FROM numbered
),
shares AS (
    SELECT *,
           CASE WHEN i = 1 THEN 1.0 ELSE 0.0 END AS first_touch,
           CASE WHEN i = n THEN 1.0 ELSE 0.0 END AS last_touch,
           CASE WHEN i = coalesce(last_non_direct_i, n) THEN 1.0 ELSE 0.0 END AS last_non_direct,
           1.0 / n AS linear,
           CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END
               AS position_based,
           decay / decay_total AS time_decay
    FROM weighted
)
SELECT {dimension} AS value,
       sum({weight}) AS conversions,
       sum({weight} * coalesce(outcome_value, 0)) AS credited_value,
       count(DISTINCT conversion_id) AS touched
FROM shares
GROUP BY {dimension}
HAVING sum({weight}) > 0
ORDER BY conversions DESC, value;
