-- Migration 6: administration. When each API token was last used (updated at most every few minutes,
-- never the secret), and the quiet-site alarm's state, so that each alert (quiet, back) is sent once,
-- also across restarts.
-- The table with its key comes first: DuckDB cannot create an index (a primary key) in a transaction
-- that has already changed rows of a table, as adding a column to existing tokens does.
CREATE TABLE site_alerts (
    site  VARCHAR PRIMARY KEY,
    quiet BOOLEAN NOT NULL,
    since TIMESTAMP NOT NULL
);
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMP;
