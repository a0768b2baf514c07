package mariadb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// replicaPair is a source and a replica of it that follows, built the way
// the service builds them.
type replicaPair struct {
	src, rep     *testServer
	radmin       datastore.Conn
	srcAl, repAl datastore.Conn
	alice        datastore.User
}

// startPair starts a source (instance "source") with alice's app.t, and a
// replica of it (instance "test") restored from its backup, that follows:
// both have rows 1-3.
func startPair(t *testing.T) *replicaPair {
	t.Helper()
	src := startServer(t)
	e := src.engine
	admin := src.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(testCtx(t), admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	src.stop(t)
	src.spec.InstanceID = "source"
	src.spec.AdminUser, src.spec.AdminPassword = adminUser, adminPassword
	src.start(t)
	alice := datastore.User{Name: "alice", Host: "%", Password: "Al1ce-pw", Databases: []string{"app"}}
	if err := e.CreateDatabases(testCtx(t), admin, []datastore.Database{{Name: "app"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateUsers(testCtx(t), admin, []datastore.User{alice}); err != nil {
		t.Fatal(err)
	}
	srcAl := src.tcpConn(alice.Name, alice.Password)
	a := mustOpen(t, srcAl)
	for _, q := range []string{"CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1), (2)"} {
		if err := a.exec(testCtx(t), q); err != nil {
			t.Fatalf("alice on the source: %s: %v", q, err)
		}
	}
	_ = a.Close()
	if err := e.PrepareSource(testCtx(t), admin, replPassword); err != nil {
		t.Fatalf("PrepareSource: %v", err)
	}
	var backup bytes.Buffer
	meta, err := e.Backup(testCtx(t), admin, src.spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	source := datastore.ReplicaSource{Address: src.spec.Address, Port: src.spec.Port, User: e.ReplicationUser(), Password: replPassword}
	rep := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			return e.Restore(testCtx(t), spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
		},
		ReplicaOf: &source,
	})
	radmin := rep.socketConn(adminUser, adminPassword)
	if err := rep.engine.StartReplica(testCtx(t), radmin, meta, source); err != nil {
		t.Fatalf("StartReplica: %v", err)
	}
	p := &replicaPair{src: src, rep: rep, radmin: radmin, srcAl: srcAl,
		repAl: rep.tcpConn(alice.Name, alice.Password), alice: alice}
	if err := insert(srcAl, 3); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the replica", p.repAl, 3)
	return p
}

// hasRows waits until app.t over c has want rows.
func hasRows(t *testing.T, what string, c datastore.Conn, want int) {
	t.Helper()
	eventually(t, what+" has "+strconv.Itoa(want)+" rows", time.Minute, func() (bool, error) {
		n, err := rowCount(c)
		return n == want, err
	})
}

// replicationFiles lists the replication state in a data directory: the
// connection (master.info, relay-log.info, and their named-connection
// forms), relay logs, and a multi-master.info that names a connection
// (the server writes an empty one at start).
func replicationFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		n := d.Name()
		switch {
		case n == "multi-master.info":
			if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || len(bytes.TrimSpace(b)) != 0 {
				out = append(out, n)
			}
		case strings.HasSuffix(n, ".info") && n != "xtrabackup_info",
			strings.HasPrefix(n, relayLogBase+".") || strings.HasPrefix(n, relayLogBase+"-"):
			out = append(out, n)
		}
	}
	return out
}

// assertStandalone checks that the server follows no source and that
// alice can write on it.
func assertStandalone(t *testing.T, srv *testServer, admin datastore.Conn, alice datastore.User, row int) {
	t.Helper()
	s := mustOpen(t, admin)
	for _, q := range []string{"SHOW SLAVE STATUS", "SHOW ALL SLAVES STATUS"} {
		rows, err := s.conn.QueryContext(testCtx(t), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if rows.Next() {
			t.Errorf("%s on the standalone server returns a row", q)
		}
		rows.Close()
	}
	if got := query(t, s, "SELECT @@read_only"); got != "0" {
		t.Errorf("read_only on the standalone server = %s, want 0", got)
	}
	if got := query(t, s, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Slave_IO', 'Slave_SQL', 'Slave_worker')"); got != "0" {
		t.Errorf("replication threads on the standalone server: %s", got)
	}
	_ = s.Close()
	if _, err := srv.engine.ReplicaStatus(testCtx(t), admin); !errors.Is(err, datastore.ErrNotReplica) {
		t.Errorf("ReplicaStatus of the standalone server = %v, want ErrNotReplica", err)
	}
	if err := insert(srv.tcpConn(alice.Name, alice.Password), row); err != nil {
		t.Errorf("alice writes on the standalone server: %v", err)
	}
	if files := replicationFiles(t, srv.spec.DataDir); len(files) != 0 {
		t.Errorf("replication state in the standalone server's data directory: %v", files)
	}
}

// TestRestoreReplicaBackup backs up a read replica and restores the
// backup into a new standalone instance (no ReplicaOf): it must not follow
// the replica's source, and must accept writes. Then it promotes the
// replica and seeds a replica of it from its backup: that one follows the
// promoted server only.
func TestRestoreReplicaBackup(t *testing.T) {
	p := startPair(t)
	re := p.rep.engine

	// 1. A backup of the replica, restored into a standalone instance.
	var backup bytes.Buffer
	meta, err := re.Backup(testCtx(t), p.radmin, p.rep.spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup of the replica: %v", err)
	}
	if !gtidPosRE.MatchString(meta[MetaGTIDPos]) || meta[MetaGTIDPos] == "" {
		t.Fatalf("Backup of the replica: meta %v, want a GTID position", meta)
	}
	// Its first start has the replica's server_id (enginetest names every
	// instance "test"); a restart below gives it one of its own.
	var filled []string
	alone := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			if err := re.Restore(testCtx(t), spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())}); err != nil {
				return err
			}
			filled = replicationFiles(t, spec.DataDir)
			return nil
		},
	})
	if len(filled) != 0 {
		t.Errorf("Restore of the replica's backup left replication state: %v", filled)
	}
	aadmin := alone.socketConn(adminUser, adminPassword)
	if err := alone.engine.CheckAdmin(testCtx(t), aadmin); err != nil {
		t.Fatalf("hoard's account on the restored instance: %v", err)
	}
	assertStandalone(t, alone, aadmin, p.alice, 100)

	// The source's later writes do not reach it: it has no replication
	// thread (assertStandalone), so once the replica has row 4 the
	// restored instance is checked at once, with no wait to guess.
	if err := insert(p.srcAl, 4); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the replica", p.repAl, 4)
	aAl := alone.tcpConn(p.alice.Name, p.alice.Password)
	if n, err := rowCount(aAl); err != nil || n != 4 {
		t.Errorf("rows on the restored instance = %d, %v; want 4 (1-3 and its own 100)", n, err)
	}
	s := mustOpen(t, aAl)
	if got := query(t, s, "SELECT COUNT(*) FROM app.t WHERE id = 4"); got != "0" {
		t.Errorf("the source's row 4 reached the restored instance")
	}
	_ = s.Close()

	// A restart (with an id of its own) changes nothing.
	alone.stop(t)
	alone.spec.InstanceID = "alone"
	alone.start(t)
	assertStandalone(t, alone, aadmin, p.alice, 101)
	if err := insert(p.srcAl, 5); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the replica", p.repAl, 5)
	if n, err := rowCount(aAl); err != nil || n != 5 {
		t.Errorf("rows on the restarted restored instance = %d, %v; want 5 (1-3, 100, 101)", n, err)
	}

	// 2. The replica, promoted (RESET SLAVE ALL), becomes the source of a
	// new replica seeded from its backup: nothing of its past as a replica
	// remains there, and the new replica follows it, not its old source.
	if err := re.Promote(testCtx(t), p.radmin); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if err := re.PrepareSource(testCtx(t), p.radmin, replPassword); err != nil {
		t.Fatalf("PrepareSource on the promoted replica: %v", err)
	}
	if err := insert(p.repAl, 200); err != nil {
		t.Fatalf("alice on the promoted replica: %v", err)
	}
	backup.Reset()
	pmeta, err := re.Backup(testCtx(t), p.radmin, p.rep.spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup of the promoted replica: %v", err)
	}
	newSource := datastore.ReplicaSource{Address: p.rep.spec.Address, Port: p.rep.spec.Port, User: re.ReplicationUser(), Password: replPassword}
	var seeded []string
	r2 := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			if err := re.Restore(testCtx(t), spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())}); err != nil {
				return err
			}
			seeded = replicationFiles(t, spec.DataDir)
			return nil
		},
		ReplicaOf: &newSource,
	})
	if len(seeded) != 0 {
		t.Errorf("Restore of the promoted replica's backup left replication state: %v", seeded)
	}
	// A server_id of its own (the promoted replica is "test" too).
	r2.stop(t)
	r2.spec.InstanceID = "second-replica"
	r2.start(t)
	r2admin := r2.socketConn(adminUser, adminPassword)
	if _, err := r2.engine.ReplicaStatus(testCtx(t), r2admin); !errors.Is(err, datastore.ErrNotReplica) {
		t.Errorf("ReplicaStatus of the seeded replica before StartReplica = %v, want ErrNotReplica", err)
	}
	if err := r2.engine.StartReplica(testCtx(t), r2admin, pmeta, newSource); err != nil {
		t.Fatalf("StartReplica of the seeded replica: %v", err)
	}
	r2Al := r2.tcpConn(p.alice.Name, p.alice.Password)
	if err := insert(p.repAl, 201); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the second replica", r2Al, 7) // 1-5, 200, 201
	s = mustOpen(t, r2admin)
	if st, err := slaveStatus(testCtx(t), s); err != nil || st == nil || !st.follows(newSource) {
		t.Errorf("the second replica's slave status: %v, %v; want it to follow the promoted replica", st, err)
	}
	_ = s.Close()
	// The old source's writes do not reach it.
	if err := insert(p.srcAl, 6); err != nil {
		t.Fatal(err)
	}
	if err := insert(p.repAl, 202); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the second replica", r2Al, 8)
	s = mustOpen(t, r2Al)
	if got := query(t, s, "SELECT COUNT(*) FROM app.t WHERE id = 6"); got != "0" {
		t.Errorf("the old source's row 6 reached the second replica")
	}
	_ = s.Close()

	// Restarted, it follows by itself.
	r2.stop(t)
	r2.start(t)
	if err := insert(p.repAl, 203); err != nil {
		t.Fatal(err)
	}
	hasRows(t, "the restarted second replica", r2Al, 9)

	for _, srv := range []*testServer{alone, r2} {
		if log := readFile(t, filepath.Join(srv.spec.LogDir, "error.log")); strings.Contains(log, "127.0.0.1:"+strconv.Itoa(p.src.spec.Port)) {
			t.Errorf("%s connected to the original source:\n%s", srv.spec.InstanceID, log)
		}
	}
}
