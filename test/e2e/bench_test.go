package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore/mariadb"
)

// BenchmarkMariaDBCreateRestart measures, in the same run and interleaved
// so that both see the same machine load:
//
//   - create-to-ACTIVE through hoard's API (gophercloud create, then GET
//     until ACTIVE) against initialising and starting a bare mariadbd the
//     same way by hand (same config, same user, same readiness probe);
//   - restart-to-ACTIVE through the API against a bare stop+start.
//
// It reports the medians and their ratios (the targets are ≤ 1.3 and ≤ 1.2).
// Run it with `make bench`.
func BenchmarkMariaDBCreateRestart(b *testing.B) {
	benchEngineCreateRestart(b, "mysql", mariadb.New(mariadb.Config{}))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// startHoardB is startHoard for benchmarks (a *testing.T is needed by the
// harness; a benchmark has a *testing.B).
func startHoardB(b *testing.B, env ...string) *hoard {
	b.Helper()
	dataDir, err := os.MkdirTemp("", "hoard-bench-")
	if err != nil {
		b.Fatal(err)
	}
	h := &hoard{t: b, dataDir: dataDir, listen: freeAddr(b), pool: nextPool()}
	b.Cleanup(func() { h.destroy() })
	h.start(env...)
	return h
}

func waitStatusB(ctx context.Context, b *testing.B, sc *gophercloud.ServiceClient, id, want string) {
	b.Helper()
	waitFor(b, activeTimeout, "status "+want, func() bool {
		inst, err := instances.Get(ctx, sc, id).Extract()
		if err == nil && (inst.Status == "ERROR" || inst.Status == "FAILED") {
			b.Fatalf("instance %s went to %s", id, inst.Status)
		}
		return err == nil && inst.Status == want
	})
}
