-- 0006: inline leases (store.InlineLeases): at most one inline engine
-- operation holds an instance at a time, until lease_until (Unix seconds);
-- a lease goes with its instance.

CREATE TABLE inline_leases (
    instance_id TEXT    NOT NULL PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    holder      TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);
