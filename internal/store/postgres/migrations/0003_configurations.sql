-- 0003: configuration groups (API reference §14) and the parameter
-- catalogue of each datastore version; instances name their group.

ALTER TABLE instances ADD COLUMN configuration_id text NOT NULL DEFAULT '';

CREATE TABLE configurations (
    id                   text        NOT NULL PRIMARY KEY,
    tenant_id            text        NOT NULL,
    name                 text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    datastore            text        NOT NULL,
    datastore_version    text        NOT NULL,
    datastore_version_id text        NOT NULL,
    vals                 jsonb       NOT NULL DEFAULT '{}',
    created              timestamptz NOT NULL,
    updated              timestamptz NOT NULL
);

CREATE INDEX configurations_tenant ON configurations (tenant_id, id);
CREATE INDEX instances_configuration ON instances (configuration_id);

-- The catalogue is discovered from the engine once per version and kept
-- as JSON (a list of parameters).
CREATE TABLE datastore_parameters (
    datastore_version_id text        NOT NULL PRIMARY KEY,
    params               jsonb       NOT NULL,
    updated              timestamptz NOT NULL
);
