// Package postgres implements [store.Store] on PostgreSQL (15 or later),
// using pgx through a connection pool, so that several hoard replicas can
// share one metadata store.
//
// # Schema
//
// The schema is created and upgraded by embedded, numbered migrations
// (migrations/0001_init.sql, ...) in PostgreSQL's dialect, recorded in the
// schema_migrations table as in package sqlite. [Open] applies the pending
// ones while holding a session advisory lock, so replicas that start at the
// same time migrate one after the other. Released migrations are never
// edited; a schema change is a new file.
//
// # Concurrency across replicas
//
// Every transaction runs at READ COMMITTED. Where SQLite relies on its
// single write lock, this package takes row locks:
//   - [Store.ClaimTask] picks its task with SELECT ... FOR UPDATE SKIP LOCKED,
//     so concurrent claimers never wait for nor take the same task;
//   - the state gate ([Store.StartAction]) and [Store.UpdateInstance] lock
//     the instance row (SELECT ... FOR UPDATE) before they read it, and a
//     partial unique index allows one unfinished task per instance as a
//     backstop;
//   - address assignment and catalog writes serialise on a transaction
//     advisory lock.
//
// Timestamps are stored as timestamptz at second precision (NULL for the
// zero time) and returned as [time.Time] in UTC.
package postgres
