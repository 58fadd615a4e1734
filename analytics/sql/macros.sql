-- Run by channels.install(), on every connection that builds sessions.
--
-- wl_channel: GA4's default channel group as a DuckDB macro, evaluated top to bottom,
-- first match wins, on lower-cased inputs (GA4 matches case-insensitively). `cat` is the source's GA4
-- category (SEARCH, SOCIAL, VIDEO, SHOPPING or NULL) from source_classes. Rules as transcribed from
-- support.google.com/analytics/answer/9756891 by dbt-ga4 (see README "Channels"). One addition of ours,
-- Offline, for the mediums of printed links and QR codes, which GA4 leaves Unassigned: a medium that
-- says paper is what its campaign meant, whatever the source.
CREATE OR REPLACE MACRO wl_channel(src, med, camp, cat) AS (
    CASE
        WHEN lower(src) = '(direct)' AND lower(med) IN ('(not set)', '(none)') THEN 'Direct'
        WHEN lower(med) IN ('print', 'offline', 'qr', 'flyer', 'affiche', 'poster') THEN 'Offline'
        WHEN contains(lower(camp), 'cross-network') THEN 'Cross-network'
        WHEN (cat = 'SHOPPING' OR regexp_matches(lower(camp), '^(.*(([^a-df-z]|^)shop|shopping).*)$'))
             AND regexp_matches(lower(med), '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Shopping'
        WHEN cat = 'SEARCH' AND regexp_matches(lower(med), '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Search'
        WHEN cat = 'SOCIAL' AND regexp_matches(lower(med), '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Social'
        WHEN cat = 'VIDEO' AND regexp_matches(lower(med), '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Video'
        WHEN lower(med) IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'Display'
        WHEN regexp_matches(lower(med), '^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Other'
        WHEN cat = 'SHOPPING' OR regexp_matches(lower(camp), '^(.*(([^a-df-z]|^)shop|shopping).*)$') THEN 'Organic Shopping'
        WHEN cat = 'SOCIAL'
             OR lower(med) IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')
             THEN 'Organic Social'
        WHEN cat = 'VIDEO' OR contains(lower(med), 'video') THEN 'Organic Video'
        WHEN cat = 'SEARCH' OR lower(med) = 'organic' THEN 'Organic Search'
        WHEN lower(med) IN ('referral', 'app', 'link') THEN 'Referral'
        WHEN lower(src) IN ('email', 'e-mail', 'e_mail', 'e mail')
             OR lower(med) IN ('email', 'e-mail', 'e_mail', 'e mail') THEN 'Email'
        WHEN lower(med) = 'affiliate' THEN 'Affiliates'
        WHEN lower(med) = 'audio' THEN 'Audio'
        WHEN lower(src) = 'sms' OR lower(med) = 'sms' THEN 'SMS'
        WHEN suffix(lower(med), 'push') OR contains(lower(med), 'mobile') OR contains(lower(med), 'notification')
             OR lower(src) = 'firebase' THEN 'Mobile Push Notifications'
        ELSE 'Unassigned'
    END
);

-- wl_way: the way an event came in, as its event_id is scoped: the public beacon and pixel share one
-- scope, imports and the API each have their own. A verdict names its conversion within its own scope.
CREATE OR REPLACE MACRO wl_way(origin) AS (
    CASE WHEN origin IN ('beacon', 'pixel') THEN 'public' ELSE origin END
);

-- wl_is_bot: a browser event without a user-agent is flagged as a bot. Since collector 0.1, imported
-- lines and server-side events without one are not flagged; files written before still may be, and
-- the reports keep those events (a back office confirming a lead is no bot).
CREATE OR REPLACE MACRO wl_is_bot(flag, reason, origin) AS (
    flag AND NOT (origin IN ('import', 'api') AND coalesce(reason, '') = 'no user-agent')
);
