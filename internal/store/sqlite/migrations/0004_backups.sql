-- 0004: backups (reference §13) and automated backup schedules (§17.2).
-- Backups have no foreign key to instances: they outlive their instance.

CREATE TABLE backups (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant_id            TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL DEFAULT '',
    instance_id          TEXT    NOT NULL,
    parent_id            TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL,
    automated            INTEGER NOT NULL DEFAULT 0,
    datastore            TEXT    NOT NULL DEFAULT '',
    datastore_version    TEXT    NOT NULL DEFAULT '',
    datastore_version_id TEXT    NOT NULL DEFAULT '',
    volume_size          INTEGER NOT NULL DEFAULT 0,
    flavor_id            INTEGER NOT NULL DEFAULT 0,
    size                 INTEGER NOT NULL DEFAULT 0,
    location             TEXT    NOT NULL DEFAULT '',
    checksum             TEXT    NOT NULL DEFAULT '',
    meta                 TEXT    NOT NULL DEFAULT '{}',
    admin_secret         BLOB,
    fault                TEXT    NOT NULL DEFAULT '',
    created              INTEGER NOT NULL,
    updated              INTEGER NOT NULL
);
CREATE INDEX backups_tenant ON backups (tenant_id, created);
CREATE INDEX backups_instance ON backups (instance_id);
CREATE INDEX backups_parent ON backups (parent_id);

CREATE TABLE schedules (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    instance_id    TEXT    NOT NULL UNIQUE,
    day_of_week    INTEGER NOT NULL,
    hour           INTEGER NOT NULL,
    minute         INTEGER NOT NULL,
    retention      INTEGER NOT NULL,
    next_run       INTEGER NOT NULL DEFAULT 0,
    last_scheduled INTEGER NOT NULL DEFAULT 0,
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL
);
