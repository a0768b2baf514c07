-- 0013: the guest logs a tenant enabled on an instance (reference §16.1),
-- as a comma-separated list of log names ('' for none).

ALTER TABLE instances ADD COLUMN logs text NOT NULL DEFAULT '';
