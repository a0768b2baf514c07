package mariadb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/fault"
)

// position is ReplicaPosition or a test failure.
func position(t *testing.T, srv *testServer, c datastore.Conn) string {
	t.Helper()
	p, err := srv.engine.ReplicaPosition(testCtx(t), c)
	if err != nil {
		t.Fatalf("ReplicaPosition of %s: %v", srv.spec.InstanceID, err)
	}
	if !gtidPosRE.MatchString(p) || p == "" {
		t.Fatalf("ReplicaPosition of %s = %q, want a GTID position", srv.spec.InstanceID, p)
	}
	return p
}

// wantCompare checks ComparePositions(a, b).
func wantCompare(t *testing.T, e *Engine, what, a, b string, want int) {
	t.Helper()
	if got, err := e.ComparePositions(a, b); err != nil || got != want {
		t.Errorf("%s: ComparePositions(%q, %q) = %d, %v; want %d", what, a, b, got, err, want)
	}
}

// TestSwitchover runs a planned switchover of a source S with replicas R1
// and R2 to R1, the way the service does: Fence(S), WaitCaughtUp(R1),
// Promote(R1), then S (restarted with ReplicaOf R1) and R2 (lagging, its
// replication stopped) Follow(R1). No write made before the fence is lost,
// and tenants write on R1 only. Before that: positions compare as they
// should, and a Fence undone by Unfence gives tenants their writes back.
func TestSwitchover(t *testing.T) {
	// S ("source") and R1 ("test"), with rows 1-3; root on S.
	p := startPair(t)
	s, r1 := p.src, p.rep
	e := s.engine
	sadmin, r1admin := s.socketConn(adminUser, adminPassword), p.radmin
	const rootPW = "R00t-pw-switch"
	if err := e.EnableRoot(testCtx(t), sadmin, rootPW); err != nil {
		t.Fatal(err)
	}

	// R2 ("replica-2"), from a later backup of S.
	var backup bytes.Buffer
	meta, err := e.Backup(testCtx(t), sadmin, s.spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	sSource := datastore.ReplicaSource{Address: s.spec.Address, Port: s.spec.Port, User: e.ReplicationUser(), Password: replPassword}
	r2 := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			return e.Restore(testCtx(t), spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
		},
		ReplicaOf: &sSource,
	})
	r2.stop(t)
	r2.spec.InstanceID = "replica-2"
	r2.start(t)
	r2admin := r2.socketConn(adminUser, adminPassword)
	if err := r2.engine.StartReplica(testCtx(t), r2admin, meta, sSource); err != nil {
		t.Fatalf("StartReplica of R2: %v", err)
	}
	r2Al := r2.tcpConn(p.alice.Name, p.alice.Password)
	if err := insert(p.srcAl, 4); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "R1", p.repAl, 4)
	hasRows(t, "R2", r2Al, 4)

	// 1. Positions: R1 and R2 are level with S; then R2 stops and lags.
	p1, p2 := position(t, r1, r1admin), position(t, r2, r2admin)
	wantCompare(t, e, "R1 and R2 level", p1, p2, 0)
	wantCompare(t, e, "R1 and S", p1, position(t, s, sadmin), 0)
	st := mustOpen(t, r2admin)
	if err := st.exec(testCtx(t), "STOP SLAVE"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{5, 6} {
		if err := insert(p.srcAl, id); err != nil {
			t.Fatal(err)
		}
	}
	hasRows(t, "R1", p.repAl, 6)
	q1, q2 := position(t, r1, r1admin), position(t, r2, r2admin)
	wantCompare(t, e, "R2 stopped", q2, q1, -1)
	wantCompare(t, e, "R2 stopped", q1, q2, 1)
	wantCompare(t, e, "R2 stopped", q2, p2, 0)
	wantCompare(t, e, "R1 before and after", p1, q1, -1)
	ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
	if err := r2.engine.WaitCaughtUp(ctx, r2admin, q1); err == nil {
		t.Errorf("WaitCaughtUp of the stopped R2 = nil")
	}
	cancel()
	if err := r1.engine.WaitCaughtUp(testCtx(t), r1admin, q1); err != nil {
		t.Errorf("WaitCaughtUp(R1, its own position): %v", err)
	}
	if err := r1.engine.WaitCaughtUp(testCtx(t), r1admin, ""); err != nil {
		t.Errorf("WaitCaughtUp(R1, \"\"): %v", err)
	}

	// 2. Fence and Unfence, no switchover. A transaction open at the fence
	// cannot commit; tenants cannot write nor undo the fence.
	a := mustOpen(t, p.srcAl)
	for _, q := range []string{"BEGIN", "INSERT INTO app.t VALUES (7)"} {
		if err := a.exec(testCtx(t), q); err != nil {
			t.Fatal(err)
		}
	}
	fenced, err := e.Fence(testCtx(t), sadmin)
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	if err := a.exec(testCtx(t), "COMMIT"); mysqlErrNumber(err) != erOptionPreventsStatement {
		t.Errorf("COMMIT of a transaction open at the fence: %v, want error %d", err, erOptionPreventsStatement)
	}
	_ = a.Close()
	testReadOnly(t, s, p.alice, rootPW)
	if again, err := e.Fence(testCtx(t), sadmin); err != nil || again != fenced {
		t.Errorf("Fence again = %q, %v; want %q", again, err, fenced)
	}
	wantCompare(t, e, "fenced S and R1", fenced, position(t, r1, r1admin), 0)
	for range 2 {
		if err := e.Unfence(testCtx(t), sadmin); err != nil {
			t.Fatalf("Unfence: %v", err)
		}
	}
	if err := insert(p.srcAl, 7); err != nil {
		t.Errorf("alice on the unfenced source: %v", err)
	}

	// 3. The switchover. A tenant holds LOCK TABLES (and writes row 8
	// under it): Fence kills its connection rather than wait for it.
	b := mustOpen(t, p.srcAl)
	for _, q := range []string{"LOCK TABLES app.t WRITE", "INSERT INTO app.t VALUES (8)"} {
		if err := b.exec(testCtx(t), q); err != nil {
			t.Fatal(err)
		}
	}
	begin := time.Now()
	pos, err := e.Fence(testCtx(t), sadmin)
	if err != nil {
		t.Fatalf("Fence with a table locked: %v", err)
	}
	if took := time.Since(begin); took < fenceLockWait-time.Second {
		t.Errorf("Fence with a table locked took %v, under fenceLockWait", took)
	}
	if err := b.exec(testCtx(t), "SELECT 1"); err == nil {
		t.Errorf("the connection that held off the fence lives")
	}
	if !strings.Contains(s.logs.String(), "connections were killed") {
		t.Errorf("the kill is not logged:\n%s", s.logs.String())
	}
	if err := insert(p.srcAl, 100); mysqlErrNumber(err) != erOptionPreventsStatement {
		t.Errorf("alice on the fenced source: %v, want error %d", err, erOptionPreventsStatement)
	}
	if err := r1.engine.WaitCaughtUp(testCtx(t), r1admin, pos); err != nil {
		t.Fatalf("WaitCaughtUp(R1): %v", err)
	}
	wantCompare(t, e, "R1 caught up", position(t, r1, r1admin), pos, 0)
	if err := r1.engine.Promote(testCtx(t), r1admin); err != nil {
		t.Fatalf("Promote(R1): %v", err)
	}
	// It follows no source: "" is reached, a later position never is.
	for _, tt := range []struct {
		pos  string
		want fault.Kind // of the error; Internal: none
	}{{"", fault.Internal}, {"0-1-999999999", fault.Unprocessable}, {"0-1", fault.Invalid}} {
		err := r1.engine.WaitCaughtUp(testCtx(t), r1admin, tt.pos)
		if (tt.want == fault.Internal) != (err == nil) || (err != nil && !fault.Is(err, tt.want)) {
			t.Errorf("WaitCaughtUp(promoted R1, %q) = %v, want kind %v", tt.pos, err, tt.want)
		}
	}
	if err := r1.engine.PrepareSource(testCtx(t), r1admin, replPassword); err != nil {
		t.Fatalf("PrepareSource(R1): %v", err)
	}
	r1Source := datastore.ReplicaSource{Address: r1.spec.Address, Port: r1.spec.Port, User: e.ReplicationUser(), Password: replPassword}
	// S restarts rendered as a replica of R1; R2 follows R1 as it runs.
	s.stop(t)
	s.spec.ReplicaOf = &r1Source
	s.start(t)
	for i := range 2 {
		if err := e.Follow(testCtx(t), sadmin, r1Source); err != nil {
			t.Fatalf("Follow(S, R1) %d: %v", i+1, err)
		}
		if err := r2.engine.Follow(testCtx(t), r2admin, r1Source); err != nil {
			t.Fatalf("Follow(R2, R1) %d: %v", i+1, err)
		}
		// No write made before the fence is lost: rows 1-8.
		for _, srv := range []struct {
			what string
			c    datastore.Conn
		}{{"R1", p.repAl}, {"S", p.srcAl}, {"R2", r2Al}} {
			hasRows(t, srv.what, srv.c, 8+i)
		}
		// A write on R1 reaches S and R2.
		if err := insert(p.repAl, 200+i); err != nil {
			t.Fatalf("alice on R1: %v", err)
		}
		hasRows(t, "S", p.srcAl, 9+i)
		hasRows(t, "R2", r2Al, 9+i)
	}
	for _, srv := range []struct {
		*testServer
		admin datastore.Conn
	}{{s, sadmin}, {r2, r2admin}} {
		testReadOnly(t, srv.testServer, p.alice, rootPW)
		if st, err := srv.engine.ReplicaStatus(testCtx(t), srv.admin); err != nil || st.State != datastore.ReplicaRunning {
			t.Errorf("ReplicaStatus of %s = %+v, %v; want running", srv.spec.InstanceID, st, err)
		}
		c := mustOpen(t, srv.admin)
		if row, err := slaveStatus(testCtx(t), c); err != nil || row == nil || !row.follows(r1Source) {
			t.Errorf("%s's slave status: %v, %v; want it to follow R1", srv.spec.InstanceID, row, err)
		}
		_ = c.Close()
		if err := srv.engine.Unfence(testCtx(t), srv.admin); !fault.Is(err, fault.Unprocessable) {
			t.Errorf("Unfence of %s, a replica: %v, want Unprocessable", srv.spec.InstanceID, err)
		}
		now := position(t, r1, r1admin)
		if err := srv.engine.WaitCaughtUp(testCtx(t), srv.admin, now); err != nil {
			t.Errorf("WaitCaughtUp(%s, R1's position): %v", srv.spec.InstanceID, err)
		}
		wantCompare(t, e, srv.spec.InstanceID+" and R1", position(t, srv.testServer, srv.admin), now, 0)
	}
	if _, err := r1.engine.ReplicaStatus(testCtx(t), r1admin); !errors.Is(err, datastore.ErrNotReplica) {
		t.Errorf("ReplicaStatus of the promoted R1 = %v, want ErrNotReplica", err)
	}

	// No password in hoard's logs or the servers' error logs.
	for _, srv := range []*testServer{s, r1, r2} {
		for name, text := range map[string]string{
			"engine log": srv.logs.String(),
			"error log":  readFile(t, filepath.Join(srv.spec.LogDir, "error.log")),
		} {
			for _, pw := range []datastore.Secret{replPassword, adminPassword, rootPW} {
				if strings.Contains(text, string(pw)) {
					t.Errorf("%s's %s holds a password", srv.spec.InstanceID, name)
				}
			}
		}
	}
}
