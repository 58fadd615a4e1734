-- Migration 8: short links for print, radio and posters (`webleads link add`), and their scans. A scan
-- keeps no IP address: the visitor is the day's salted hash, as for events without consent.
CREATE TABLE short_links (
    code         VARCHAR PRIMARY KEY,
    site         VARCHAR NOT NULL,
    target       VARCHAR NOT NULL,  -- the address it redirects to, before the UTM parameters are added
    utm_source   VARCHAR NOT NULL,
    utm_medium   VARCHAR NOT NULL,
    utm_campaign VARCHAR NOT NULL,
    utm_content  VARCHAR,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE link_scans (
    code       VARCHAR NOT NULL,
    ts         TIMESTAMP NOT NULL,
    visitor_id VARCHAR NOT NULL,
    is_bot     BOOLEAN NOT NULL
);
