-- 0010: read replicas. replica_of names the source instance a replica
-- follows ('' for a source or a standalone instance); replication_secret
-- is the sealed password of a source's replication account.

ALTER TABLE instances ADD COLUMN replica_of text NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN replication_secret bytea;
CREATE INDEX instances_replica_of ON instances (replica_of) WHERE replica_of <> '';
