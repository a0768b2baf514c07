-- 0001: the first released schema. Timestamps are integer Unix seconds (UTC).
-- Released migrations are never edited: add a new file instead.

CREATE TABLE instances (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant_id            TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    deleting             INTEGER NOT NULL DEFAULT 0,
    flavor_id            INTEGER NOT NULL DEFAULT 0,
    volume_size          INTEGER NOT NULL DEFAULT 0,
    datastore            TEXT    NOT NULL DEFAULT '',
    datastore_version    TEXT    NOT NULL DEFAULT '',
    datastore_version_id TEXT    NOT NULL DEFAULT '',
    address              TEXT,              -- NULL until assigned
    port                 INTEGER NOT NULL DEFAULT 0,
    admin_secret         BLOB,
    fault_message        TEXT,              -- NULL when there is no fault
    fault_details        TEXT,
    fault_created        INTEGER,
    created              INTEGER NOT NULL,
    updated              INTEGER NOT NULL
);
CREATE INDEX instances_tenant ON instances (tenant_id, id);
CREATE UNIQUE INDEX instances_address ON instances (address)
    WHERE address IS NOT NULL AND address <> '';

-- Tasks outlive their instance (a delete task finishes after the row is
-- gone), so there is no foreign key to instances.
CREATE TABLE tasks (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order, ties on created
    id          TEXT    NOT NULL UNIQUE,
    instance_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,
    owner       TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    payload     BLOB,
    error       TEXT    NOT NULL DEFAULT '',
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL
);
CREATE INDEX tasks_claim ON tasks (state, lease_until);
CREATE INDEX tasks_instance ON tasks (instance_id);
-- At most one unfinished task per instance. The state gate checks this in
-- its transaction; the index is the safety net.
CREATE UNIQUE INDEX tasks_unfinished ON tasks (instance_id)
    WHERE state IN ('pending', 'running');

CREATE TABLE flavors (
    id    INTEGER NOT NULL PRIMARY KEY,
    name  TEXT    NOT NULL,
    ram   INTEGER NOT NULL,
    vcpus INTEGER NOT NULL,
    disk  INTEGER NOT NULL
);

CREATE TABLE datastores (
    id                 TEXT NOT NULL PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    default_version_id TEXT NOT NULL DEFAULT ''
);

CREATE TABLE datastore_versions (
    id           TEXT    NOT NULL PRIMARY KEY,
    datastore_id TEXT    NOT NULL REFERENCES datastores (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    version      TEXT    NOT NULL DEFAULT '',
    engine       TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1,
    UNIQUE (datastore_id, name)
);

CREATE TABLE projects (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created     INTEGER NOT NULL
);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash BLOB,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created       INTEGER NOT NULL
);

CREATE TABLE role_assignments (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id, role)
);
CREATE INDEX role_assignments_project ON role_assignments (project_id);

CREATE TABLE tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    project_id TEXT    NOT NULL DEFAULT '',
    roles      TEXT    NOT NULL DEFAULT '[]', -- JSON array
    methods    TEXT    NOT NULL DEFAULT '[]', -- JSON array
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_expires ON tokens (expires_at);
