package storetest

import (
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// BackupTypeVersion is the schema version (migration 0009) from which
// backups record their type (model.Backup.Type).
const BackupTypeVersion = 9

// UpgradedBackup checks backup id of tenant, written as a COMPLETED
// backup at location by a schema older than BackupTypeVersion, in store s
// since migrated to the latest schema: it reads back (got and listed) with
// an empty Type and its location, and an update gives it a type.
func UpgradedBackup(t *testing.T, s store.Store, tenant, id, location string) {
	t.Helper()
	ctx := t.Context()
	b, err := s.GetBackup(ctx, tenant, id)
	noErr(t, "GetBackup(old row)", err)
	if b.Type != "" || b.Location != location || b.Status != model.BackupCompleted {
		t.Errorf("old backup after the upgrade: type %q, location %q, status %s; want no type, %q, COMPLETED",
			b.Type, b.Location, b.Status, location)
	}
	list, err := s.ListBackups(ctx, store.BackupFilter{TenantID: tenant}, 0, 0)
	noErr(t, "ListBackups(old row)", err)
	if len(list) != 1 || list[0].ID != id || list[0].Type != "" {
		t.Errorf("ListBackups after the upgrade = %+v, want only %s without a type", list, id)
	}
	_, err = s.UpdateBackup(ctx, id, func(b *model.Backup) error { b.Type = "InnoBackupEx"; return nil })
	noErr(t, "UpdateBackup(old row)", err)
	b, err = s.GetBackup(ctx, tenant, id)
	noErr(t, "GetBackup(old row, typed)", err)
	if b.Type != "InnoBackupEx" || b.Location != location {
		t.Errorf("old backup given a type: type %q, location %q; want InnoBackupEx, %q", b.Type, b.Location, location)
	}
}
