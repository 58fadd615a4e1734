-- Run by sessions.refresh(): only the visitors listed in wl_todo (they changed since the last refresh).
-- A verdict (status event) names its conversion by event_id, and may have come under another visitor id
-- than the conversion (the daily hash changed in between): that conversion's visitor is recomputed too.
INSERT INTO wl_todo
SELECT DISTINCT c.site, c.visitor_id
FROM event_log v
JOIN event_log c ON c.type = 'conversion' AND c.site = v.site AND wl_way(c.origin) = wl_way(v.origin)
                 AND c.event_id = json_extract_string(v.props, '$.of')
WHERE v.type = 'status'
  AND (v.site, v.visitor_id) IN (SELECT site, visitor_id FROM wl_todo)
  AND (c.site, c.visitor_id) NOT IN (SELECT site, visitor_id FROM wl_todo);

CREATE OR REPLACE TEMP VIEW wl_scope AS
SELECT e.rowid AS arrival, e.* FROM event_log e SEMI JOIN wl_todo t ON e.site = t.site AND e.visitor_id = t.visitor_id;
