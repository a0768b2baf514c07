package postgresql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/fault"
)

// replPassword is the replication account's password in the tests; it has
// a quote, a backslash and blanks, which primary_conninfo must carry.
const replPassword datastore.Secret = `Repl 'pw\ #1-of-hoard`

// replicaWait bounds a wait for the replica (a reconnection after the
// source restarts takes up to wal_retrieve_retry_interval, 5 s).
const replicaWait = 45 * time.Second

// TestReplication seeds a real replica from a backup of a real source and
// follows the flow: PrepareSource, Backup, a replica started from
// the restore with ReplicaOf, StartReplica; then reads, lag, read-only
// refusals, a source restart, idempotence, status of a source, Promote.
func TestReplication(t *testing.T) {
	src := startServer(t)
	e := src.engine
	ctx := testCtx(t)
	admin := src.socketConn(adminUser, adminPassword)
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
	for i := range 2 { // idempotent
		if err := e.PrepareSource(ctx, admin, replPassword); err != nil {
			t.Fatalf("PrepareSource #%d: %v", i+1, err)
		}
	}
	if err := e.PrepareSource(ctx, admin, "bad\npassword"); !fault.Is(err, fault.Invalid) {
		t.Errorf("PrepareSource(bad password) = %v, want Invalid", err)
	}
	t.Run("Reserved", func(t *testing.T) { testReplicationUserReserved(t, src, admin) })

	app := mustConnect(t, src.tcpConn("app", "app-pw-1"), "shop")
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY, v text)",
		"INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g"} {
		if _, err := app.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// The seed: a backup of the running source, restored into the
	// replica's empty data directory before its first start.
	var seed bytes.Buffer
	meta, err := e.Backup(ctx, admin, src.Spec, t.TempDir(), &seed, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	source := datastore.ReplicaSource{Address: src.Spec.Address, Port: src.Spec.Port, User: e.ReplicationUser(), Password: replPassword}
	replica := startServerWith(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(seed.Bytes())})
		},
		ReplicaOf: &source,
	})
	// No Bootstrap: the replica has the source's roles, and its admin
	// logs in with the source's password.
	radmin := replica.socketConn(adminUser, adminPassword)
	if err := e.StartReplica(ctx, radmin, meta, source); err != nil {
		t.Fatalf("StartReplica: %v\n%s", err, replica.serverLog())
	}

	rapp := mustConnect(t, replica.tcpConn("app", "app-pw-1"), "shop")
	t.Run("SeededData", func(t *testing.T) {
		if n := queryString(t, rapp, "SELECT count(*)::text FROM t"); n != "100" {
			t.Errorf("rows on the replica = %s, want 100", n)
		}
	})
	t.Run("Follows", func(t *testing.T) {
		insert(t, app, 101)
		waitRow(t, replica, rapp, 101)
		st, err := e.ReplicaStatus(testCtx(t), radmin)
		if err != nil || st.State != datastore.ReplicaRunning || st.LagSeconds < 0 || st.Error != "" {
			t.Errorf("ReplicaStatus = %+v, %v; want running with a lag >= 0", st, err)
		}
		c := mustConnect(t, admin, maintenanceDB)
		if got := queryString(t, c, "SELECT application_name || ' ' || state FROM pg_stat_replication WHERE usename = $1", replicationUser); got != replica.Spec.InstanceID+" streaming" {
			t.Errorf("pg_stat_replication on the source = %q", got)
		}
		checkOwnedLike(t, filepath.Join(replica.Spec.RunDir, replicaPassFile), replica.Spec.RunDir)
		checkOwnedLike(t, filepath.Join(replica.Spec.DataDir, standbySignalFile), replica.Spec.DataDir)
		rc := mustConnect(t, radmin, maintenanceDB)
		if ci := queryString(t, rc, "SELECT conninfo FROM pg_stat_wal_receiver"); strings.Contains(ci, string(replPassword)) || strings.Contains(ci, "password=") {
			t.Errorf("pg_stat_wal_receiver shows the password: %s", ci)
		}
	})
	t.Run("ReadOnly", func(t *testing.T) {
		ctx := testCtx(t)
		if _, err := rapp.Exec(ctx, "INSERT INTO t VALUES (999, 'x')"); sqlState(err) != codeReadOnlyTransaction {
			t.Errorf("tenant insert on the replica: %v, want SQLSTATE %s", err, codeReadOnlyTransaction)
		}
		root := mustConnect(t, replica.tcpConn(rootUser, "root-pw-1"), "shop")
		for _, q := range []string{"INSERT INTO t VALUES (999, 'x')", "CREATE TABLE r (id int)", "CREATE ROLE intruder"} {
			if _, err := root.Exec(ctx, q); sqlState(err) != codeReadOnlyTransaction {
				t.Errorf("root %q on the replica: %v, want SQLSTATE %s", q, err, codeReadOnlyTransaction)
			}
		}
		// Root reads settings (pg_monitor), but not the password.
		if ci := queryString(t, root, "SHOW primary_conninfo"); strings.Contains(ci, string(replPassword)) || !strings.Contains(ci, "passfile=") {
			t.Errorf("root sees primary_conninfo = %q", ci)
		}
		if _, err := root.Exec(ctx, "SELECT pg_promote()"); err == nil {
			t.Error("root promoted the replica")
		}
	})
	outer := t // connections that outlive a subtest
	t.Run("SourceRestart", func(t *testing.T) {
		_ = app.Close(context.Background())
		// src.Restart, with a look at the replica while the source is down.
		src.Stop(t)
		waitState(t, e, radmin, datastore.ReplicaConnecting)
		src.Start(t)
		app = mustConnect(outer, src.tcpConn("app", "app-pw-1"), "shop")
		insert(t, app, 102)
		waitRow(t, replica, rapp, 102)
	})
	// A standby whose source stays down is broken once it has not
	// streamed for ReplicaBrokenAfter, and running again when the source
	// is back.
	t.Run("SourceStoppedBroken", func(t *testing.T) {
		_ = app.Close(context.Background())
		quick := New(Config{ReplicaBrokenAfter: time.Second})
		src.Stop(t)
		waitState(t, quick, radmin, datastore.ReplicaBroken)
		st, err := quick.ReplicaStatus(testCtx(t), radmin)
		if err != nil || !strings.Contains(st.Error, src.Spec.Address) {
			t.Errorf("broken ReplicaStatus = %+v, %v; want an error naming the source", st, err)
		}
		t.Logf("broken: %s", st.Error)
		if st, err := e.ReplicaStatus(testCtx(t), radmin); err != nil || st.State != datastore.ReplicaConnecting {
			t.Errorf("ReplicaStatus (threshold %v) = %+v, %v; want connecting", DefaultReplicaBrokenAfter, st, err)
		}
		src.Start(t)
		waitState(t, quick, radmin, datastore.ReplicaRunning)
		app = mustConnect(outer, src.tcpConn("app", "app-pw-1"), "shop")
	})
	t.Run("Idempotent", func(t *testing.T) {
		if err := e.StartReplica(testCtx(t), radmin, meta, source); err != nil {
			t.Errorf("StartReplica again: %v", err)
		}
		other := source
		other.Port++
		if err := e.StartReplica(testCtx(t), radmin, meta, other); !fault.Is(err, fault.Conflict) {
			t.Errorf("StartReplica(another source) = %v, want Conflict", err)
		}
	})
	t.Run("Source", func(t *testing.T) {
		if _, err := e.ReplicaStatus(testCtx(t), admin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus(source) = %v, want ErrNotReplica", err)
		}
		if err := e.StartReplica(testCtx(t), admin, meta, source); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("StartReplica(source) = %v, want ErrNotReplica", err)
		}
		if err := e.Promote(testCtx(t), admin); err != nil {
			t.Errorf("Promote(source) = %v", err)
		}
	})
	t.Run("Promote", func(t *testing.T) {
		ctx := testCtx(t)
		if err := e.Promote(ctx, radmin); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		insert(t, rapp, 500) // writable at once, in the same session
		if _, err := e.ReplicaStatus(ctx, radmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus after Promote = %v, want ErrNotReplica", err)
		}
		if err := e.Promote(ctx, radmin); err != nil {
			t.Errorf("Promote again: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(replica.Spec.DataDir, standbySignalFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("standby.signal after Promote: %v", err)
		}
		// Rendered without ReplicaOf, a restart keeps it a source.
		_ = rapp.Close(context.Background())
		replica.Spec.ReplicaOf = nil
		replica.Restart(t)
		rapp = mustConnect(outer, replica.tcpConn("app", "app-pw-1"), "shop")
		insert(t, rapp, 501)
		if _, err := os.Lstat(filepath.Join(replica.Spec.RunDir, replicaPassFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the password file outlives ReplicaOf: %v", err)
		}
		if _, err := e.ReplicaStatus(ctx, radmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus after a restart without ReplicaOf = %v, want ErrNotReplica", err)
		}
		// The old source goes on by itself.
		insert(t, app, 103)
	})

	for name, logs := range map[string]string{
		"engine": src.logs.String() + replica.logs.String(), "source": serverOutput(t, src), "replica": serverOutput(t, replica),
	} {
		if strings.Contains(logs, string(replPassword)) || strings.Contains(logs, "-pw-1") {
			t.Errorf("a password reached the %s log:\n%s", name, logs)
		}
	}
}

// testReplicationUserReserved checks that the replication account is as
// reserved as the admin: never listed, shown, changed, granted, dropped or
// created through the API.
func testReplicationUserReserved(t *testing.T, src *testServer, admin datastore.Conn) {
	e, ctx := src.engine, testCtx(t)
	users, err := e.ListUsers(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == replicationUser {
			t.Errorf("ListUsers shows %s", replicationUser)
		}
	}
	if _, err := e.GetUser(ctx, admin, replicationUser, "%"); !fault.Is(err, fault.Invalid) {
		t.Errorf("GetUser = %v, want Invalid", err)
	}
	if err := e.UpdateUser(ctx, admin, replicationUser, "%", datastore.UserChange{Password: "x-pw-9"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("UpdateUser = %v, want Invalid", err)
	}
	if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Name: replicationUser}); !fault.Is(err, fault.Invalid) {
		t.Errorf("UpdateUser(rename to it) = %v, want Invalid", err)
	}
	if err := e.DeleteUser(ctx, admin, replicationUser, "%"); !fault.Is(err, fault.Invalid) {
		t.Errorf("DeleteUser = %v, want Invalid", err)
	}
	if err := e.GrantAccess(ctx, admin, replicationUser, "%", []string{"shop"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("GrantAccess = %v, want Invalid", err)
	}
	if err := e.RevokeAccess(ctx, admin, replicationUser, "%", "shop"); !fault.Is(err, fault.Invalid) {
		t.Errorf("RevokeAccess = %v, want Invalid", err)
	}
	for _, name := range []string{replicationUser, strings.ToUpper(replicationUser)} {
		u := datastore.User{Name: name, Password: "x-pw-9"}
		if err := e.ValidateUser(u); !fault.Is(err, fault.Invalid) {
			t.Errorf("ValidateUser(%s) = %v, want Invalid", name, err)
		}
		if err := e.CreateUsers(ctx, admin, []datastore.User{u}); !fault.Is(err, fault.Invalid) {
			t.Errorf("CreateUsers(%s) = %v, want Invalid", name, err)
		}
	}
	// Root (CREATEROLE, no superuser) cannot change the account either.
	root := mustConnect(t, src.tcpConn(rootUser, "root-pw-1"), maintenanceDB)
	if _, err := root.Exec(ctx, "ALTER ROLE "+ident(replicationUser)+" PASSWORD 'x'"); err == nil {
		t.Error("root changed the replication account's password")
	}
	// It logs in for replication only: it holds no database.
	if err := tryConnect(t, src, replicationUser, string(replPassword), "shop"); sqlState(err) != codeInsufficientPrivilege {
		t.Errorf("replication account into shop: %v, want %s", err, codeInsufficientPrivilege)
	}
}

// insert adds row id to table t.
func insert(t *testing.T, c *pgx.Conn, id int) {
	t.Helper()
	if _, err := c.Exec(testCtx(t), "INSERT INTO t VALUES ($1, md5($1::text))", id); err != nil {
		t.Fatalf("insert %d: %v", id, err)
	}
}

// waitRow polls the replica (c) until row id of table t is there, for at
// most replicaWait.
func waitRow(t *testing.T, replica *testServer, c *pgx.Conn, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		var n int
		err := c.QueryRow(ctx, "SELECT count(*) FROM t WHERE id = $1", id).Scan(&n)
		if err == nil && n == 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("row %d not on the replica after %v (last: %d, %v)\n%s", id, replicaWait, n, err, replica.serverLog())
		case <-tick.C:
		}
	}
}

