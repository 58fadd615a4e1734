-- Run by sessions.refresh(): only the visitors listed in wl_todo (they changed since the last refresh).
CREATE OR REPLACE TEMP VIEW wl_scope AS
SELECT e.rowid AS arrival, e.* FROM event_log e SEMI JOIN wl_todo t ON e.site = t.site AND e.visitor_id = t.visitor_id;
