// Package enginetest runs real engine servers for tests: one
// implementation of the harness every engine package (mariadb, postgresql,
// redis) uses for its integration tests.
//
// [Start] lays out an instance directory under /tmp the way the local
// driver does (data, run and log directories owned by the instance user,
// a configuration directory the server can read but not write), renders
// the engine's configuration, runs its init command and its server as the
// hoard user in their own session, and polls the engine's Ping until it
// answers. The returned [Server] can be stopped, started and restarted;
// t.Cleanup kills its whole session and removes its directory.
//
// A missing engine skips the test, unless the environment variable
// HOARD_REQUIRE_ENGINES is set (scripts/test sets it): then it fails the
// test, so that CI never silently skips real-engine tests. [Unavailable]
// applies the same rule to other tests (the end-to-end suite).
package enginetest
