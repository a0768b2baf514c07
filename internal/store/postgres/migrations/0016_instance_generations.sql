-- 0016: a generation number per tenant, raised by every change to that
-- tenant's instances that the summary list view can see, and a
-- notification on channel hoard_instances (payload: the tenant id) at
-- commit. Each store process keeps the summaries of listed tenants in
-- memory (package summaries) and serves pages from there while the
-- generation is the one they were read at; it listens on the channel to
-- learn of changes committed by other hoard processes without asking. The
-- trigger counts every change whoever makes it. A tenant without a row is
-- at generation 0.

CREATE TABLE instance_generations (
    tenant_id text   NOT NULL PRIMARY KEY,
    n         bigint NOT NULL
);

CREATE FUNCTION hoard_instance_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO instance_generations (tenant_id, n) VALUES (OLD.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET n = instance_generations.n + 1;
        PERFORM pg_notify('hoard_instances', OLD.tenant_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id <> OLD.tenant_id) THEN
        INSERT INTO instance_generations (tenant_id, n) VALUES (NEW.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET n = instance_generations.n + 1;
        PERFORM pg_notify('hoard_instances', NEW.tenant_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER instance_generations_insert_delete AFTER INSERT OR DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION hoard_instance_generation();

-- An update counts only when a column of the summary view (or replica_of,
-- which a list may filter on) changed.
CREATE TRIGGER instance_generations_update AFTER UPDATE ON instances
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
        OR OLD.name IS DISTINCT FROM NEW.name OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.flavor_id IS DISTINCT FROM NEW.flavor_id OR OLD.volume_size IS DISTINCT FROM NEW.volume_size
        OR OLD.datastore IS DISTINCT FROM NEW.datastore OR OLD.datastore_version IS DISTINCT FROM NEW.datastore_version
        OR OLD.address IS DISTINCT FROM NEW.address OR OLD.replica_of IS DISTINCT FROM NEW.replica_of)
    EXECUTE FUNCTION hoard_instance_generation();
