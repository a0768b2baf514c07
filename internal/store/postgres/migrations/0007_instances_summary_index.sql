-- 0007: a covering index for the summary list view: a tenant's page
-- (WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3) of the summary
-- columns can be an index-only scan. It starts with (tenant_id, id), so it
-- replaces instances_tenant.

CREATE INDEX instances_tenant_summary ON instances (tenant_id, id)
    INCLUDE (name, status, flavor_id, volume_size, datastore, datastore_version, address);
DROP INDEX instances_tenant;
