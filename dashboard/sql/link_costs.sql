-- Run by closedloop.short_links(): what each (site, source, medium, campaign) cost over the period's days,
-- to put a cost beside the short links that carry those tags (costs are stored lower-cased, and the links'
-- tags are compared lower-cased; a cost of site '' is every site's).
SELECT site, source, medium, campaign, sum(cost) AS cost
FROM campaign_costs
WHERE day >= $first AND day <= $last
GROUP BY ALL;
