package e2e

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestCrashResume kills hoard with SIGKILL at step boundaries of create,
// restart and delete (HOARD_TEST_CRASH_AT makes the real binary kill itself
// there), starts it again on the same data directory, and checks that every
// operation ends in its correct final state with no orphan engine.
func TestCrashResume(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	accepted := acceptedOrCut
	crashAt := func(t *testing.T, spec string, act func()) { sc = h.crashAt(ctx, t, spec, &sc, act) }

	var live []string
	for _, spec := range []string{
		"create:assign_address:after",
		"create:provision:after",
		"create:start:after",
		"create:wait_ready:before",
		"create:bootstrap:after",
		"create:create_databases_users:after",
		"create:activate:before",
	} {
		t.Run(spec, func(t *testing.T) {
			var id string
			name := "crash-" + strings.ReplaceAll(spec, ":", "-")
			crashAt(t, spec, func() {
				inst, err := instances.Create(ctx, sc, createOpts(name)).Extract()
				if err == nil {
					id = inst.ID
				} else if !accepted(err) {
					t.Fatal(err)
				}
			})
			if id == "" {
				// The create's answer was cut by the crash: find it by name.
				pages, err := instances.List(sc).AllPages(ctx)
				if err != nil {
					t.Fatal(err)
				}
				list, _ := instances.ExtractInstances(pages)
				for _, i := range list {
					if i.Name == name {
						id = i.ID
					}
				}
				if id == "" {
					t.Fatalf("instance %s not found after the crash", name)
				}
			}
			inst := waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
			if err := db.PingContext(ctx); err != nil {
				t.Errorf("user cannot connect after resumed create: %v", err)
			}
			live = append(live, id)
		})
	}
	if len(live) == 0 {
		t.Fatal("no instance survived the create crashes")
	}

	for _, spec := range []string{"restart:restart:before", "restart:restart:after", "restart:wait_ready:after"} {
		t.Run(spec, func(t *testing.T) {
			id := live[0]
			h.rootSQL(t, id, "SET GLOBAL max_connections = 77")
			crashAt(t, spec, func() {
				if err := instances.Restart(ctx, sc, id).ExtractErr(); !accepted(err) {
					t.Fatal(err)
				}
			})
			waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			if got := h.rootSQL(t, id, "SELECT @@global.max_connections"); got == "77" {
				t.Errorf("max_connections = 77 after a resumed restart: the engine did not restart")
			}
		})
	}

	for _, spec := range []string{"delete:destroy:before", "delete:destroy:after", "delete:remove:after"} {
		t.Run(spec, func(t *testing.T) {
			id := live[len(live)-1]
			live = live[:len(live)-1]
			crashAt(t, spec, func() {
				if err := instances.Delete(ctx, sc, id).ExtractErr(); !accepted(err) {
					t.Fatal(err)
				}
			})
			waitGone(ctx, t, sc, id, time.Minute)
			if _, err := os.Stat(h.dataDir + "/instances/" + id); !os.IsNotExist(err) {
				t.Errorf("directory of deleted instance left: %v", err)
			}
		})
	}

	// Exactly one engine per remaining instance: no orphans.
	waitFor(t, 30*time.Second, "one engine per live instance", func() bool {
		return len(enginePIDs(h.dataDir)) == len(live)
	})
}

// TestEngineDeath kills an instance's engine with SIGKILL: the instance
// shows SHUTDOWN while it is down, and hoard brings it back by itself.
func TestEngineDeath(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	inst, err := instances.Create(ctx, sc, createOpts("victim")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	pids := enginePIDs(h.dataDir)
	if len(pids) != 1 {
		t.Fatalf("engine pids = %v, want one", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, sc, inst.ID, "SHUTDOWN", 30*time.Second)
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	var v int
	if err := db.QueryRowContext(ctx, "SELECT id FROM t").Scan(&v); err != nil || v != 42 {
		t.Errorf("data after engine death = %d, %v; want 42", v, err)
	}
}

// TestEnginesOutliveHoard stops hoard gracefully: engines keep running,
// and the next hoard re-attaches to them (same process) and supervises them.
func TestEnginesOutliveHoard(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	inst, err := instances.Create(ctx, sc, createOpts("survivor")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	before := enginePIDs(h.dataDir)
	h.stop()
	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("engine not reachable while hoard is stopped: %v", err)
	}
	h.start()
	sc = h.client(ctx)
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	after := enginePIDs(h.dataDir)
	if len(before) != 1 || len(after) != 1 || before[0] != after[0] {
		t.Fatalf("engine pids before %v after %v: want the same single process", before, after)
	}
	// The re-attached engine is supervised: kill it, it comes back.
	if err := syscall.Kill(after[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a new engine process", func() bool {
		p := enginePIDs(h.dataDir)
		return len(p) == 1 && p[0] != after[0]
	})
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
}
