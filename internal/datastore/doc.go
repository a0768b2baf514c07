// Package datastore defines what an engine package (mariadb, and later
// postgresql and redis) provides to the rest of hoard: how to lay out, init,
// start, probe and stop one server process, and the operations inside the
// engine (hoard's admin account, databases, users). Engine-specific SQL and
// commands stay in the engine's own package.
package datastore
