-- Migration 7: which sites hold `webleads demo` traffic, so that the demo can be removed and the
-- dashboard can say so. A migration of its own, and without NOT NULL (existing sites get the default):
-- DuckDB 1.5.5 refuses to rebuild a table's key in a transaction that has changed its rows.
ALTER TABLE sites ADD COLUMN demo BOOLEAN DEFAULT false;
