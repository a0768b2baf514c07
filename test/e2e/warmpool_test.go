package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// warmReady reads hoard_warm_pool_ready of datastore from /metrics; -1
// when the series is missing.
func warmReady(h *hoard, datastore string) int {
	resp, err := http.Get("http://" + h.listen + "/metrics")
	if err != nil {
		return -1
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	prefix := `hoard_warm_pool_ready{datastore="` + datastore + `",`
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			_, v, _ := strings.Cut(line, "} ")
			n, err := strconv.Atoi(v)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// instanceDirs lists the instance directories of hoard's data directory.
func instanceDirs(t testing.TB, h *hoard) []string {
	t.Helper()
	ents, err := os.ReadDir(h.dataDir + "/instances")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWarmPool: with --warm-pool, a create is handed an instance whose
// engine was started before the request, with the request's database and
// user made in it; the engine is a real one (it restarts and keeps the
// data), the pool refills, and a hoard started without --warm-pool deletes
// the pool's instances.
func TestWarmPool(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t, "HOARD_WARM_POOL=mysql=1,flavor=1,volume=1")
	sc := h.client(ctx)
	waitFor(t, 3*time.Minute, "a warm MariaDB instance", func() bool { return warmReady(h, "mysql") == 1 })
	before := instanceDirs(t, h)
	if len(before) != 1 {
		t.Fatalf("instance directories before the create: %v, want the pool's one", before)
	}

	inst, err := instances.Create(ctx, sc, createOpts("warm")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(before, inst.ID) {
		t.Errorf("the create made instance %s, not the pool's %v", inst.ID, before)
	}
	got := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", 2*time.Minute)
	db := openDB(t, got.IP[0], "app", "app-pw-123", "shop")
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (7)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", 2*time.Minute)
	var v int
	if err := openDB(t, got.IP[0], "app", "app-pw-123", "shop").QueryRowContext(ctx, "SELECT id FROM t").Scan(&v); err != nil || v != 7 {
		t.Fatalf("after a restart: %d, %v", v, err)
	}

	// The pool refills with another instance.
	waitFor(t, 3*time.Minute, "the warm pool refilled", func() bool { return warmReady(h, "mysql") == 1 })
	dirs := instanceDirs(t, h)
	if len(dirs) != 2 || !slices.Contains(dirs, inst.ID) {
		t.Fatalf("instance directories after the refill: %v, want %s and the pool's", dirs, inst.ID)
	}

	// Without --warm-pool, the pool's instance goes; the tenant's stays.
	h.stop()
	h.start()
	sc = h.client(ctx)
	waitFor(t, 2*time.Minute, "the warm pool's instance deleted", func() bool {
		d := instanceDirs(t, h)
		return len(d) == 1 && d[0] == inst.ID
	})
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", time.Minute)
	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, inst.ID, 2*time.Minute)
}
