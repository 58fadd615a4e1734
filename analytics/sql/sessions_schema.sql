-- Run by sessions.ensure() when the derived tables are missing or of another version: they are
-- dropped and rebuilt from event_log, never migrated. Documented in README "Sessions and touches".
CREATE TABLE sessions (
    site             VARCHAR NOT NULL,
    visitor_id       VARCHAR NOT NULL,
    session_id       VARCHAR NOT NULL,   -- the event_id of the session's first event
    seq              INTEGER NOT NULL,   -- 1 = the visitor's first session on this site
    started_at       TIMESTAMP NOT NULL, -- first event (UTC)
    ended_at         TIMESTAMP NOT NULL, -- last event (UTC)
    events           INTEGER NOT NULL,
    pageviews        INTEGER NOT NULL,
    conversions      INTEGER NOT NULL,
    last_received_at TIMESTAMP NOT NULL, -- with `events`, tells the refresh whether a visitor changed
    is_bot           BOOLEAN NOT NULL,   -- any of its events flagged as a bot
    is_touch         BOOLEAN NOT NULL,   -- has a pageview; server-side events alone make no touch
    landing_page     VARCHAR NOT NULL,   -- path of the first pageview, '(not set)' without one
    source           VARCHAR NOT NULL,   -- lower-cased; '(direct)' when none
    medium           VARCHAR NOT NULL,   -- lower-cased; '(none)' when direct
    campaign         VARCHAR NOT NULL,   -- lower-cased; '(not set)' when none
    term             VARCHAR NOT NULL,
    content          VARCHAR NOT NULL,
    click_id         VARCHAR,
    referrer_domain  VARCHAR NOT NULL,   -- external referrer of the landing, '(none)' otherwise
    channel          VARCHAR NOT NULL,   -- GA4 default channel group
    -- the visitor's touches in order (NULL on sessions that are no touch), for journeys and Markov paths
    touch_seq        INTEGER,
    is_last_touch    BOOLEAN,
    prev_touch_at    TIMESTAMP,
    last_touch_at    TIMESTAMP,
    previous         STRUCT(channel VARCHAR, source VARCHAR, medium VARCHAR, campaign VARCHAR, term VARCHAR,
                            content VARCHAR, referrer_domain VARCHAR, landing_page VARCHAR)
);
-- The conversions, with the reports' bot verdict (wl_is_bot) and their status (sessions_conversions.sql):
-- a small table the reports start from.
CREATE TABLE conversions (
    conversion_id VARCHAR NOT NULL,      -- its event_id (the leads report's lead_id)
    site          VARCHAR NOT NULL,
    visitor_id    VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,
    name          VARCHAR,
    props         VARCHAR,               -- JSON: the allow-listed form fields
    is_bot        BOOLEAN NOT NULL,
    status        VARCHAR NOT NULL,      -- submitted | sent (accepted) | invalid, unaccepted, spam, aborted, failed
    status_reason VARCHAR,               -- why the collector called it spam; NULL for the form plugin's own word
    origin        VARCHAR NOT NULL       -- beacon | pixel | import | api: with site, what its event_id is unique in
);
CREATE TABLE referrer_classes (domain VARCHAR NOT NULL, source VARCHAR NOT NULL, medium VARCHAR NOT NULL);
CREATE TABLE source_classes (source VARCHAR NOT NULL, category VARCHAR);
