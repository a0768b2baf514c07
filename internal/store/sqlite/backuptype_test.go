package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/hoard-db/hoard/internal/store/storetest"
)

// TestUpgradeBackupType migrates a database holding a backup written
// before backups recorded their type.
func TestUpgradeBackupType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoard.db")
	old, err := open(t.Context(), path, storetest.BackupTypeVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	const loc = "file:///var/lib/hoard/backups/old-bk.xbstream.gz"
	_, err = old.db.ExecContext(t.Context(), `INSERT INTO backups (id, tenant_id, name, instance_id, status, location, created, updated)
		VALUES ('old-bk', 'old-tenant', 'old', 'old-inst', 'COMPLETED', ?, 1700000000, 1700000000)`, loc)
	old.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.UpgradedBackup(t, s, "old-tenant", "old-bk", loc)
}
