-- Run by sessions.rebuild(): every event is in scope.
CREATE OR REPLACE TEMP VIEW wl_scope AS
SELECT rowid AS arrival, * FROM event_log;
