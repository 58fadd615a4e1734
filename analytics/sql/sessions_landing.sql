-- Run by sessions._build(): each session of wl_cut described by its landing (its first pageview),
-- into wl_new_sessions. Source and medium come from the UTM parameters when there are any (a missing
-- one is '(not set)', or the click id's when it has one); else from the click id; else from the
-- external referrer (referrer_classes: search engine -> organic, social network -> social, webmail ->
-- email, other site -> referral); else the landing is '(direct)' / '(none)'.
CREATE OR REPLACE TEMP TABLE wl_new_sessions AS
WITH landing AS (
    SELECT c.*, l.path, l.utm_source, l.utm_medium, l.utm_campaign, l.utm_term, l.utm_content, l.click_id,
           l.referrer_domain, rc.source AS referrer_source, rc.medium AS referrer_medium,
           coalesce(l.utm_source, l.utm_medium, l.utm_campaign, l.utm_term, l.utm_content) IS NOT NULL AS has_utm,
           -- Click ids: the networks' own auto-tagging. fbclid is added to every Facebook link, paid or
           -- not, so it reads as facebook / social; ttclid, li_fat_id and twclid mark ad clicks.
           CASE l.click_id_type
               WHEN 'gclid' THEN 'google' WHEN 'gbraid' THEN 'google' WHEN 'wbraid' THEN 'google'
               WHEN 'dclid' THEN 'google' WHEN 'msclkid' THEN 'bing' WHEN 'fbclid' THEN 'facebook'
               WHEN 'ttclid' THEN 'tiktok' WHEN 'li_fat_id' THEN 'linkedin' WHEN 'twclid' THEN 'twitter'
           END AS click_source,
           CASE l.click_id_type
               WHEN 'dclid' THEN 'display' WHEN 'fbclid' THEN 'social'
               WHEN 'gclid' THEN 'cpc' WHEN 'gbraid' THEN 'cpc' WHEN 'wbraid' THEN 'cpc' WHEN 'msclkid' THEN 'cpc'
               WHEN 'ttclid' THEN 'cpc' WHEN 'li_fat_id' THEN 'cpc' WHEN 'twclid' THEN 'cpc'
           END AS click_medium
    FROM wl_cut c
    LEFT JOIN wl_scope l ON l.arrival = c.landing
    LEFT JOIN referrer_classes rc ON rc.domain = l.referrer_domain
)
SELECT site, visitor_id, session_id, seq, started_at, ended_at, events, pageviews, conversions,
       last_received_at, is_bot,
       landing IS NOT NULL AS is_touch,
       coalesce(path, '(not set)') AS landing_page,
       CASE WHEN landing IS NULL THEN '(direct)'
            WHEN has_utm THEN lower(trim(coalesce(utm_source, click_source, '(not set)')))
            WHEN click_source IS NOT NULL THEN click_source
            WHEN landing_external THEN coalesce(referrer_source, referrer_domain)
            ELSE '(direct)' END AS source,
       CASE WHEN landing IS NULL THEN '(none)'
            WHEN has_utm THEN lower(trim(coalesce(utm_medium, click_medium, '(not set)')))
            WHEN click_source IS NOT NULL THEN click_medium
            WHEN landing_external THEN coalesce(referrer_medium, 'referral')
            ELSE '(none)' END AS medium,
       coalesce(lower(trim(utm_campaign)), '(not set)') AS campaign,
       coalesce(utm_term, '(not set)') AS term,
       coalesce(utm_content, '(not set)') AS content,
       click_id,
       CASE WHEN landing_external THEN referrer_domain ELSE '(none)' END AS referrer_domain
FROM landing;
