package postgres

import (
	"testing"

	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/store/storetest"
)

// TestUpgradeBackupType migrates a database holding a backup written
// before backups recorded their type.
func TestUpgradeBackupType(t *testing.T) {
	dsn := pgtest.DSN(t)
	old, err := open(t.Context(), dsn, storetest.BackupTypeVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	const loc = "http://10.0.0.7:9000/bkt/hoard/old-bk.xbstream.gz"
	_, err = old.pool.Exec(t.Context(), `INSERT INTO backups (id, tenant_id, name, instance_id, status, location, created, updated)
		VALUES ('old-bk', 'old-tenant', 'old', 'old-inst', 'COMPLETED', $1, now(), now())`, loc)
	old.Close()
	if err != nil {
		t.Fatal(err)
	}
	storetest.UpgradedBackup(t, openDSN(t, dsn), "old-tenant", "old-bk", loc)
}
