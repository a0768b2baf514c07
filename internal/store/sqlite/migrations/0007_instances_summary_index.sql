-- 0007: a covering index for the summary list view. A tenant's page
-- (WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?) of the summary columns
-- is read from this index alone, without a lookup in the table per row. It
-- starts with (tenant_id, id), so it replaces instances_tenant.

CREATE INDEX instances_tenant_summary ON instances (tenant_id, id, name, status, flavor_id, volume_size,
    datastore, datastore_version, address);
DROP INDEX instances_tenant;
