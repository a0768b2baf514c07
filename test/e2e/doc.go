// Package e2e drives the real hoard binary end to end: it builds it, runs
// `hoard serve` against real MariaDB engines, logs in through the built-in
// identity service with gophercloud, and checks every effect with real
// connections. It also kills hoard and engines with SIGKILL to test recovery.
//
// The tests need root (engines run as the hoard system user) and MariaDB
// from Debian packages; scripts/install-deps installs it.
package e2e
