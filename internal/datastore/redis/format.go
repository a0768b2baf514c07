package redis

import "github.com/hoard-db/hoard/internal/datastore"

var _ datastore.ArtifactFormatter = (*Engine)(nil)

// artifactFormat is what Backup writes: a tar of the RDB snapshot and the
// ACL file (FormatRDBTar), always full; hence ".tar.gz", not ".rdb.gz":
// the extension says how the file is unpacked. "RedisBackup" is the name
// of Trove's Redis strategy (its backup_type).
var artifactFormat = datastore.ArtifactFormat{
	Type: "RedisBackup",
	Ext:  ".tar.gz",
}

// ArtifactFormat implements datastore.ArtifactFormatter.
func (e *Engine) ArtifactFormat() datastore.ArtifactFormat { return artifactFormat }
