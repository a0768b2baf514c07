-- 0011: Rackspace HA instance groups. ha_groups holds a group's identity
-- and address as columns and the rest of it (state, members wanted, ACLs,
-- pending replicas, events) as JSON in spec; instances.ha_id names the
-- group an instance is a member of ('' for none).

ALTER TABLE instances ADD COLUMN ha_id text NOT NULL DEFAULT '';
CREATE INDEX instances_ha_id ON instances (ha_id) WHERE ha_id <> '';

CREATE TABLE ha_groups (
    id        text PRIMARY KEY,
    tenant_id text NOT NULL,
    name      text NOT NULL,
    address   text NOT NULL UNIQUE,
    spec      jsonb NOT NULL,
    created   timestamptz NOT NULL,
    updated   timestamptz NOT NULL
);
CREATE INDEX ha_groups_tenant ON ha_groups (tenant_id, id);
