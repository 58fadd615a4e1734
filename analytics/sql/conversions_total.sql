-- Run by reports.attribution() after journeys.sql: how many conversions the report attributes.
SELECT count(*) AS conversions FROM selected;
