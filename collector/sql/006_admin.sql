-- Migration 6: administration. When each API token was last used (updated at most every few minutes,
-- never the secret), and which sites hold `webleads demo` traffic (so that the demo can be removed
-- and the dashboard can say so).
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMP;
-- (DuckDB 1.5 adds a column with a constraint in two statements: see migration 3.)
ALTER TABLE sites ADD COLUMN demo BOOLEAN DEFAULT false;
ALTER TABLE sites ALTER COLUMN demo SET NOT NULL;

-- The quiet-site alarm's state, so that each alert (quiet, back) is sent once, also across restarts.
CREATE TABLE site_alerts (
    site  VARCHAR PRIMARY KEY,
    quiet BOOLEAN NOT NULL,
    since TIMESTAMP NOT NULL
);
