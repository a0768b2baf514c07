// Package sqlite implements [store.Store] on SQLite, using the pure-Go driver
// modernc.org/sqlite through database/sql.
//
// The schema is created and upgraded by embedded, numbered migrations
// (migrations/0001_init.sql, ...) that [Open] applies, each in its own
// transaction, recording them in the schema_migrations table. Released
// migrations are never edited; a schema change is a new file, and a snapshot
// of each released schema lives in testdata/ so that upgrades from it are
// tested.
//
// The database runs in WAL mode with foreign keys on and a busy timeout.
// Every write transaction starts with BEGIN IMMEDIATE, so it holds SQLite's
// single write lock from its first statement: the read-check-write of a state
// gate can never interleave with another writer. Timestamps are stored as
// integer Unix seconds and returned as [time.Time] in UTC.
package sqlite
