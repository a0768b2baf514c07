// Package pgtest starts throwaway PostgreSQL 15 servers for tests.
//
// A test binary shares one server and gives each test a fresh database:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.DSN(t) // an empty database, dropped when t ends
//		...
//	}
//
// [Start] gives a test a server of its own instead, stopped and removed
// when the test ends.
//
// The server runs from /usr/lib/postgresql/15/bin (override with
// HOARD_PG_BIN) in a temporary directory, listening on a free port of
// 127.0.0.1 with trust authentication and fsync off: it is fast and holds
// nothing worth keeping. PostgreSQL refuses to run as root, so as root the
// server runs as the hoard system user (created if missing), which is also
// what hoard uses for engines. Tests are skipped when PostgreSQL is not
// installed, unless HOARD_REQUIRE_PG is set (CI), which makes that a failure.
package pgtest
