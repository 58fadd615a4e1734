-- Run by closedloop.form_fields(): the names of the form fields captured with the conversions of the
-- period (data-webleads-capture), most frequent first, for the declared page's field picker.
SELECT field, count(*) AS leads
FROM (SELECT unnest(json_keys(props)) AS field
      FROM conversions
      WHERE props IS NOT NULL AND ts >= $start AND ts < $end AND ($site IS NULL OR site = $site))
GROUP BY field
ORDER BY leads DESC, field
LIMIT 50;
