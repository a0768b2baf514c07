-- 0014: the SQLite store's per-tenant change counters for its in-memory
-- list cache (sqlite/migrations/0014). The PostgreSQL store keeps no such
-- cache; this version exists so that both schemas keep one numbering.
SELECT 1;
