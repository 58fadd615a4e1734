-- Run by overview.compute(): the period's counts per day (local days of the reports' time zone, as their
-- `from` and `to`; {local_ts} is overview.local_time()'s expression, parameters only) and, in the row
-- whose day is NULL, for the whole period (visitors counted once).
-- It reads event_log, the table behind the documented `events` view: the view adds session_id through
-- an ASOF join with the sessions, which costs about 100 ms per scan on 100,000 events and is not needed
-- here. Bots are told apart as the reports do (wl_is_bot, installed by the analytics' sessions.prepare):
-- left out of every count but bot_events. Conversions are those the site accepted (their status in the
-- analytics' derived `conversions`; one not derived yet counts), as in the reports.
WITH tagged AS (
    SELECT e.ts, e.visitor_id, e.is_bot, e.bot_reason, e.origin,
           CASE WHEN e.type = 'conversion' AND c.status NOT IN ('submitted', 'sent') THEN 'rejected'
                ELSE e.type END AS type
    FROM event_log e
    -- equality only: a one-sided condition in the ON makes a nested loop (see analytics' sessions_build.sql)
    LEFT JOIN conversions c ON c.site = e.site AND c.conversion_id = e.event_id AND c.origin = e.origin
    WHERE e.ts >= $start AND e.ts < $end
      AND ($site IS NULL OR e.site = $site)
),
period AS (
    SELECT CAST({local_ts} AS DATE) AS day, visitor_id, type,
           wl_is_bot(is_bot, bot_reason, origin) AS bot
    FROM tagged
)
SELECT day,
       count(DISTINCT visitor_id) FILTER (WHERE NOT bot) AS visitors,
       count(*) FILTER (WHERE NOT bot AND type = 'pageview') AS pageviews,
       count(*) FILTER (WHERE NOT bot AND type = 'conversion') AS conversions,
       count(DISTINCT visitor_id) FILTER (WHERE NOT bot AND type = 'conversion') AS converted,
       count(*) FILTER (WHERE bot) AS bot_events
FROM period
GROUP BY GROUPING SETS ((day), ())
ORDER BY day NULLS FIRST;
