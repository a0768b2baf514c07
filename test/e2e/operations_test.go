package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

// TestOperations runs the operator's day on a Redis instance: a key
// acknowledged more than a second before a kill -9 of redis-server
// survives (the append-only file); stopping hoard leaves the engine
// running and says so; hoard stop-all stops it; the next hoard serve
// starts it again with its data.
func TestOperations(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	inst, err := instances.Create(ctx, sc, instances.CreateOpts{
		Name: "durable", FlavorRef: "1", Size: 1,
		Users:     users.BatchCreateOpts{{Name: "app", Password: "app-pw-123"}},
		Datastore: &instances.DatastoreOpts{Type: "redis"},
	}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	addr := inst.IP[0]
	instDir := filepath.Join(h.dataDir, "instances", inst.ID)
	c := redisClient(t, addr, "app", "app-pw-123")
	if err := c.Set(ctx, "acked", "before-the-kill", 0).Err(); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	// The premise, not a synchronisation: more than one appendfsync period.
	waitFor(t, 5*time.Second, "a second past the ack", func() bool { return time.Since(acked) > 1100*time.Millisecond })
	before := instanceProcs(instDir)
	if len(before) == 0 {
		t.Fatal("no engine process")
	}
	for _, pid := range before {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// Supervision restarts the engine; the key is there once it answers.
	var got string
	waitFor(t, time.Minute, "the restarted engine to answer with the key", func() bool {
		pids := instanceProcs(instDir)
		if len(pids) == 0 || slices.Contains(pids, before[0]) {
			return false
		}
		got, err = c.Get(ctx, "acked").Result()
		return err == nil
	})
	if got != "before-the-kill" {
		t.Fatalf("after kill -9: GET acked = %q, want the acknowledged value", got)
	}

	// Stopping hoard leaves the engine running, and the log says how to stop it.
	h.stop()
	if !strings.Contains(h.logs(), "hoard stop-all --data-dir") {
		t.Errorf("the shutdown log does not name hoard stop-all:\n%s", h.logs())
	}
	if len(instanceProcs(instDir)) == 0 {
		t.Fatal("the engine stopped with hoard")
	}
	out, err := exec.Command(hoardBin, "stop-all", "--data-dir", h.dataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), inst.ID) {
		t.Fatalf("hoard stop-all: %v\n%s", err, out)
	}
	if pids := instanceProcs(instDir); len(pids) != 0 {
		t.Errorf("engine processes %v after stop-all", pids)
	}

	// The next hoard starts the engine again, with its data.
	h.start()
	sc = h.client(ctx)
	waitFor(t, time.Minute, "the engine to run again", func() bool { return len(instanceProcs(instDir)) > 0 })
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	waitFor(t, time.Minute, "the key after stop-all and a new start", func() bool {
		got, err = c.Get(ctx, "acked").Result()
		return err == nil
	})
	if got != "before-the-kill" {
		t.Errorf("after stop-all: GET acked = %q", got)
	}
	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, inst.ID, time.Minute)
}
