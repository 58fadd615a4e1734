-- Run by sessions._build(): the new sessions with their GA4 channel and their place among the
-- visitor's touches, into the derived table.
INSERT INTO sessions
WITH classified AS (
    SELECT n.*, wl_channel(n.source, n.medium, n.campaign, c.category) AS channel
    FROM wl_new_sessions n
    LEFT JOIN source_classes c ON c.source = n.source
),
ordered AS (
    SELECT *,
           row_number() OVER w AS touch_seq,
           count(*) OVER (PARTITION BY site, visitor_id, is_touch) AS touch_count,
           lag(started_at) OVER w AS prev_touch_at,
           max(started_at) OVER (PARTITION BY site, visitor_id, is_touch) AS last_touch_at,
           lag({'channel': channel, 'source': source, 'medium': medium, 'campaign': campaign, 'term': term,
                'content': content, 'referrer_domain': referrer_domain, 'landing_page': landing_page}) OVER w
               AS previous
    FROM classified
    WINDOW w AS (PARTITION BY site, visitor_id, is_touch ORDER BY started_at, seq)
)
SELECT site, visitor_id, session_id, seq, started_at, ended_at, events, pageviews, conversions, last_received_at,
       is_bot, is_touch, landing_page, source, medium, campaign, term, content, click_id, referrer_domain, channel,
       CASE WHEN is_touch THEN touch_seq END,
       CASE WHEN is_touch THEN touch_seq = touch_count END,
       CASE WHEN is_touch THEN prev_touch_at END,
       CASE WHEN is_touch THEN last_touch_at END,
       CASE WHEN is_touch THEN previous END
FROM ordered;
