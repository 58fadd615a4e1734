-- Migration 3: per-site consent mode ('optional': the consent-free tier is measured before consent;
-- 'required': the snippet sends nothing before consent). Retention per site already has its column.
-- DuckDB 1.5 cannot add a column with a constraint in one statement: the column, then its NOT NULL
-- (files made by DuckDB 2.0 applied it in one; the column is the same). And DuckDB 1.5.5 cannot replay
-- from its write-ahead log (after a crash) an ADD COLUMN on a table whose default is a list literal
-- such as `[]` (it fails to bind it there): allowed_params' default becomes the same empty list as a
-- cast of a constant, first.
ALTER TABLE sites ALTER COLUMN allowed_params SET DEFAULT CAST('[]' AS VARCHAR[]);
ALTER TABLE sites ADD COLUMN consent VARCHAR DEFAULT 'optional';
ALTER TABLE sites ALTER COLUMN consent SET NOT NULL;
