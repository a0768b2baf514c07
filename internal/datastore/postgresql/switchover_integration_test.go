package postgresql

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/fault"
)

// replicaSet is a source with two replicas seeded from a backup of it and
// following it, as TestReplication makes one, with a table t of the
// tenant user app in database shop and root enabled.
type replicaSet struct {
	e          *Engine
	s, r1, r2  *testServer
	source     datastore.ReplicaSource // S as its replicas reach it
	sApp       *pgx.Conn
	r1App      *pgx.Conn
	r2App      *pgx.Conn
	sAdmin     datastore.Conn
	r1Admin    datastore.Conn
	r2Admin    datastore.Conn
	seededRows int
}

func startReplicaSet(t *testing.T) *replicaSet {
	t.Helper()
	s := startServer(t)
	e := s.engine
	ctx := testCtx(t)
	admin := s.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := e.CreateDatabases(ctx, admin, []datastore.Database{{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "app-pw-1", Databases: []string{"shop"}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.EnableRoot(ctx, admin, "root-pw-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.PrepareSource(ctx, admin, replPassword); err != nil {
		t.Fatalf("PrepareSource: %v", err)
	}
	app := mustConnect(t, s.tcpConn("app", "app-pw-1"), "shop")
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY, v text)",
		"INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g"} {
		if _, err := app.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var seed bytes.Buffer
	meta, err := e.Backup(ctx, admin, s.Spec, t.TempDir(), &seed, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	rs := &replicaSet{e: e, s: s, sApp: app, sAdmin: admin, seededRows: 100,
		source: datastore.ReplicaSource{Address: s.Spec.Address, Port: s.Spec.Port, User: e.ReplicationUser(), Password: replPassword}}
	newReplica := func() (*testServer, datastore.Conn, *pgx.Conn) {
		r := startServerWith(t, enginetest.Options{
			Fill: func(spec datastore.Spec) error {
				return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(seed.Bytes())})
			},
			ReplicaOf: &rs.source,
		})
		radmin := r.socketConn(adminUser, adminPassword)
		if err := e.StartReplica(ctx, radmin, meta, rs.source); err != nil {
			t.Fatalf("StartReplica: %v\n%s", err, r.serverLog())
		}
		return r, radmin, mustConnect(t, r.tcpConn("app", "app-pw-1"), "shop")
	}
	rs.r1, rs.r1Admin, rs.r1App = newReplica()
	rs.r2, rs.r2Admin, rs.r2App = newReplica()
	return rs
}

// sourceOf is srv as its replicas reach it.
func sourceOf(e *Engine, srv *testServer) datastore.ReplicaSource {
	return datastore.ReplicaSource{Address: srv.Spec.Address, Port: srv.Spec.Port, User: e.ReplicationUser(), Password: replPassword}
}

// renderLive renders srv's configuration from srv.Spec into its ConfDir
// and runs Prepare while the server runs, as the service does before it
// reloads a server.
func renderLive(t *testing.T, srv *testServer) {
	t.Helper()
	files, err := srv.engine.Process().Render(srv.Spec)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(srv.Spec.ConfDir, f.Name), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.engine.Process().(datastore.Preparer).Prepare(srv.Spec); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

// digest is every row of table t: their number and a hash of them all.
func digest(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	return queryString(t, c, "SELECT count(*) || ' ' || md5(coalesce(string_agg(id || ':' || v, ',' ORDER BY id), '')) FROM t")
}

// controlData runs pg_controldata on a stopped server's data directory.
func controlData(t *testing.T, e *Engine, dataDir string) map[string]string {
	t.Helper()
	cmd := exec.Command(e.program("pg_controldata"), "-D", dataDir)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_controldata: %v", err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// waitSamePosition polls ReplicaPosition of two replicas until they are
// equal, and returns it.
func waitSamePosition(t *testing.T, e *Engine, a, b datastore.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	for {
		pa, err1 := e.ReplicaPosition(ctx, a)
		pb, err2 := e.ReplicaPosition(ctx, b)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("ReplicaPosition: %v", err)
		}
		if c, err := e.ComparePositions(pa, pb); err != nil || c == 0 {
			if err != nil {
				t.Fatalf("ComparePositions(%s, %s): %v", pa, pb, err)
			}
			return pa
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replica positions %s and %s still differ after %v", pa, pb, replicaWait)
		case <-time.After(pollInterval):
		}
	}
}

// comparePositions is ComparePositions that fails the test on an error.
func comparePositions(t *testing.T, e *Engine, a, b string) int {
	t.Helper()
	c, err := e.ComparePositions(a, b)
	if err != nil {
		t.Fatalf("ComparePositions(%s, %s): %v", a, b, err)
	}
	return c
}

// TestSwitchover runs a planned switchover (promote_to_replica_source) of
// real servers: source S with replicas R1 and R2; S fenced by a clean stop
// right after writes (some committed asynchronously); R1 caught up and
// promoted; S started again as a standby of R1 and R2 reloaded to follow
// it. No write is lost, S follows across the timeline switch without
// pg_rewind, and both refuse tenant writes. Then a failed switchover of R1
// is undone with Unfence.
func TestSwitchover(t *testing.T) {
	rs := startReplicaSet(t)
	e, s, r1, r2 := rs.e, rs.s, rs.r1, rs.r2
	outer := t

	t.Run("Positions", func(t *testing.T) {
		insert(t, rs.sApp, 101)
		waitRow(t, r1, rs.r1App, 101)
		waitRow(t, r2, rs.r2App, 101)
		p := waitSamePosition(t, e, rs.r1Admin, rs.r2Admin)
		insert(t, rs.sApp, 102)
		waitRow(t, r1, rs.r1App, 102)
		q, err := e.ReplicaPosition(testCtx(t), rs.r1Admin)
		if err != nil {
			t.Fatal(err)
		}
		if c := comparePositions(t, e, p, q); c != -1 {
			t.Errorf("ComparePositions(before %s, after %s) = %d, want -1", p, q, c)
		}
		if c := comparePositions(t, e, q, p); c != 1 {
			t.Errorf("ComparePositions(after %s, before %s) = %d, want 1", q, p, c)
		}
		if _, err := e.ReplicaPosition(testCtx(t), rs.sAdmin); !errors.Is(err, datastore.ErrNotReplica) || !fault.Is(err, fault.Conflict) {
			t.Errorf("ReplicaPosition(source) = %v, want a Conflict wrapping ErrNotReplica", err)
		}
	})

	var want string // every row written before the fence
	var checkpoint string
	if !t.Run("Fence", func(t *testing.T) {
		ctx := testCtx(t)
		// Writes right up to the fence, committed without waiting for
		// the WAL flush (any tenant may): the shutdown still sends them.
		if _, err := rs.sApp.Exec(ctx, "SET synchronous_commit = off"); err != nil {
			t.Fatal(err)
		}
		for id := 200; id < 400; id++ {
			insert(t, rs.sApp, id)
		}
		want = digest(t, rs.sApp)
		for i := range 2 {
			pos, err := e.Fence(ctx, rs.sAdmin)
			if !errors.Is(err, datastore.ErrStopToFence) || pos != "" {
				t.Fatalf("Fence #%d = %q, %v; want ErrStopToFence", i+1, pos, err)
			}
		}
		_ = rs.sApp.Close(context.Background())
		s.Stop(t)
		if err := tryConnect(t, s, "app", "app-pw-1", "shop"); err == nil {
			t.Error("a tenant connects to the fenced source")
		}
		cd := controlData(t, e, s.Spec.DataDir)
		if cd["Database cluster state"] != "shut down" || cd["Latest checkpoint's TimeLineID"] != "1" {
			t.Fatalf("pg_controldata of the stopped source: state %q, timeline %q",
				cd["Database cluster state"], cd["Latest checkpoint's TimeLineID"])
		}
		checkpoint = cd["Latest checkpoint location"]
	}) {
		t.FailNow()
	}

	if !t.Run("WaitCaughtUp", func(t *testing.T) {
		ctx := testCtx(t)
		for _, r := range []struct {
			name  string
			admin datastore.Conn
		}{{"R1", rs.r1Admin}, {"R2", rs.r2Admin}} {
			for i := range 2 {
				if err := e.WaitCaughtUp(ctx, r.admin, ""); err != nil {
					t.Fatalf("WaitCaughtUp(%s, \"\") #%d: %v", r.name, i+1, err)
				}
			}
			// The standby replayed the source's shutdown checkpoint: it
			// has everything the source wrote.
			c := mustConnect(t, r.admin, maintenanceDB)
			replay := queryString(t, c, "SELECT pg_last_wal_replay_lsn()::text")
			if comparePositions(t, e, checkpoint, replay) != -1 {
				t.Errorf("%s replayed up to %s, not past the source's shutdown checkpoint at %s", r.name, replay, checkpoint)
			}
		}
		p1, err1 := e.ReplicaPosition(ctx, rs.r1Admin)
		p2, err2 := e.ReplicaPosition(ctx, rs.r2Admin)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if c := comparePositions(t, e, p1, p2); c != 0 {
			t.Errorf("ComparePositions(R1 %s, R2 %s) = %d, want 0: both got everything", p1, p2, c)
		}
		if err := e.WaitCaughtUp(ctx, rs.r1Admin, p1); err != nil {
			t.Errorf("WaitCaughtUp(R1, %s): %v", p1, err)
		}
		if err := e.WaitCaughtUp(ctx, rs.r1Admin, "0/zz"); !fault.Is(err, fault.Invalid) {
			t.Errorf("WaitCaughtUp(bad position) = %v, want Invalid", err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := e.WaitCaughtUp(short, rs.r1Admin, "FFFFFFFF/0"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitCaughtUp(a position never reached) = %v, want a deadline", err)
		}
	}) {
		t.FailNow()
	}

	newSource := sourceOf(e, r1)
	if !t.Run("PromoteAndFollow", func(t *testing.T) {
		ctx := testCtx(t)
		if err := e.Promote(ctx, rs.r1Admin); err != nil {
			t.Fatalf("Promote(R1): %v", err)
		}
		if err := e.WaitCaughtUp(ctx, rs.r1Admin, ""); err != nil {
			t.Errorf("WaitCaughtUp(R1) after its promotion: %v", err)
		}
		if err := e.Follow(ctx, rs.r1Admin, newSource); !errors.Is(err, datastore.ErrNotReplica) || !fault.Is(err, fault.Conflict) {
			t.Errorf("Follow(a source) = %v, want a Conflict wrapping ErrNotReplica", err)
		}
		r1.Spec.ReplicaOf = nil // as the service renders a promoted replica

		// S, stopped by the fence, starts as a standby of R1.
		s.Spec.ReplicaOf = &newSource
		s.Start(t)
		if err := e.Follow(ctx, rs.sAdmin, newSource); err != nil {
			t.Fatalf("Follow(S, R1): %v\n%s", err, s.serverLog())
		}
		// R2, running, is rendered with ReplicaOf R1 and Follow reloads it.
		other := newSource
		other.Port = freePort(t)
		if err := e.Follow(ctx, rs.r2Admin, other); !fault.Is(err, fault.Conflict) {
			t.Errorf("Follow(R2, a source it is not rendered for) = %v, want Conflict", err)
		}
		r2.Spec.ReplicaOf = &newSource
		renderLive(t, r2)
		if err := e.Follow(ctx, rs.r2Admin, newSource); err != nil {
			t.Fatalf("Follow(R2, R1): %v\n%s", err, r2.serverLog())
		}
	}) {
		t.FailNow()
	}
	sApp := mustConnect(t, s.tcpConn("app", "app-pw-1"), "shop")

	t.Run("NoLostWrite", func(t *testing.T) {
		for name, c := range map[string]*pgx.Conn{"R1": rs.r1App, "R2": rs.r2App, "S": sApp} {
			if got := digest(t, c); got != want {
				t.Errorf("rows on %s = %s, want %s (as on S before the fence)", name, got, want)
			}
		}
	})
	t.Run("Follows", func(t *testing.T) {
		ctx := testCtx(t)
		insert(t, rs.r1App, 600)
		waitRow(t, s, sApp, 600)
		waitRow(t, r2, rs.r2App, 600)
		for name, c := range map[string]*pgx.Conn{"R2": rs.r2App, "S": sApp} {
			if _, err := c.Exec(ctx, "INSERT INTO t VALUES (999, 'x')"); sqlState(err) != codeReadOnlyTransaction {
				t.Errorf("tenant insert on %s: %v, want SQLSTATE %s", name, err, codeReadOnlyTransaction)
			}
			// A tenant cannot undo it either.
			_, _ = c.Exec(ctx, "SET default_transaction_read_only = off")
			_, _ = c.Exec(ctx, "SET transaction_read_only = off")
			if _, err := c.Exec(ctx, "INSERT INTO t VALUES (999, 'x')"); sqlState(err) != codeReadOnlyTransaction {
				t.Errorf("tenant insert on %s after turning read-only off: %v, want SQLSTATE %s", name, err, codeReadOnlyTransaction)
			}
		}
		root := mustConnect(t, s.tcpConn(rootUser, "root-pw-1"), "shop")
		for _, q := range []string{"INSERT INTO t VALUES (999, 'x')", "CREATE ROLE intruder", "SELECT pg_promote()"} {
			if _, err := root.Exec(ctx, q); err == nil {
				t.Errorf("root %q on S succeeded", q)
			}
		}
		for name, c := range map[string]datastore.Conn{"R2": rs.r2Admin, "S": rs.sAdmin} {
			if err := e.Follow(ctx, c, newSource); err != nil { // harmless
				t.Errorf("Follow(%s, R1) again: %v", name, err)
			}
			if st, err := e.ReplicaStatus(ctx, c); err != nil || st.State != datastore.ReplicaRunning {
				t.Errorf("ReplicaStatus(%s) = %+v, %v; want running", name, st, err)
			}
			conn := mustConnect(t, c, maintenanceDB)
			if got := queryString(t, conn, "SELECT received_tli || ' ' || sender_port FROM pg_stat_wal_receiver"); got != "2 "+strconv.Itoa(r1.Spec.Port) {
				t.Errorf("%s's WAL receiver: timeline and port %s, want 2 %d", name, got, r1.Spec.Port)
			}
		}
		c := mustConnect(t, rs.r1Admin, maintenanceDB)
		if n := queryString(t, c, "SELECT count(*)::text FROM pg_stat_replication WHERE state = 'streaming'"); n != "2" {
			t.Errorf("R1 streams to %s standbys, want 2", n)
		}
	})

	t.Run("Unfence", func(t *testing.T) {
		// A switchover of R1 that fails before a promotion: the fence (a
		// stop) is undone by starting R1 again as it was rendered.
		ctx := testCtx(t)
		if _, err := e.Fence(ctx, rs.r1Admin); !errors.Is(err, datastore.ErrStopToFence) {
			t.Fatalf("Fence(R1) = %v", err)
		}
		_ = rs.r1App.Close(context.Background())
		r1.Stop(t)
		if err := tryConnect(t, r1, "app", "app-pw-1", "shop"); err == nil {
			t.Error("a tenant connects to the fenced R1")
		}
		r1.Start(t)
		for i := range 2 {
			if err := e.Unfence(ctx, rs.r1Admin); err != nil {
				t.Fatalf("Unfence #%d: %v", i+1, err)
			}
		}
		app := mustConnect(outer, r1.tcpConn("app", "app-pw-1"), "shop")
		insert(t, app, 700)
		waitRow(t, s, sApp, 700)
		waitRow(t, r2, rs.r2App, 700)
	})

	logs := s.logs.String()
	for _, srv := range []*testServer{s, r1, r2} {
		logs += serverOutput(t, srv)
	}
	if strings.Contains(logs, string(replPassword)) || strings.Contains(logs, "-pw-1") {
		t.Errorf("a password reached a log:\n%s", logs)
	}
}

// TestFollowDiverged checks that Follow refuses a replica that received
// more than the replica promoted in its place (R1 stopped behind while R2
// kept streaming from S, then S lost): R2's WAL leaves the promoted
// server's history, and Follow says so at once instead of waiting.
func TestFollowDiverged(t *testing.T) {
	rs := startReplicaSet(t)
	e, s, r1, r2 := rs.e, rs.s, rs.r1, rs.r2
	ctx := testCtx(t)
	_ = rs.r1App.Close(context.Background())
	r1.Stop(t)
	insert(t, rs.sApp, 101)
	waitRow(t, r2, rs.r2App, 101)
	_ = rs.sApp.Close(context.Background())
	s.Kill(t) // S is lost
	// R1, started again without a source (still a standby: only a
	// promotion removes standby.signal), is promoted behind R2.
	r1.Spec.ReplicaOf = nil
	r1.Start(t)
	if err := e.Promote(ctx, rs.r1Admin); err != nil {
		t.Fatal(err)
	}
	src := sourceOf(e, r1)
	r2.Spec.ReplicaOf = &src
	renderLive(t, r2)
	begin := time.Now()
	err := e.Follow(ctx, rs.r2Admin, src)
	if !fault.Is(err, fault.Conflict) || !errors.Is(err, errDiverged) {
		t.Fatalf("Follow(a diverged replica) = %v, want a Conflict wrapping errDiverged\n%s", err, r2.serverLog())
	}
	t.Logf("Follow refused after %v: %v", time.Since(begin).Round(time.Millisecond), err)
}
