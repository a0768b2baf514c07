// Package engineproc holds the process plumbing the engine packages
// (datastore/mariadb, datastore/postgresql, datastore/redis) share around
// the server and tool programs they run. Today that is [Tail], the bounded
// buffer that keeps the end of a program's output for its error message.
// It knows no engine and imports nothing of hoard.
package engineproc
