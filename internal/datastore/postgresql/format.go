package postgresql

import "github.com/hoard-db/hoard/internal/datastore"

var _ datastore.ArtifactFormatter = (*Engine)(nil)

// artifactFormat is what Backup writes: the tar of pg_basebackup -Ft -Xf
// (FormatBaseTar), always full. "PgBaseBackup" is the name of Trove's
// pg_basebackup strategy (its backup_type, as "InnoBackupEx" is MySQL's).
var artifactFormat = datastore.ArtifactFormat{
	Type: "PgBaseBackup",
	Ext:  ".tar.gz",
}

// ArtifactFormat implements datastore.ArtifactFormatter.
func (e *Engine) ArtifactFormat() datastore.ArtifactFormat { return artifactFormat }
