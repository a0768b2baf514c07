-- 0014: a generation number per tenant, raised by every change to that
-- tenant's instances that the summary list view can see. The store keeps
-- each tenant's summaries in memory and serves pages from there while the
-- tenant's generation is the one they were read at (see summaries.go). The
-- triggers count every change whoever makes it, so no write path can leave
-- a stale list behind. A tenant without a row is at generation 0.

CREATE TABLE instance_generations (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    n         INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER instance_generations_insert AFTER INSERT ON instances
BEGIN
    INSERT INTO instance_generations (tenant_id, n) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER instance_generations_delete AFTER DELETE ON instances
BEGIN
    INSERT INTO instance_generations (tenant_id, n) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1;
END;

-- An update raises the old tenant's generation and, if it moved, the new
-- one's. Only the columns of the summary view (and replica_of, which a list
-- may filter on) count.
CREATE TRIGGER instance_generations_update AFTER UPDATE OF id, tenant_id, name, status, flavor_id,
    volume_size, datastore, datastore_version, address, replica_of ON instances
BEGIN
    INSERT INTO instance_generations (tenant_id, n) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1;
    INSERT INTO instance_generations (tenant_id, n) SELECT NEW.tenant_id, 1 WHERE NEW.tenant_id <> OLD.tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1;
END;
