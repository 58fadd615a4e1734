-- Migration 1: the append-only fact table, the registry of sites and API tokens, the daily salts,
-- and the documented `events` view (DESIGN.md). Timestamps are UTC, stored as TIMESTAMP.
CREATE TABLE event_log (
    event_id        VARCHAR NOT NULL,   -- client-made id (idempotency) or one made by the collector
    received_at     TIMESTAMP NOT NULL, -- server clock when the collector accepted it
    ts              TIMESTAMP NOT NULL, -- when it happened (UTC)
    site            VARCHAR NOT NULL,
    type            VARCHAR NOT NULL,   -- pageview | conversion | event
    name            VARCHAR,            -- conversion or event name
    visitor_id      VARCHAR NOT NULL,
    visitor_kind    VARCHAR NOT NULL,   -- consent (first-party id) | hash (daily salted hash) | import | server
    url             VARCHAR,            -- without query parameters but UTM, click ids and allow-listed ones
    path            VARCHAR,
    referrer        VARCHAR,            -- same cleaning as url
    referrer_domain VARCHAR,
    utm_source      VARCHAR,
    utm_medium      VARCHAR,
    utm_campaign    VARCHAR,
    utm_term        VARCHAR,
    utm_content     VARCHAR,
    utm_id          VARCHAR,
    click_id        VARCHAR,
    click_id_type   VARCHAR,            -- gclid, fbclid, msclkid, ...
    props           VARCHAR,            -- JSON object (custom event properties, allow-listed form fields)
    browser         VARCHAR,
    browser_version VARCHAR,
    os              VARCHAR,
    device          VARCHAR,            -- desktop | mobile | tablet | bot | other
    is_bot          BOOLEAN NOT NULL,
    bot_reason      VARCHAR,
    country         VARCHAR,            -- ISO 3166-1 alpha-2
    region          VARCHAR,
    city            VARCHAR,
    origin          VARCHAR NOT NULL    -- beacon | pixel | import | api
);

CREATE TABLE sites (
    name             VARCHAR PRIMARY KEY,
    origins          VARCHAR[] NOT NULL,
    allowed_params   VARCHAR[] NOT NULL DEFAULT [],
    retention_months INTEGER,
    created_at       TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    token_hash VARCHAR PRIMARY KEY,    -- sha256 of the token; the token itself is never stored
    name       VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Salts for the consent-free visitor hash: one per UTC day, deleted after two days.
CREATE TABLE daily_salts (
    day  DATE PRIMARY KEY,
    salt BLOB NOT NULL
);

CREATE VIEW events AS
SELECT event_id, ts, received_at, site, type, name, visitor_id,
       CAST(NULL AS VARCHAR) AS session_id,
       url, path, referrer, referrer_domain,
       utm_source, utm_medium, utm_campaign, utm_term, utm_content, utm_id,
       click_id, click_id_type, props,
       browser, browser_version, os, device, country, region, city, is_bot, origin
FROM event_log;
