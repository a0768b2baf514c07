package mariadb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/fault"
)

// replPassword has a quote, a backslash and a double quote, which must
// reach CHANGE MASTER and master.info intact, and is 31 characters long
// (MariaDB allows 32).
const replPassword datastore.Secret = `Rep'l\ic"a-pw_0123456789abcdefg`

// erOptionPreventsStatement is ER_OPTION_PREVENTS_STATEMENT, MariaDB's
// answer to a write on a read-only server.
const erOptionPreventsStatement = 1290

// eventually polls f every enginetest.PollInterval until it reports true,
// and fails the test after timeout with f's last error.
func eventually(t *testing.T, what string, timeout time.Duration, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(enginetest.PollInterval)
	defer tick.Stop()
	for {
		ok, err := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v (last error: %v)", what, timeout, err)
		}
		<-tick.C
	}
}

// rowCount counts app.t over c.
func rowCount(c datastore.Conn) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := open(ctx, c, c.User, c.Password, pingTimeouts)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var n int
	err = s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM app.t").Scan(&n)
	return n, err
}

// insert adds row id to app.t over c.
func insert(c datastore.Conn, id int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.exec(ctx, "INSERT INTO app.t VALUES (?)", id)
}

// replicaState is ReplicaStatus with its own short deadline.
func replicaState(e *Engine, c datastore.Conn) (datastore.ReplicaStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.ReplicaStatus(ctx, c)
}

