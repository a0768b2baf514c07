-- 0016: the PostgreSQL store's per-tenant change counters and change
-- notifications for its in-memory list cache (postgres/migrations/0016;
-- this store has had its counters since 0014). This version exists so that
-- both schemas keep one numbering.
SELECT 1;
