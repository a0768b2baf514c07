package datastore

// ArtifactFormat says what an engine's [Backuper.Backup] writes, as hoard
// labels and names it once gzip-compressed.
type ArtifactFormat struct {
	// Type is the label of a full backup, the API's backup "type" (a
	// Rackspace extra): the name of the backup strategy, as Trove recorded
	// it in a backup's backup_type ("InnoBackupEx", "PgBaseBackup").
	Type string
	// IncrementalType is the label of an incremental backup; "" for an
	// engine that makes full backups only (see [FullBackupsOnly]).
	IncrementalType string
	// Ext ends the artifact's storage key, with the ".gz" of hoard's
	// compression: how the stored file is unpacked (".xbstream.gz",
	// ".tar.gz"). It is made of [A-Za-z0-9._-] and starts with a dot.
	Ext string
}

// Label returns the type label of a backup: IncrementalType for an
// incremental one if the format has one, else Type.
func (f ArtifactFormat) Label(incremental bool) string {
	if incremental && f.IncrementalType != "" {
		return f.IncrementalType
	}
	return f.Type
}

// ArtifactFormatter is an optional [Backuper] capability: the format of
// the engine's backups. It is pure and constant.
type ArtifactFormatter interface {
	ArtifactFormat() ArtifactFormat
}

// genericFormat is the format of an engine without ArtifactFormatter: an
// unlabelled, compressed stream.
var genericFormat = ArtifactFormat{Ext: ".gz"}

// FormatOf returns e's artifact format: its ArtifactFormat if it is an
// ArtifactFormatter, else an unlabelled one with the extension ".gz".
func FormatOf(e Engine) ArtifactFormat {
	if f, ok := e.(ArtifactFormatter); ok {
		return f.ArtifactFormat()
	}
	return genericFormat
}
