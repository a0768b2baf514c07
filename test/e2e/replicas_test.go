package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/pgtest"
)

// startReplica starts a hoard on its own data directory (holding a copy of
// key, the secret key every replica must share, if key is not empty) with
// the metadata store dsn and the address pool of its siblings.
func startReplica(t *testing.T, dsn, pool string, key []byte, env ...string) *hoard {
	t.Helper()
	dataDir, err := os.MkdirTemp("", "hoard-e2e-replica-")
	if err != nil {
		t.Fatal(err)
	}
	h := &hoard{t: t, dataDir: dataDir, listen: freeAddr(t), pool: pool}
	t.Cleanup(func() { h.destroy() })
	if key != nil {
		if err := os.WriteFile(filepath.Join(dataDir, "secret.key"), key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.start(append([]string{"HOARD_STORE=" + dsn}, env...)...)
	return h
}

// TestReplicasTakeOver runs three hoard replicas on one PostgreSQL store,
// each with its own data directory. Every replica would kill itself with
// SIGKILL right after recording the first step of a create: the replica that
// claims the create dies there; after its lease expires another replica
// claims the task, resumes it at the next step and finishes it, exactly
// once.
//
// With the local driver an engine lives under the data directory of the
// replica that started it, so only a task whose remaining steps create the
// engine can honestly move to another replica; a restart or delete taken
// over by a replica without the engine is not tested here.
func TestReplicasTakeOver(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t).NewDatabase(t)
	pool := nextPool()
	crash := "HOARD_TEST_CRASH_AT=create:assign_address:recorded"

	first := startReplica(t, dsn, pool, nil, crash)
	key, err := os.ReadFile(filepath.Join(first.dataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*hoard{first, startReplica(t, dsn, pool, key, crash), startReplica(t, dsn, pool, key, crash)}

	// Any replica serves the API: create through the second.
	inst, err := instances.Create(ctx, replicas[1].client(ctx), createOpts("replicated")).Extract()
	if err != nil {
		t.Fatal(err)
	}

	var dead *hoard
	waitFor(t, activeTimeout, "a replica to crash in the create", func() bool {
		for _, r := range replicas {
			if !r.running() {
				dead = r
				return true
			}
		}
		return false
	})
	var alive []*hoard
	for _, r := range replicas {
		if r != dead {
			alive = append(alive, r)
		}
	}
	// A surviving replica finishes the create once the lease has expired.
	got := waitStatus(ctx, t, alive[0].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	for _, r := range alive {
		if !r.running() {
			t.Fatalf("a second replica exited:\n%s", r.logs())
		}
	}
	if len(got.IP) == 0 {
		t.Fatal("ACTIVE instance has no address")
	}
	db := openDB(t, got.IP[0], "app", "app-pw-123", "shop")
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect to the instance as app: %v", err)
	}
	// The same instance through the other survivor.
	waitStatus(ctx, t, alive[1].client(ctx), inst.ID, "ACTIVE", 10*time.Second)

	// Exactly one replica ran the engine side of the create, and it is not
	// the one that died.
	hosts := 0
	for _, r := range replicas {
		if _, err := os.Stat(filepath.Join(r.dataDir, "instances", inst.ID)); err == nil {
			hosts++
			if r == dead {
				t.Error("the crashed replica has the instance's directory")
			}
		}
	}
	if hosts != 1 {
		t.Errorf("%d replicas have the instance's directory, want 1", hosts)
	}

	// The task was claimed twice (the crash, the takeover) and finished once.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var (
		state    string
		attempts int
		tasks    int
	)
	if err := conn.QueryRow(ctx, `SELECT state, attempts, (SELECT COUNT(*) FROM tasks WHERE instance_id = $1)
		FROM tasks WHERE instance_id = $1 AND kind = 'create'`, inst.ID).Scan(&state, &attempts, &tasks); err != nil {
		t.Fatal(err)
	}
	if state != "done" || attempts != 2 || tasks != 1 {
		t.Errorf("create task: state %s, attempts %d, %d tasks; want done, 2, 1", state, attempts, tasks)
	}
}
