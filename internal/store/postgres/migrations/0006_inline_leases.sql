-- 0006: inline leases (store.InlineLeases): at most one inline engine
-- operation holds an instance at a time, until lease_until; a lease goes
-- with its instance.

CREATE TABLE inline_leases (
    instance_id text        NOT NULL PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    holder      text        NOT NULL,
    lease_until timestamptz NOT NULL
);
