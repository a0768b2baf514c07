package storetest

import (
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// testRootHistory checks store.RootHistory on stores that implement it.
func testRootHistory(t *testing.T, s store.Store) {
	var rh store.RootHistory = s
	ctx := t.Context()
	inst := newInstance("tenant-a", "inst-root", model.StatusActive)
	mustCreate(t, s, inst, nil)

	_, err := rh.RootEnabledAt(ctx, inst.ID)
	wantErr(t, "RootEnabledAt(never)", err, store.ErrNotFound)
	wantErr(t, "RecordRootEnabled(missing)", rh.RecordRootEnabled(ctx, "no-such", "u", t0), store.ErrNotFound)

	noErr(t, "RecordRootEnabled", rh.RecordRootEnabled(ctx, inst.ID, "user-1", t0.In(zone)))
	noErr(t, "RecordRootEnabled again", rh.RecordRootEnabled(ctx, inst.ID, "user-2", t0.Add(time.Hour)))
	at, err := rh.RootEnabledAt(ctx, inst.ID)
	noErr(t, "RootEnabledAt", err)
	if want := t0.UTC().Truncate(time.Second); !at.Equal(want) || at.Location() != time.UTC {
		t.Errorf("RootEnabledAt = %v, want the first record %v in UTC", at, want)
	}

	noErr(t, "DeleteInstance", s.DeleteInstance(ctx, inst.ID))
	_, err = rh.RootEnabledAt(ctx, inst.ID)
	wantErr(t, "RootEnabledAt(deleted instance)", err, store.ErrNotFound)
}
