package datastore

import (
	"context"
	"io"
)

// BackupRef is an earlier backup that an incremental backup builds on:
// its id and what the engine recorded about it when it was made.
type BackupRef struct {
	ID   string
	Meta map[string]string
}

// Backuper is an optional Engine capability: physical, consistent backups
// of a running server, and restores of them into a new data directory.
// Both run as hoard's own OS user (root on a real host) on the machine of
// the instance, reading and writing the directories of spec directly.
type Backuper interface {
	// Backup writes a consistent backup of the running server of spec,
	// reached as c, to w while the server keeps serving reads and writes.
	// With parent nil the backup is full; otherwise it holds only the
	// changes since parent (whose Meta came from an earlier Backup). It
	// returns what must be recorded with the backup (its Meta). The
	// password of c never appears on a command line. work is an empty
	// private scratch directory that the caller removes; a cancelled ctx
	// kills the tool, and so does the end of the hoard process.
	Backup(ctx context.Context, c Conn, spec Spec, work string, w io.Writer, parent *BackupRef) (map[string]string, error)
	// Restore fills spec.DataDir, which must be empty, from chain: the
	// streams of a full backup followed by its incrementals, oldest first.
	// work is an empty private scratch directory that the caller removes.
	// The files are left owned by hoard's user; the caller hands them to
	// the instance user. On error spec.DataDir may hold partial files: the
	// caller empties it before trying again.
	Restore(ctx context.Context, spec Spec, work string, chain []io.Reader) error
}

// FullBackupsOnly is an optional Backuper capability: an engine that has it
// makes only full backups, so the service refuses incremental backup
// requests for it at once (fault.NotImplemented) instead of failing the
// backup later. Its Backup refuses a parent as well, and its Restore a
// chain of more than one stream.
type FullBackupsOnly interface {
	FullBackupsOnly()
}
