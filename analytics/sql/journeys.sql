-- Included first by attribution.sql, leads.sql and markov_transitions.sql (reports.py): each conversion
-- in range with its touches in the lookback window before it, numbered in time order (a session's start,
-- then its position among the visitor's sessions, so touches of one instant keep their arrival order).
-- A touch counts when lookback >= conversion - touch >= 0. A conversion without a touch gets one
-- synthetic (direct) / Direct touch at its own time (DESIGN.md: never reported as unattributed).
-- Rejected conversions (a status other than submitted or sent) are left out unless $include_rejected;
-- with $outcome, only the leads whose latest outcome it is are kept.
WITH latest_outcomes AS (
    -- What became of each lead: its latest outcome by ts, then by arrival ($outcome keeps one of them).
    SELECT lead_id, outcome, value
    FROM (SELECT lead_id, outcome, value,
                 row_number() OVER (PARTITION BY lead_id ORDER BY ts DESC, recorded_at DESC) AS latest
          FROM lead_outcomes)
    WHERE latest = 1
),
selected AS (
    SELECT c.conversion_id, c.site, c.visitor_id, c.ts, c.name, c.props, c.status, c.status_reason,
           o.outcome, o.value AS outcome_value
    FROM conversions c
    LEFT JOIN latest_outcomes o ON o.lead_id = c.conversion_id
    WHERE ($start IS NULL OR c.ts >= $start) AND ($end IS NULL OR c.ts < $end)
      AND ($site IS NULL OR c.site = $site)
      AND ($conversion IS NULL OR c.name = $conversion)
      AND ($include_bots OR NOT c.is_bot)
      AND ($include_rejected OR c.status IN ('submitted', 'sent'))
      AND ($outcome IS NULL OR o.outcome = $outcome)
),
found AS (
    SELECT c.conversion_id, s.started_at, s.seq, s.channel, s.source, s.medium, s.campaign, s.term, s.content,
           s.referrer_domain, s.landing_page
    FROM selected c
    JOIN sessions s
      ON s.site = c.site AND s.visitor_id = c.visitor_id AND s.is_touch
     AND s.started_at <= c.ts AND s.started_at >= c.ts - to_days(CAST($lookback AS INTEGER))
     AND ($include_bots OR NOT s.is_bot)
),
journeys AS (
    SELECT c.conversion_id, c.site, c.visitor_id, c.ts AS converted_at, c.name AS conversion, c.props,
           c.status, c.status_reason, c.outcome, c.outcome_value,
           f.conversion_id IS NOT NULL AS is_real_touch,
           coalesce(f.started_at, c.ts) AS touched_at,
           coalesce(f.seq, 0) AS seq,
           coalesce(f.channel, 'Direct') AS channel,
           coalesce(f.source, '(direct)') AS source,
           coalesce(f.medium, '(none)') AS medium,
           coalesce(f.campaign, '(not set)') AS campaign,
           coalesce(f.term, '(not set)') AS term,
           coalesce(f.content, '(not set)') AS content,
           coalesce(f.referrer_domain, '(none)') AS referrer_domain,
           coalesce(f.landing_page, '(not set)') AS landing_page
    FROM selected c
    LEFT JOIN found f ON f.conversion_id = c.conversion_id
),
numbered AS (
    SELECT *,
           row_number() OVER (PARTITION BY conversion_id ORDER BY touched_at, seq) AS i,
           count(*) OVER (PARTITION BY conversion_id) AS n
    FROM journeys
)
