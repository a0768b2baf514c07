-- 0012: per-project quotas (reference §3.4): the limits an admin recorded
-- for a project, one row per resource ('instances', 'volumes' in GB,
-- 'backups', 'replicas'); -1 is no limit. A resource without a row has the
-- deployment's default (hoard serve's --max-* flags).

CREATE TABLE quotas (
    project_id TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
