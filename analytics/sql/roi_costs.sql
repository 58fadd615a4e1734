-- Run by roi.roi(): what the campaigns cost over the period's days, summed by the report's dimension. A
-- cost's channel is the one its source, medium and campaign give a visit (wl_channel, as in sessions).
SELECT {dimension} AS value, sum(cost) AS cost
FROM (
    SELECT c.source, c.medium, c.campaign, c.cost,
           wl_channel(c.source, c.medium, c.campaign, sc.category) AS channel
    FROM campaign_costs c
    LEFT JOIN source_classes sc ON sc.source = c.source
    WHERE ($first IS NULL OR c.day >= $first) AND ($last IS NULL OR c.day <= $last)
      AND ($site IS NULL OR c.site IN ('', $site))
)
GROUP BY ALL;
