-- Run by reports.attribution() after journeys.sql: how many conversions the report attributes, and their
-- outcomes' value.
SELECT count(*) AS conversions, coalesce(sum(outcome_value), 0) AS credited_value FROM selected;
