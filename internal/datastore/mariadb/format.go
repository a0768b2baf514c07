package mariadb

import "github.com/hoard-db/hoard/internal/datastore"

var _ datastore.ArtifactFormatter = (*Engine)(nil)

// artifactFormat is what Backup writes: a mariadb-backup xbstream
// (--stream=xbstream), full or incremental.
//
// The labels are Rackspace's, the only values its API reference gives a
// backup's "type": "InnoBackupEx" and "InnoBackupExIncremental", which
// Rackspace showed for its MySQL and MariaDB instances alike, and which
// Trove recorded for its innobackupex strategy. mariadb-backup is
// MariaDB's fork of XtraBackup (whose innobackupex was the strategy's tool)
// and writes the same kind of stream; Trove's later name for it,
// "mariabackup", is a configuration value that its API never shows.
// Keeping them also keeps the label every existing MariaDB backup has had.
var artifactFormat = datastore.ArtifactFormat{
	Type:            "InnoBackupEx",
	IncrementalType: "InnoBackupExIncremental",
	Ext:             ".xbstream.gz",
}

// ArtifactFormat implements datastore.ArtifactFormatter.
func (e *Engine) ArtifactFormat() datastore.ArtifactFormat { return artifactFormat }
