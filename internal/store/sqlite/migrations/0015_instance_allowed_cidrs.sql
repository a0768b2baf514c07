-- 0015: the networks whose clients may connect to an instance (Trove's
-- access.allowed_cidrs), as a JSON list of canonical CIDR prefixes ('[]'
-- for every network). The driver enforces them.

ALTER TABLE instances ADD COLUMN allowed_cidrs TEXT NOT NULL DEFAULT '[]';