// TestReplication makes a replica of a real source the way the service
// does (PrepareSource, Backup, Restore into the replica's empty data
// directory, start with ReplicaOf, StartReplica) and checks that it
// follows, refuses tenant writes, survives restarts of either server, and
// becomes writable when promoted.
func TestReplication(t *testing.T) {
	src := startServer(t)
	e := src.engine
	admin := src.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(testCtx(t), admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	// enginetest names every instance "test", and so every server_id would
	// be the same: a replica skips its own server_id's events. The source
	// gets an id of its own, and the init-file of hoard's account.
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
	const rootPW = "R00t-pw-repl"
	if err := e.EnableRoot(testCtx(t), admin, rootPW); err != nil {
		t.Fatal(err)
	}
	srcAlice := src.tcpConn(alice.Name, alice.Password)
	a := mustOpen(t, srcAlice)
	for _, q := range []string{"CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1), (2)"} {
		if err := a.exec(testCtx(t), q); err != nil {
			t.Fatalf("alice on the source: %s: %v", q, err)
		}
	}
	_ = a.Close()

	// 1. The replication account, twice (idempotent).
	for range 2 {
		if err := e.PrepareSource(testCtx(t), admin, replPassword); err != nil {
			t.Fatalf("PrepareSource: %v", err)
		}
	}
	testReplUserReserved(t, e, admin)

	// 2. A backup of the running source.
	var backup bytes.Buffer
	meta, err := e.Backup(testCtx(t), admin, src.spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if pos, ok := meta[MetaGTIDPos]; !ok || !gtidPosRE.MatchString(pos) || pos == "" {
		t.Fatalf("Backup meta = %v, want a GTID position", meta)
	}
	if meta[MetaToLSN] == "" {
		t.Errorf("Backup meta = %v lost the checkpoints", meta)
	}
	// A write after the backup: the replica must get it from the binary log.
	if err := insert(srcAlice, 3); err != nil {
		t.Fatal(err)
	}
	// An incremental on top records its own, later, position.
	inc, err := e.Backup(testCtx(t), admin, src.spec, t.TempDir(), io.Discard, &datastore.BackupRef{ID: "full", Meta: meta})
	if err != nil {
		t.Fatalf("incremental Backup: %v", err)
	}
	if inc[MetaBackupType] != "incremental" || inc[MetaFromLSN] != meta[MetaToLSN] || inc[MetaGTIDPos] == meta[MetaGTIDPos] || !gtidPosRE.MatchString(inc[MetaGTIDPos]) {
		t.Errorf("incremental meta = %v after full %v", inc, meta)
	}

	// 3. The replica, restored from it and rendered read-only.
	source := datastore.ReplicaSource{Address: src.spec.Address, Port: src.spec.Port, User: e.ReplicationUser(), Password: replPassword}
	rep := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			return e.Restore(testCtx(t), spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
		},
		ReplicaOf: &source,
	})
	re := rep.engine
	// No Bootstrap: the replica has the source's accounts, hoard's
	// included, from the backup.
	radmin := rep.socketConn(adminUser, adminPassword)
	if err := re.CheckAdmin(testCtx(t), radmin); err != nil {
		t.Fatalf("hoard's account on the replica: %v", err)
	}
	if _, err := re.ReplicaStatus(testCtx(t), radmin); !errors.Is(err, datastore.ErrNotReplica) {
		t.Errorf("ReplicaStatus before StartReplica = %v, want ErrNotReplica", err)
	}

	// 4. StartReplica.
	if err := re.StartReplica(testCtx(t), radmin, meta, source); err != nil {
		t.Fatalf("StartReplica: %v", err)
	}
	repAlice := rep.tcpConn(alice.Name, alice.Password)
	follows := func(want int) {
		t.Helper()
		eventually(t, "the replica has "+strconv.Itoa(want)+" rows", time.Minute, func() (bool, error) {
			n, err := rowCount(repAlice)
			return n == want, err
		})
	}
	follows(3)
	if err := insert(srcAlice, 4); err != nil {
		t.Fatal(err)
	}
	follows(4)
	st, err := re.ReplicaStatus(testCtx(t), radmin)
	if err != nil || st.State != datastore.ReplicaRunning || st.LagSeconds < 0 {
		t.Errorf("ReplicaStatus = %+v, %v; want running with a lag", st, err)
	}

	// Tenants cannot write on the replica: alice, root, and root cannot
	// turn read_only off.
	testReadOnly(t, rep, alice, rootPW)

	// A source restart: its init-file adds nothing to the binary log, and
	// the replica reconnects by itself.
	s := mustOpen(t, admin)
	before := query(t, s, "SELECT @@gtid_binlog_state")
	_ = s.Close()
	src.stop(t)
	eventually(t, "the replica notices", time.Minute, func() (bool, error) {
		st, err := replicaState(re, radmin)
		return st.State == datastore.ReplicaConnecting, err
	})
	src.start(t)
	s = mustOpen(t, admin)
	if after := query(t, s, "SELECT @@gtid_binlog_state"); after != before {
		t.Errorf("gtid_binlog_state across a restart of the source: %q, then %q", before, after)
	}
	_ = s.Close()
	if err := insert(srcAlice, 5); err != nil {
		t.Fatal(err)
	}
	follows(5)

	// A replica restart with an admin password of its own: its init-file
	// sets it without a transaction of the replica's own, and replication
	// resumes by itself.
	rep.stop(t)
	const repAdminPW = "Rep-adm1n-pw"
	rep.spec.AdminUser, rep.spec.AdminPassword = adminUser, repAdminPW
	rep.start(t)
	radmin = rep.socketConn(adminUser, repAdminPW)
	r := mustOpen(t, radmin)
	state := query(t, r, "SELECT @@gtid_binlog_state")
	if own := "-" + strconv.FormatUint(uint64(serverID(rep.spec.InstanceID)), 10) + "-"; strings.Contains(state, own) {
		t.Errorf("the replica logged transactions of its own: gtid_binlog_state %q", state)
	}
	if got := query(t, r, "SELECT @@read_only"); got != "1" {
		t.Errorf("read_only after a restart of the replica = %s", got)
	}
	_ = r.Close()
	if err := insert(srcAlice, 6); err != nil {
		t.Fatal(err)
	}
	follows(6)

	// StartReplica again: nothing changes (no rewind to the backup's
	// position, which would replay rows and break on the primary key).
	if err := re.StartReplica(testCtx(t), radmin, meta, source); err != nil {
		t.Fatalf("StartReplica again: %v", err)
	}
	if err := insert(srcAlice, 7); err != nil {
		t.Fatal(err)
	}
	follows(7)
	if st, err := re.ReplicaStatus(testCtx(t), radmin); err != nil || st.State != datastore.ReplicaRunning {
		t.Errorf("ReplicaStatus after StartReplica again = %+v, %v; want running", st, err)
	}

	// A new replication password (PrepareSource again): the replica's
	// next login is refused, and StartReplica with it repairs that.
	const newPW datastore.Secret = "N3w-repl-pw"
	if err := e.PrepareSource(testCtx(t), admin, newPW); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, radmin)
	for _, q := range []string{"STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"} {
		if err := r.exec(testCtx(t), q); err != nil {
			t.Fatal(err)
		}
	}
	_ = r.Close()
	eventually(t, "the old password is refused", time.Minute, func() (bool, error) {
		st, err := replicaState(re, radmin)
		return st.State == datastore.ReplicaConnecting && strings.Contains(st.Error, "Access denied"), err
	})
	source.Password = newPW
	if err := re.StartReplica(testCtx(t), radmin, meta, source); err != nil {
		t.Fatalf("StartReplica with the new password: %v", err)
	}
	if err := insert(srcAlice, 8); err != nil {
		t.Fatal(err)
	}
	follows(8)

	// The source is no replica.
	if _, err := e.ReplicaStatus(testCtx(t), admin); !errors.Is(err, datastore.ErrNotReplica) {
		t.Errorf("ReplicaStatus of the source = %v, want ErrNotReplica", err)
	}
	if err := e.Promote(testCtx(t), admin); err != nil {
		t.Errorf("Promote of the source: %v", err)
	}

	// Promote, twice.
	for i := range 2 {
		if err := re.Promote(testCtx(t), radmin); err != nil {
			t.Fatalf("Promote %d: %v", i+1, err)
		}
		if _, err := re.ReplicaStatus(testCtx(t), radmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus after Promote %d = %v, want ErrNotReplica", i+1, err)
		}
	}
	if err := insert(repAlice, 100); err != nil {
		t.Errorf("alice on the promoted replica: %v", err)
	}
	if n, err := rowCount(repAlice); err != nil || n != 9 {
		t.Errorf("rows on the promoted replica = %d, %v; want 9", n, err)
	}
	if err := insert(srcAlice, 9); err != nil {
		t.Fatal(err)
	}
	if n, err := rowCount(srcAlice); err != nil || n != 9 {
		t.Errorf("rows on the source = %d, %v; want 9 (nothing came back from the promoted replica)", n, err)
	}

	// No password in hoard's logs or the servers' error logs.
	for name, text := range map[string]string{
		"source engine log":  src.logs.String(),
		"replica engine log": rep.logs.String(),
		"source error log":   readFile(t, filepath.Join(src.spec.LogDir, "error.log")),
		"replica error log":  readFile(t, filepath.Join(rep.spec.LogDir, "error.log")),
	} {
		for _, pw := range []datastore.Secret{replPassword, newPW, adminPassword, repAdminPW, rootPW} {
			if strings.Contains(text, string(pw)) {
				t.Errorf("%s holds a password", name)
			}
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testReplUserReserved checks that os_repl exists on the source and that
// the API paths neither show, change, grant nor drop it, nor create it.
func testReplUserReserved(t *testing.T, e *Engine, admin datastore.Conn) {
	t.Helper()
	ctx := testCtx(t)
	s := mustOpen(t, admin)
	if grants := query(t, s, "SHOW GRANTS FOR 'os_repl'@'%'"); !strings.HasPrefix(grants, "GRANT REPLICATION SLAVE ON *.* TO `os_repl`@`%`") {
		t.Errorf("os_repl grants = %q", grants)
	}
	users, err := e.ListUsers(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(users, func(u datastore.UserInfo) bool { return u.Name == replUser }) {
		t.Errorf("ListUsers shows %s: %+v", replUser, users)
	}
	for name, err := range map[string]error{
		"GetUser":     func() error { _, err := e.GetUser(ctx, admin, replUser, "%"); return err }(),
		"UpdateUser":  e.UpdateUser(ctx, admin, replUser, "%", datastore.UserChange{Password: "x1"}),
		"rename to":   e.UpdateUser(ctx, admin, "alice", "%", datastore.UserChange{Name: replUser}),
		"GrantAccess": e.GrantAccess(ctx, admin, replUser, "%", []string{"app"}),
		"Revoke":      e.RevokeAccess(ctx, admin, replUser, "%", "app"),
		"DeleteUser":  e.DeleteUser(ctx, admin, replUser, "%"),
		"CreateUsers": e.CreateUsers(ctx, admin, []datastore.User{{Name: replUser, Password: "x1"}}),
		"Validate":    e.ValidateUser(datastore.User{Name: replUser, Password: "x1"}),
	} {
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s(%s) = %v, want Invalid (reserved)", name, replUser, err)
		}
	}
	if n := query(t, s, "SELECT COUNT(*) FROM mysql.user WHERE User = 'os_repl'"); n != "1" {
		t.Errorf("os_repl accounts: %s, want 1", n)
	}
	_ = s.Close()
}

// testReadOnly checks that tenant users and root cannot write on the
// replica, with MariaDB's read-only error, nor turn read_only off.
func testReadOnly(t *testing.T, rep *testServer, alice datastore.User, rootPW datastore.Secret) {
	t.Helper()
	ctx := testCtx(t)
	for _, c := range []datastore.Conn{rep.tcpConn(alice.Name, alice.Password), rep.tcpConn(rootUser, rootPW)} {
		s := mustOpen(t, c)
		for _, q := range []string{"INSERT INTO app.t VALUES (99)", "CREATE TABLE app.x (id INT)"} {
			if err := s.exec(ctx, q); mysqlErrNumber(err) != erOptionPreventsStatement {
				t.Errorf("%s on the replica: %s: %v, want error %d", c.User, q, err, erOptionPreventsStatement)
			}
		}
		_ = s.Close()
	}
	r := mustOpen(t, rep.tcpConn(rootUser, rootPW))
	for _, q := range []string{"CREATE USER 'x1'@'%'", "GRANT READ_ONLY ADMIN ON *.* TO 'root'@'%'"} {
		if err := r.exec(ctx, q); err == nil {
			t.Errorf("root on the replica: %s succeeded", q)
		}
	}
	if err := r.exec(ctx, "SET GLOBAL read_only = OFF"); mysqlErrNumber(err) != erSpecificAccessDenied {
		t.Errorf("root turns read_only off: %v, want access denied", err)
	}
	_ = r.Close()
}
