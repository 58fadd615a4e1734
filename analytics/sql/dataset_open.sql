-- Run by sessions.open_dataset(): the events of a Hive-partitioned Parquet export (site=/date=) as
-- event_log, in file order (so that events of one instant keep their arrival order).
CREATE TABLE event_log AS
SELECT event_id, received_at, ts, site, type, name, visitor_id, visitor_kind, url, path, referrer, referrer_domain,
       utm_source, utm_medium, utm_campaign, utm_term, utm_content, utm_id, click_id, click_id_type, props,
       browser, browser_version, os, device, is_bot, bot_reason, country, region, city, origin
FROM read_parquet($files, hive_partitioning = true, hive_types = {'site': VARCHAR, 'date': DATE},
                  union_by_name = true, filename = true, file_row_number = true)
ORDER BY filename, file_row_number;
