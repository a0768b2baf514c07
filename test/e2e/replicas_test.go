package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/pgtest"
)

// sharedDataDir returns a data directory for replicas to share. It is
// removed at cleanup once every replica is gone (their cleanups, registered
// later, run first), after the engines left under it are killed.
func sharedDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hoard-e2e-replicas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range enginePIDs(dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		waitFor(t, 30*time.Second, "engines of the test to exit", func() bool { return len(enginePIDs(dir)) == 0 })
		unmountUnder(t, dir)
		os.RemoveAll(dir)
	})
	return dir
}

// startReplica starts a hoard on its own data directory (holding a copy of
// key, the secret key every replica must share, if key is not empty) with
// the metadata store dsn and the address pool of its siblings: replicas of
// the Kubernetes driver, which may run on several hosts. Replicas of the
// local driver share one data directory (startSharedReplica).
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

// startSharedReplica starts a hoard on the shared data directory dataDir
// (so also its secret key) with the metadata store dsn and address pool
// pool. At cleanup the process is killed; the directory stays for the
// others (sharedDataDir removes it).
func startSharedReplica(t *testing.T, dataDir, dsn, pool string, env ...string) *hoard {
	t.Helper()
	h := &hoard{t: t, dataDir: dataDir, listen: freeAddr(t), pool: pool}
	t.Cleanup(func() {
		if h.cmd != nil && h.running() {
			_ = h.cmd.Process.Signal(syscall.SIGKILL)
			<-h.done
		}
		if t.Failed() {
			t.Logf("log of replica %s:\n%s", h.listen, h.logs())
		}
	})
	h.start(append([]string{"HOARD_STORE=" + dsn}, env...)...)
	return h
}

// waitCrash waits until one of replicas has exited (killed by its crash
// hook) and returns it and the survivors.
func waitCrash(t *testing.T, replicas []*hoard) (dead *hoard, alive []*hoard) {
	t.Helper()
	waitFor(t, activeTimeout, "a replica to crash", func() bool {
		for _, r := range replicas {
			if !r.running() {
				dead = r
				return true
			}
		}
		return false
	})
	for _, r := range replicas {
		if r != dead {
			alive = append(alive, r)
		}
	}
	return dead, alive
}

// checkTask checks that instance id has one task of kind, finished after
// two claims (the crash, the takeover).
func checkTask(ctx context.Context, t *testing.T, dsn, id, kind string) {
	t.Helper()
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
	if err := conn.QueryRow(ctx, `SELECT state, attempts, (SELECT COUNT(*) FROM tasks WHERE instance_id = $1 AND kind = $2)
		FROM tasks WHERE instance_id = $1 AND kind = $2`, id, kind).Scan(&state, &attempts, &tasks); err != nil {
		t.Fatal(err)
	}
	if state != "done" || attempts != 2 || tasks != 1 {
		t.Errorf("%s task: state %s, attempts %d, %d tasks; want done, 2, 1", kind, state, attempts, tasks)
	}
}

// oneEngine waits until exactly one engine runs for instance id and
// returns its pid.
func oneEngine(t *testing.T, dataDir, id string) int {
	t.Helper()
	dir := filepath.Join(dataDir, "instances", id) + "/"
	var pids []int
	waitFor(t, 30*time.Second, "exactly one engine of instance "+id, func() bool {
		pids = enginePIDs(dir)
		return len(pids) == 1
	})
	return pids[0]
}

