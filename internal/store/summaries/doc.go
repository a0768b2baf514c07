// Package summaries is the stores' in-memory cache of the summary list
// view (GET /instances): per listed tenant, a snapshot of its instances'
// summaries tagged with the tenant's generation, a change counter that
// the store's database raises on every change a list can see. A store
// serves a page from a snapshot only while it knows the generation is
// still the snapshot's (by reading it, or because nothing could have
// changed it since: Snapshot.Trusted), and rebuilds snapshots in the
// background (Cache.Refresh). The SQLite and PostgreSQL stores use it.
package summaries
