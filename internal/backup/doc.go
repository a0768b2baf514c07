// Package backup stores backup artifacts: a [Storage] interface with Put,
// Get, Stat and Delete by key, a local-directory implementation ([Dir], the
// default, under the data directory) and an S3-compatible one ([S3]) for
// several machines. It also holds the artifact format helpers: artifacts
// are gzip-compressed engine streams whose SHA-256 is recorded in the
// metadata store and checked ([Verify]) before a restore.
package backup
