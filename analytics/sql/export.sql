-- Run by transfer.export_parquet(): the events to export, with their UTC day as the `date` partition.
SELECT event_id, received_at, ts, site, type, name, visitor_id, visitor_kind, url, path, referrer, referrer_domain,
       utm_source, utm_medium, utm_campaign, utm_term, utm_content, utm_id, click_id, click_id_type, props,
       browser, browser_version, os, device, is_bot, bot_reason, country, region, city, origin,
       CAST(ts AS DATE) AS "date"
FROM event_log
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($site IS NULL OR site = $site)
ORDER BY site, "date", rowid
