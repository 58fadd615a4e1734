-- Migration 3: per-site consent mode ('optional': the consent-free tier is measured before consent;
-- 'required': the snippet sends nothing before consent). Retention per site already has its column.
-- Two statements: DuckDB 1.5 cannot add a column with a constraint in one (files made by DuckDB 2.0
-- applied it in one; the resulting column is the same).
ALTER TABLE sites ADD COLUMN consent VARCHAR DEFAULT 'optional';
ALTER TABLE sites ALTER COLUMN consent SET NOT NULL;