// TestReplicasTakeOver runs three hoard replicas on one PostgreSQL store
// and one data directory. Every replica would kill itself with SIGKILL
// right after recording the first step of a create: the replica that
// claims the create dies there; after its lease expires another replica
// claims the task, resumes it at the next step and finishes it, exactly
// once.
func TestReplicasTakeOver(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t).NewDatabase(t)
	pool := nextPool()
	dataDir := sharedDataDir(t)
	crash := "HOARD_TEST_CRASH_AT=create:assign_address:recorded"
	replicas := []*hoard{
		startSharedReplica(t, dataDir, dsn, pool, crash),
		startSharedReplica(t, dataDir, dsn, pool, crash),
		startSharedReplica(t, dataDir, dsn, pool, crash),
	}

	// Any replica serves the API: create through the second.
	inst, err := instances.Create(ctx, replicas[1].client(ctx), createOpts("replicated")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	_, alive := waitCrash(t, replicas)
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
	waitStatus(ctx, t, alive[1].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	oneEngine(t, dataDir, inst.ID)
	checkTask(ctx, t, dsn, inst.ID, "create")
}

// TestReplicasRestartTakeOver: the replica that claims a restart dies
// right after the engine was restarted; a survivor finishes the task after
// the lease. The engine really restarted once (a runtime setting is gone,
// one process, a new pid), stays supervised when it crashes although the
// replica that supervised it may be the dead one, and any survivor
// deletes it.
func TestReplicasRestartTakeOver(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t).NewDatabase(t)
	pool := nextPool()
	dataDir := sharedDataDir(t)
	crash := "HOARD_TEST_CRASH_AT=restart:restart:recorded"
	replicas := []*hoard{
		startSharedReplica(t, dataDir, dsn, pool, crash),
		startSharedReplica(t, dataDir, dsn, pool, crash),
		startSharedReplica(t, dataDir, dsn, pool, crash),
	}
	inst, err := instances.Create(ctx, replicas[0].client(ctx), createOpts("restarted")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, replicas[0].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	h := replicas[0] // any replica: they share the data directory
	configured := h.rootSQL(t, inst.ID, "SELECT @@max_connections")
	if configured == "77" {
		t.Fatal("max_connections is configured to 77; the test cannot tell a restart")
	}
	h.rootSQL(t, inst.ID, "SET GLOBAL max_connections = 77")
	if got := h.rootSQL(t, inst.ID, "SELECT @@max_connections"); got != "77" {
		t.Fatalf("max_connections = %s after SET GLOBAL, want 77", got)
	}
	before := oneEngine(t, dataDir, inst.ID)

	if err := instances.Restart(ctx, replicas[1].client(ctx), inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	dead, alive := waitCrash(t, replicas)
	waitFor(t, activeTimeout, "the restart task to finish", func() bool {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		var state string
		err = conn.QueryRow(ctx, `SELECT state FROM tasks WHERE instance_id = $1 AND kind = 'restart'`, inst.ID).Scan(&state)
		return err == nil && state == "done"
	})
	waitStatus(ctx, t, alive[0].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	for _, r := range alive {
		if !r.running() {
			t.Fatalf("a second replica exited:\n%s", r.logs())
		}
	}
	checkTask(ctx, t, dsn, inst.ID, "restart")
	after := oneEngine(t, dataDir, inst.ID)
	if after == before {
		t.Errorf("engine pid %d unchanged by the restart", after)
	}
	if got := alive[0].rootSQL(t, inst.ID, "SELECT @@max_connections"); got != configured {
		t.Errorf("max_connections = %s after the restart, want the configured %s", got, configured)
	}
	if !strings.Contains(dead.logs(), "started engine") {
		t.Errorf("the crashed replica did not restart the engine before it died:\n%s", dead.logs())
	}

	// Who supervised the restarted engine: the crashed replica unless it
	// found another one supervising; then survivors adopted it.
	if strings.Contains(dead.logs(), "engine supervised by another hoard process") {
		t.Log("a surviving replica supervised the engine the crashed one restarted")
	} else {
		t.Log("the crashed replica supervised the engine it restarted; a survivor adopted it")
	}

	// The engine crashes: a surviving replica's supervision restarts it,
	// whoever supervised it before.
	if err := syscall.Kill(after, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var again int
	waitFor(t, activeTimeout, "a new engine after the crash", func() bool {
		pids := enginePIDs(filepath.Join(dataDir, "instances", inst.ID) + "/")
		if len(pids) == 1 && pids[0] != after {
			again = pids[0]
			return true
		}
		return false
	})
	got := waitStatus(ctx, t, alive[1].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	if again == after {
		t.Fatal("no new engine pid")
	}
	db := openDB(t, got.IP[0], "app", "app-pw-123", "shop")
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect after the supervision restart: %v", err)
	}
	repaired := false
	for _, r := range alive {
		repaired = repaired || strings.Contains(r.logs(), "engine recovered")
	}
	if !repaired {
		t.Error("no surviving replica logged the supervision restart")
	}

	// A survivor deletes it: engine and directory go.
	if err := instances.Delete(ctx, alive[1].client(ctx), inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, alive[0].client(ctx), inst.ID, activeTimeout)
	if pids := enginePIDs(filepath.Join(dataDir, "instances", inst.ID) + "/"); len(pids) != 0 {
		t.Errorf("engines %v still run after delete", pids)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "instances", inst.ID)); !os.IsNotExist(err) {
		t.Errorf("instance directory after delete: %v, want it gone", err)
	}
}

// TestReplicaOtherDataDirRefused: with the local driver, a replica whose
// data directory is not the one the store's engines live in is refused.
func TestReplicaOtherDataDirRefused(t *testing.T) {
	dsn := pgtest.Start(t).NewDatabase(t)
	pool := nextPool()
	startSharedReplica(t, sharedDataDir(t), dsn, pool)

	other := sharedDataDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hoardBin, "serve",
		"--listen", freeAddr(t),
		"--data-dir", other,
		"--admin-password", adminPassword,
		"--address-pool", pool,
	)
	cmd.Env = append(os.Environ(), "HOARD_STORE="+dsn)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("hoard on another data directory: %v, want it refused at once\n%s", err, out)
	}
	for _, want := range []string{"share its data directory", "--driver kubernetes"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not mention %q:\n%s", want, out)
		}
	}
}
