package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestResize resizes the flavor (the engine restarts with the new flavor's
// memory settings, data kept) and the volume, with the refusals of
// reference §9.3.
func TestResize(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	inst, err := instances.Create(ctx, sc, createOpts("resize-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := instances.Resize(ctx, sc, inst.ID, "2").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
		t.Errorf("resize while BUILD: %v, want 422", err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (v VARCHAR(10))"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT @@global.innodb_buffer_pool_size"); got != "268435456" {
		t.Errorf("buffer pool with flavor 1 = %s, want 256M", got)
	}

	for _, tt := range []struct {
		ref  string
		want int
	}{
		{"1", http.StatusBadRequest},
		{"99", http.StatusBadRequest},
	} {
		if err := instances.Resize(ctx, sc, inst.ID, tt.ref).ExtractErr(); !gophercloud.ResponseCodeIs(err, tt.want) {
			t.Errorf("resize to flavor %s: %v, want %d", tt.ref, err, tt.want)
		}
	}
	if err := instances.Resize(ctx, sc, inst.ID, "2").ExtractErr(); err != nil {
		t.Fatalf("resize: %v", err)
	}
	if got, err := instances.Get(ctx, sc, inst.ID).Extract(); err == nil && got.Status != "RESIZE" && got.Status != "ACTIVE" {
		t.Errorf("status right after resize = %s, want RESIZE", got.Status)
	}
	after := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if after.Flavor.ID != "2" {
		t.Errorf("flavor after resize = %s, want 2", after.Flavor.ID)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT @@global.innodb_buffer_pool_size"); got != "536870912" {
		t.Errorf("buffer pool with flavor 2 = %s, want 512M", got)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT v FROM shop.kept"); got != "before" {
		t.Errorf("data after resize = %q", got)
	}

	// Volume: only larger, at most the maximum (10 GB by default).
	for _, tt := range []struct{ size, want int }{
		{1, http.StatusBadRequest},
		{11, http.StatusRequestEntityTooLarge},
	} {
		if err := instances.ResizeVolume(ctx, sc, inst.ID, tt.size).ExtractErr(); !gophercloud.ResponseCodeIs(err, tt.want) {
			t.Errorf("resize volume to %d: %v, want %d", tt.size, err, tt.want)
		}
	}
	if err := instances.ResizeVolume(ctx, sc, inst.ID, 2).ExtractErr(); err != nil {
		t.Fatalf("resize volume: %v", err)
	}
	after = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if after.Volume.Size != 2 || after.Volume.Used <= 0 {
		t.Errorf("volume after resize = %+v, want size 2 and real usage", after.Volume)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT v FROM shop.kept"); got != "before" {
		t.Errorf("data after volume resize = %q", got)
	}
	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, inst.ID, activeTimeout)
}
