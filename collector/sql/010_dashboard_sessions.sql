-- Migration 10: the dashboard's sessions, so that a restart of the collector signs nobody out and a
-- browser can be remembered for 30 days. Only the SHA-256 of the cookie's random id is kept (with the
-- token's hash), never the id itself nor the token.
CREATE TABLE dashboard_sessions (
    session_hash VARCHAR PRIMARY KEY,
    token_hash   VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    seen_at      TIMESTAMP NOT NULL,
    remember     BOOLEAN NOT NULL
);
