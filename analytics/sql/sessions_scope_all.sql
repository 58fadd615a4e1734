-- Run by sessions.rebuild(), once per slice of visitors ({slices} and {slice}: integers, never user
-- text): a full rebuild cuts the visitors of one slice at a time, so that its window passes hold a
-- slice's events in memory rather than every event. A visitor's events are all in one slice.
CREATE OR REPLACE TEMP VIEW wl_scope AS
SELECT rowid AS arrival, * FROM event_log WHERE hash(site, visitor_id) % {slices} = {slice};
