-- Run by sessions._build(): the conversions of the events in wl_scope, into the derived table.
INSERT INTO conversions
SELECT event_id, site, visitor_id, ts, name, props, wl_is_bot(is_bot, bot_reason, origin)
FROM wl_scope
WHERE type = 'conversion';
