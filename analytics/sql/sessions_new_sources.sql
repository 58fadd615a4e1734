-- Run by sessions._classify(): touch sources without a GA4 category lookup yet.
SELECT DISTINCT source FROM wl_new_sessions
WHERE source NOT IN (SELECT source FROM source_classes);
