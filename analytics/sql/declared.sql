-- Run by declared.declared() after journeys.sql: each lead's answer to "how did you hear of us?" (an
-- allow-listed form field, $path in its props) against its tracked channel, the last touch that is not
-- Direct (Direct when every touch is). Answers are grouped without regard to case or spaces around them.
, tracked AS (
    SELECT conversion_id,
           coalesce(arg_max(channel, i) FILTER (WHERE channel <> 'Direct'), 'Direct') AS channel
    FROM numbered
    GROUP BY conversion_id
),
answered AS (
    SELECT s.conversion_id, nullif(trim(json_extract_string(s.props, $path)), '') AS answer
    FROM selected s
)
SELECT coalesce(mode(a.answer), '(no answer)') AS declared, t.channel, count(*) AS leads
FROM answered a
JOIN tracked t USING (conversion_id)
GROUP BY lower(a.answer), t.channel
ORDER BY leads DESC, declared, t.channel;
