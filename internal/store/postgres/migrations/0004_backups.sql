-- 0004: backups (reference §13) and automated backup schedules (§17.2), as
-- sqlite's 0004_backups.sql in PostgreSQL types. Backups have no foreign
-- key to instances: they outlive their instance.

CREATE TABLE backups (
    id                   text        NOT NULL PRIMARY KEY,
    tenant_id            text        NOT NULL,
    name                 text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    instance_id          text        NOT NULL,
    parent_id            text        NOT NULL DEFAULT '',
    status               text        NOT NULL,
    automated            boolean     NOT NULL DEFAULT false,
    datastore            text        NOT NULL DEFAULT '',
    datastore_version    text        NOT NULL DEFAULT '',
    datastore_version_id text        NOT NULL DEFAULT '',
    volume_size          integer     NOT NULL DEFAULT 0,
    flavor_id            integer     NOT NULL DEFAULT 0,
    size                 bigint      NOT NULL DEFAULT 0,
    location             text        NOT NULL DEFAULT '',
    checksum             text        NOT NULL DEFAULT '',
    meta                 text        NOT NULL DEFAULT '{}',
    admin_secret         bytea,
    fault                text        NOT NULL DEFAULT '',
    created              timestamptz NOT NULL,
    updated              timestamptz NOT NULL
);
CREATE INDEX backups_tenant ON backups (tenant_id, created);
CREATE INDEX backups_instance ON backups (instance_id);
CREATE INDEX backups_parent ON backups (parent_id);

CREATE TABLE schedules (
    id             text        NOT NULL PRIMARY KEY,
    tenant_id      text        NOT NULL,
    instance_id    text        NOT NULL UNIQUE,
    day_of_week    integer     NOT NULL,
    hour           integer     NOT NULL,
    minute         integer     NOT NULL,
    retention      integer     NOT NULL,
    next_run       timestamptz,
    last_scheduled timestamptz,
    created        timestamptz NOT NULL,
    updated        timestamptz NOT NULL
);
