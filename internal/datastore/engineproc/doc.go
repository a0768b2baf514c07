// Package engineproc holds the process plumbing the engine packages
// (datastore/mariadb, datastore/postgresql, datastore/redis) share around
// the server and tool programs they run: [Find], the lookup of a program in
// a configured directory or PATH and the distribution's fallback
// directories, [IsExecutable]; [VersionOutput], the `--version` run that
// version discovery parses; [Throwaway], a server started for a moment,
// polled until it answers and stopped with SIGTERM escalating to SIGKILL of
// its process group; and [Tail], the bounded buffer that keeps the end of a
// program's output for its error message.
// It knows no engine and imports nothing of hoard.
package engineproc
