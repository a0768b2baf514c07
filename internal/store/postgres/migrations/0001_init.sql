-- 0001: the first released PostgreSQL schema; the same tables as SQLite's
-- 0001_init.sql in PostgreSQL types. Timestamps are timestamptz, written at
-- second precision; NULL stands for the zero time.
-- Released migrations are never edited: add a new file instead.

CREATE TABLE instances (
    id                   text        NOT NULL PRIMARY KEY,
    tenant_id            text        NOT NULL,
    name                 text        NOT NULL,
    status               text        NOT NULL,
    deleting             boolean     NOT NULL DEFAULT false,
    flavor_id            integer     NOT NULL DEFAULT 0,
    volume_size          integer     NOT NULL DEFAULT 0,
    datastore            text        NOT NULL DEFAULT '',
    datastore_version    text        NOT NULL DEFAULT '',
    datastore_version_id text        NOT NULL DEFAULT '',
    address              text,                   -- NULL until assigned
    port                 integer     NOT NULL DEFAULT 0,
    admin_secret         bytea,
    fault_message        text,                   -- NULL when there is no fault
    fault_details        text,
    fault_created        timestamptz,
    created              timestamptz,
    updated              timestamptz
);
CREATE INDEX instances_tenant ON instances (tenant_id, id);
CREATE UNIQUE INDEX instances_address ON instances (address)
    WHERE address IS NOT NULL AND address <> '';

-- Tasks outlive their instance (a delete task finishes after the row is
-- gone), so there is no foreign key to instances.
CREATE TABLE tasks (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order, ties on created
    id          text        NOT NULL UNIQUE,
    instance_id text        NOT NULL,
    kind        text        NOT NULL,
    state       text        NOT NULL,
    step        integer     NOT NULL DEFAULT 0,
    owner       text        NOT NULL DEFAULT '',
    lease_until timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    payload     bytea,
    error       text        NOT NULL DEFAULT '',
    created     timestamptz,
    updated     timestamptz
);
CREATE INDEX tasks_claim ON tasks (created, seq) WHERE state IN ('pending', 'running');
CREATE INDEX tasks_instance ON tasks (instance_id);
-- At most one unfinished task per instance. The state gate checks this with
-- the instance row locked; the index is the safety net across replicas.
CREATE UNIQUE INDEX tasks_unfinished ON tasks (instance_id)
    WHERE state IN ('pending', 'running');

CREATE TABLE flavors (
    id    integer NOT NULL PRIMARY KEY,
    name  text    NOT NULL,
    ram   integer NOT NULL,
    vcpus integer NOT NULL,
    disk  integer NOT NULL
);

CREATE TABLE datastores (
    id                 text NOT NULL PRIMARY KEY,
    name               text NOT NULL UNIQUE,
    default_version_id text NOT NULL DEFAULT ''
);

CREATE TABLE datastore_versions (
    id           text    NOT NULL PRIMARY KEY,
    datastore_id text    NOT NULL REFERENCES datastores (id) ON DELETE CASCADE,
    name         text    NOT NULL,
    version      text    NOT NULL DEFAULT '',
    engine       text    NOT NULL DEFAULT '',
    active       boolean NOT NULL DEFAULT true,
    UNIQUE (datastore_id, name)
);

CREATE TABLE projects (
    id          text        NOT NULL PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    description text        NOT NULL DEFAULT '',
    enabled     boolean     NOT NULL DEFAULT true,
    created     timestamptz
);

CREATE TABLE users (
    id            text        NOT NULL PRIMARY KEY,
    name          text        NOT NULL UNIQUE,
    password_hash bytea,
    enabled       boolean     NOT NULL DEFAULT true,
    created       timestamptz
);

CREATE TABLE role_assignments (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    role       text NOT NULL,
    PRIMARY KEY (user_id, project_id, role)
);
CREATE INDEX role_assignments_project ON role_assignments (project_id);

CREATE TABLE tokens (
    hash       bytea       NOT NULL PRIMARY KEY,
    user_id    text        NOT NULL,
    project_id text        NOT NULL DEFAULT '',
    roles      text[]      NOT NULL DEFAULT '{}',
    methods    text[]      NOT NULL DEFAULT '{}',
    issued_at  timestamptz,
    expires_at timestamptz
);
CREATE INDEX tokens_expires ON tokens (expires_at);
