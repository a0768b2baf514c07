package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
)

// TestHACrashResume kills hoard with SIGKILL at step boundaries of an HA
// group's life: its source's create, the replica an add_replica makes, and
// the failover's promotion; each time hoard starts again on the same data
// directory and the group must converge by itself: ACTIVE with the
// replicas it keeps, the ejected source gone, one engine per member.
func TestHACrashResume(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	crashAt := func(t *testing.T, spec string, act func()) { sc = h.crashAt(ctx, t, spec, &sc, act) }
	whole := func(t *testing.T, id string, replicas int) haView {
		t.Helper()
		v := waitHA(ctx, t, sc, id, "the group ACTIVE and whole", 4*time.Minute, func(v haView) bool {
			return v.HA.State == "ACTIVE" && len(v.HA.Replicas) == replicas && len(v.HA.ReplicaSource) == 1
		})
		waitFor(t, time.Minute, "one engine per member", func() bool { return len(enginePIDs(h.dataDir)) == replicas+1 })
		return v
	}

	var id string
	t.Run("create:activate:before", func(t *testing.T) {
		crashAt(t, "create:activate:before", func() {
			var out haView
			_, err := sc.Post(ctx, sc.ServiceURL("ha"), map[string]any{"ha": map[string]any{
				"name":           "crash-ha",
				"datastore":      map[string]string{"type": "mysql"},
				"replica_source": []map[string]any{{"flavorRef": "1", "volume": map[string]int{"size": 1}}},
				"replicas":       []map[string]any{{"flavorRef": "1", "volume": map[string]int{"size": 1}}},
			}}, &out, &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}})
			if err != nil {
				t.Fatal(err)
			}
			id = out.HA.ID
		})
		whole(t, id, 1)
	})
	if id == "" {
		t.FailNow()
	}
	t.Run("replica_create:seed:after", func(t *testing.T) {
		crashAt(t, "replica_create:seed:after", func() {
			_, err := sc.Post(ctx, sc.ServiceURL("ha", id, "action"), map[string]any{"add_replica": map[string]any{
				"replica_details": map[string]any{"name": "crash-r2", "flavorRef": "1", "volume": map[string]int{"size": 1}}}},
				nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}})
			if err != nil && !acceptedOrCut(err) {
				t.Fatal(err)
			}
		})
		whole(t, id, 2)
	})
	t.Run("eject:promote:after", func(t *testing.T) {
		v, err := getHA(ctx, sc, id)
		if err != nil {
			t.Fatal(err)
		}
		src := v.HA.ReplicaSource[0].ID
		crashAt(t, "eject:promote:after", func() {
			dataDir := instanceDataDir(t, h, src)
			if err := os.Chmod(dataDir, 0); err != nil {
				t.Fatal(err)
			}
			for _, pid := range instanceProcs(dataDir[:strings.Index(dataDir, src)+len(src)]) {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
		})
		v = whole(t, id, 2)
		if v.HA.ReplicaSource[0].ID == src {
			t.Errorf("the killed source %s is still the group's source", src)
		}
		waitGone(ctx, t, sc, src, time.Minute)
	})
	if _, err := sc.Delete(ctx, sc.ServiceURL("ha", id), &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "every member's engine gone", func() bool { return len(enginePIDs(h.dataDir)) == 0 })
}
