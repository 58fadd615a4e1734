-- Run by sessions._build(): cuts the events in wl_scope into sessions (DESIGN.md "Sessions"), into wl_cut.
-- A session ends after 30 minutes without an event; within them a pageview that brings another source
-- (UTM parameters, a click id or an external referrer that differ from the session's) starts a new one;
-- a direct pageview (no UTM, no click id, no referrer or one from the site itself) continues it.
-- Events are ordered by (ts, received_at, arrival), arrival being the insertion order, so events of
-- one instant keep their arrival order. The cutting runs on narrow rows: three window passes over
-- every event are the cost of a full rebuild; sessions_landing.sql then reads one event per session.
CREATE OR REPLACE TEMP TABLE wl_cut AS
WITH site_hosts AS (
    SELECT name AS site,
           list_transform(origins, lambda o: regexp_replace(lower(regexp_extract(o, '://([^/:]+)', 1)), '^www\.', ''))
               AS hosts
    FROM sites
),
narrow AS (
    SELECT e.arrival, e.site, e.visitor_id, e.event_id, e.ts, e.received_at,
           wl_is_bot(e.is_bot, e.bot_reason, e.origin) AS is_bot,
           e.type = 'pageview' AS is_pageview,
           -- the session's conversions are those the site accepted (status from sessions_conversions.sql)
           e.type = 'conversion' AND coalesce(cv.status IN ('submitted', 'sent'), true) AS is_conversion,
           -- external: a referrer that is neither the page's own host nor one of the site's origins
           e.referrer_domain IS NOT NULL
               AND e.referrer_domain <> regexp_replace(lower(regexp_extract(e.url, '^[A-Za-z]+://([^/:?#]+)', 1)),
                                                       '^www\.', '')
               AND NOT list_contains(coalesce(h.hosts, []), e.referrer_domain) AS external_referrer,
           e.utm_source, e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.click_id,
           rc.source AS referrer_source, rc.medium AS referrer_medium
    FROM wl_scope e
    LEFT JOIN site_hosts h ON h.site = e.site
    LEFT JOIN referrer_classes rc ON rc.domain = e.referrer_domain
    -- Equality only in the ON (is_conversion above keeps the status to conversions): a condition on one
    -- side there (e.type = 'conversion') makes DuckDB run the join as a nested loop, minutes on 10 M events.
    LEFT JOIN conversions cv ON cv.site = e.site AND cv.conversion_id = e.event_id AND cv.origin = e.origin
),
keyed AS (
    -- source_key: what the page brings (NULL for a direct pageview or any other event)
    SELECT arrival, site, visitor_id, event_id, ts, received_at, is_bot, is_pageview, is_conversion,
           external_referrer,
           CASE WHEN is_pageview AND (coalesce(utm_source, utm_medium, utm_campaign, utm_term, utm_content, click_id)
                                          IS NOT NULL OR external_referrer)
                THEN hash(lower(trim(utm_source)), lower(trim(utm_medium)), lower(trim(utm_campaign)), utm_term,
                          utm_content, click_id,
                          CASE WHEN external_referrer THEN referrer_source END,
                          CASE WHEN external_referrer THEN referrer_medium END)
           END AS source_key
    FROM narrow
),
level1 AS (
    SELECT *, row_number() OVER w AS ord, ts - lag(ts) OVER w AS gap
    FROM keyed
    WINDOW w AS (PARTITION BY site, visitor_id ORDER BY ts, received_at, arrival)
),
level2 AS (
    SELECT *,
           gap IS NULL OR gap >= INTERVAL 30 MINUTE AS timed_out,
           -- the source of the session this event would continue: that of the last source-bearing
           -- pageview since the last timeout, 0 when there is none
           last_value(CASE WHEN source_key IS NOT NULL THEN source_key
                           WHEN gap IS NULL OR gap >= INTERVAL 30 MINUTE THEN 0 END IGNORE NULLS)
               OVER (PARTITION BY site, visitor_id ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS current_key
    FROM level1
),
level3 AS (
    SELECT *,
           sum(CASE WHEN timed_out OR source_key <> current_key THEN 1 ELSE 0 END)
               OVER (PARTITION BY site, visitor_id ORDER BY ord ROWS UNBOUNDED PRECEDING) AS seq
    FROM level2
)
SELECT site, visitor_id, CAST(seq AS INTEGER) AS seq,
       arg_min(event_id, ord) AS session_id,
       arg_min(arrival, ord) FILTER (WHERE is_pageview) AS landing,
       arg_min(external_referrer, ord) FILTER (WHERE is_pageview) AS landing_external,
       min(ts) AS started_at,
       max(ts) AS ended_at,
       CAST(count(*) AS INTEGER) AS events,
       CAST(count(*) FILTER (WHERE is_pageview) AS INTEGER) AS pageviews,
       CAST(count(*) FILTER (WHERE is_conversion) AS INTEGER) AS conversions,
       max(received_at) AS last_received_at,
       bool_or(is_bot) AS is_bot
FROM level3
GROUP BY site, visitor_id, seq;
