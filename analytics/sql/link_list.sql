-- Run by links.link_list() after journeys.sql: per short link, its scans in the period, the visitors whose
-- visit landed with its tags, and the conversions whose journey (in the lookback window) went through it.
, scanned AS (
    SELECT code, count(*) AS scans, count(DISTINCT visitor_id) AS scanners
    FROM link_scans
    WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end) AND ($include_bots OR NOT is_bot)
    GROUP BY code
),
tagged AS (
    SELECT code, site, lower(utm_source) AS source, lower(utm_medium) AS medium, lower(utm_campaign) AS campaign,
           lower(utm_content) AS content
    FROM short_links
),
landed AS (
    SELECT t.code, count(DISTINCT s.visitor_id) AS visitors
    FROM tagged t
    JOIN sessions s
      ON s.site = t.site AND s.is_touch AND s.source = t.source AND s.medium = t.medium AND s.campaign = t.campaign
     AND (t.content IS NULL OR lower(s.content) = t.content)
    WHERE ($start IS NULL OR s.started_at >= $start) AND ($end IS NULL OR s.started_at < $end)
      AND ($include_bots OR NOT s.is_bot)
    GROUP BY t.code
),
converted AS (
    SELECT t.code, count(DISTINCT j.conversion_id) AS conversions
    FROM tagged t
    JOIN journeys j
      ON j.site = t.site AND j.is_real_touch AND j.source = t.source AND j.medium = t.medium
     AND j.campaign = t.campaign AND (t.content IS NULL OR lower(j.content) = t.content)
    GROUP BY t.code
)
SELECT l.code, l.site, l.target, l.utm_source, l.utm_medium, l.utm_campaign, l.utm_content, l.created_at,
       coalesce(sc.scans, 0) AS scans, coalesce(sc.scanners, 0) AS scanners,
       coalesce(la.visitors, 0) AS visitors, coalesce(cv.conversions, 0) AS conversions
FROM short_links l
LEFT JOIN scanned sc ON sc.code = l.code
LEFT JOIN landed la ON la.code = l.code
LEFT JOIN converted cv ON cv.code = l.code
WHERE ($site IS NULL OR l.site = $site)
ORDER BY l.created_at, l.code;
