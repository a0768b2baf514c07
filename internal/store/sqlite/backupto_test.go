package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// TestBackupTo copies a store that stays open (as under a serving hoard)
// and reads the copy back as a store.
func TestBackupTo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "hoard.db")
	st, err := Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	in := &model.Instance{ID: "snap-1", TenantID: "t", Name: "n", Status: model.StatusActive, FlavorID: 1, VolumeSize: 1, Created: now, Updated: now}
	if err := st.CreateInstance(ctx, in, nil, nil); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(dir, "copy.db")
	if err := BackupTo(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v, %v; want mode 0600", fi, err)
	}
	cp, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	got, err := cp.ListInstances(ctx, "", store.Page{Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != "snap-1" {
		t.Errorf("instances in the copy = %v, %v", got, err)
	}

	for name, c := range map[string]struct{ src, dst string }{
		"existing destination": {src, dst},
		"missing source":       {filepath.Join(dir, "none.db"), filepath.Join(dir, "x.db")},
	} {
		if err := BackupTo(ctx, c.src, c.dst); err == nil {
			t.Errorf("%s: BackupTo = nil, want an error", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a failed backup left its destination: %v", err)
	}
}
