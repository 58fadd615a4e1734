-- Run by reports.leads() after journeys.sql: one row per conversion with its first and last touch,
-- its path of channels, the captured form fields and its status.
SELECT conversion_id, converted_at, site, visitor_id, conversion,
       arg_min(source, i) AS first_source, arg_min(medium, i) AS first_medium, arg_min(campaign, i) AS first_campaign,
       arg_max(source, i) AS last_source, arg_max(medium, i) AS last_medium, arg_max(campaign, i) AS last_campaign,
       arg_min(channel, i) AS first_channel, arg_max(channel, i) AS last_channel,
       string_agg(channel, ' > ' ORDER BY i) AS path,
       count(*) FILTER (WHERE is_real_touch) AS touches,
       (epoch(converted_at) - epoch(min(touched_at))) / 86400.0 AS days_to_convert,
       props AS fields, status, status_reason, outcome, outcome_value
FROM numbered
GROUP BY conversion_id, converted_at, site, visitor_id, conversion, props, status, status_reason, outcome,
         outcome_value
ORDER BY converted_at, conversion_id;
