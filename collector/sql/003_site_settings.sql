-- Migration 3: per-site consent mode ('optional': the consent-free tier is measured before consent;
-- 'required': the snippet sends nothing before consent). Retention per site already has its column.
ALTER TABLE sites ADD COLUMN consent VARCHAR NOT NULL DEFAULT 'optional';
