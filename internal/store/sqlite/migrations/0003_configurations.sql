-- 0003: configuration groups (API reference §14) and the parameter
-- catalogue of each datastore version; instances name their group.

ALTER TABLE instances ADD COLUMN configuration_id TEXT NOT NULL DEFAULT '';

CREATE TABLE configurations (
    id                   TEXT    NOT NULL PRIMARY KEY,
    tenant_id            TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL DEFAULT '',
    datastore            TEXT    NOT NULL,
    datastore_version    TEXT    NOT NULL,
    datastore_version_id TEXT    NOT NULL,
    vals                 TEXT    NOT NULL DEFAULT '{}',
    created              INTEGER NOT NULL,
    updated              INTEGER NOT NULL
);

CREATE INDEX configurations_tenant ON configurations (tenant_id, id);
CREATE INDEX instances_configuration ON instances (configuration_id);

-- The catalogue is discovered from the engine once per version and kept
-- as JSON (a list of parameters).
CREATE TABLE datastore_parameters (
    datastore_version_id TEXT    NOT NULL PRIMARY KEY,
    params               TEXT    NOT NULL,
    updated              INTEGER NOT NULL
);