// serverOutput is everything the server wrote (enginetest keeps it in
// Base/server.out; Log has only its end).
func serverOutput(t *testing.T, s *testServer) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Base, "server.out"))
	if err != nil {
		t.Logf("whole server output: %v; checking its end", err)
		return s.serverLog()
	}
	return string(b)
}

// checkOwnedLike checks that path is a 0600 file of dir's owner (the
// instance user), as Prepare (run as root) makes them.
func checkOwnedLike(t *testing.T, path, dir string) {
	t.Helper()
	fi, err1 := os.Lstat(path)
	di, err2 := os.Lstat(dir)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	f, d := fi.Sys().(*syscall.Stat_t), di.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || f.Uid != d.Uid || f.Gid != d.Gid {
		t.Errorf("%s: %v owned by %d:%d; want a 0600 file of %d:%d", path, fi.Mode(), f.Uid, f.Gid, d.Uid, d.Gid)
	}
}

// waitState polls ReplicaStatus until it reports want (for at most
// replicaWait); a replica that is not connected reports no lag.
func waitState(t *testing.T, e *Engine, c datastore.Conn, want datastore.ReplicaState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		st, err := e.ReplicaStatus(ctx, c)
		if err == nil && st.State == want {
			if want != datastore.ReplicaRunning && st.LagSeconds != -1 {
				t.Errorf("ReplicaStatus = %+v; want no lag (-1) when not connected", st)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ReplicaStatus = %+v, %v; want %s within %v", st, err, want, replicaWait)
		case <-tick.C:
		}
	}
}
