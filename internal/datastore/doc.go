// Package datastore defines what an engine package (datastore/mariadb,
// datastore/postgresql, datastore/redis) provides to the rest of hoard.
//
// [Engine] is what every engine has: its names, default port, installed
// versions, the [Process] recipe (configuration files, init and server
// command lines, stop signal, socket) a driver uses to run one server, and
// the few operations inside a running engine that every instance needs
// (readiness Ping, Bootstrap of hoard's admin account, the users of a
// create). Everything else is an optional capability an engine may
// implement, found with a type assertion: [Validator], [Preparer],
// [AdminChecker], [DatabaseAdmin], [UserAdmin], [RootAdmin],
// [Configurable], [MemorySizer], [Backuper], [FullBackupsOnly],
// [ArtifactFormatter] (the label and file extension of its backups),
// [Containerized] (what its container needs on Kubernetes),
// [UnreachableClassifier] (its client library's "connection lost"
// errors, for [Unreachable]), [Replicator] (read replicas), [Switchover]
// (changing a replication set's source), [AccountsNotReplicated],
// [Logger] (the logs of the guest log API) and [AccessReloader] (an engine
// that enforces Spec.AllowedSources itself).
//
// No engine name is spelled outside the engine packages and the wiring in
// cmd/hoard (internal/depcheck enforces it): what the rest of hoard needs
// to know of an engine, it asks through these interfaces.
//
// Engine-specific SQL, commands and version quirks stay in the engine's own
// package; datastore/enginetest holds the helpers their tests share.
package datastore
