package redis

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// readOnlyErr is what Redis answers a write on a read-only replica.
const readOnlyErr = "READONLY You can't write against a read only replica."

// waitFor polls cond until it holds, failing t after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(enginetest.PollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		<-tick.C
	}
}

// TestReplicationIntegration makes a replica of a real source the way the
// service does (PrepareSource, a backup restored into the replica's data
// directory, the replica started with ReplicaOf, StartReplica) and checks
// what follows, up to Promote.
func TestReplicationIntegration(t *testing.T) {
	src := startServer(t)
	e := src.engine
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srcAdmin := src.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, srcAdmin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	const replPW datastore.Secret = `Repl "pw" \ #1`
	for range 2 {
		if err := e.PrepareSource(ctx, srcAdmin, replPW); err != nil {
			t.Fatalf("PrepareSource: %v", err)
		}
	}
	if err := e.CreateUsers(ctx, srcAdmin, []datastore.User{{Name: "app", Password: "app-pw-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.EnableRoot(ctx, srcAdmin, "r00t-pw-1"); err != nil {
		t.Fatal(err)
	}
	srcApp := src.goClient(t, "app", "app-pw-1")
	if err := srcApp.Set(ctx, "seed", "1", 0).Err(); err != nil {
		t.Fatalf("SET on the source: %v", err)
	}

	t.Run("ReplicationUserReserved", func(t *testing.T) {
		users, err := e.ListUsers(ctx, srcAdmin)
		if err != nil || len(users) != 1 || users[0].Name != "app" {
			t.Errorf("ListUsers = %+v, %v; want app only", users, err)
		}
		checks := map[string]error{
			"CreateUsers": e.CreateUsers(ctx, srcAdmin, []datastore.User{{Name: replUser, Password: "x-pw-1"}}),
			"UpdateUser":  e.UpdateUser(ctx, srcAdmin, replUser, "%", datastore.UserChange{Password: "x-pw-1"}),
			"Rename to":   e.UpdateUser(ctx, srcAdmin, "app", "%", datastore.UserChange{Name: replUser}),
			"DeleteUser":  e.DeleteUser(ctx, srcAdmin, replUser, "%"),
		}
		_, checks["GetUser"] = e.GetUser(ctx, srcAdmin, replUser, "%")
		for what, err := range checks {
			if err == nil {
				t.Errorf("%s(%s) succeeded", what, replUser)
			}
		}
		root := src.goClient(t, "root", "r00t-pw-1")
		for _, cmd := range [][]any{
			{"ACL", "GETUSER", replUser}, {"ACL", "SETUSER", replUser, "resetpass", ">x"}, {"ACL", "DELUSER", replUser}, {"ACL", "LIST"},
		} {
			if err := root.Do(ctx, cmd...).Err(); err == nil {
				t.Errorf("root: %v succeeded", cmd)
			}
		}
		// It replicates and nothing else.
		repl := src.goClient(t, replUser, string(replPW))
		if err := repl.Ping(ctx).Err(); err != nil {
			t.Errorf("%s PING: %v", replUser, err)
		}
		for _, cmd := range [][]any{{"GET", "seed"}, {"SET", "x", "1"}, {"CONFIG", "GET", "*"}, {"KEYS", "*"}} {
			if err := repl.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%s: %v = %v, want NOPERM", replUser, cmd, err)
			}
		}
	})

	// The seed: a backup of the running source, restored into the
	// replica's empty data directory.
	var backup bytes.Buffer
	meta, err := e.Backup(ctx, srcAdmin, src.Spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	source := datastore.ReplicaSource{Address: src.Spec.Address, Port: src.Spec.Port, User: e.ReplicationUser(), Password: replPW}
	rep := src.startSibling(t, enginetest.Options{
		Fill: func(spec datastore.Spec) error {
			return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
		},
		ReplicaOf: &source,
	})
	// No Bootstrap: the replica has the source's users, hoard's admin too.
	repAdmin := rep.socketConn(adminUser, adminPassword)
	repApp := rep.goClient(t, "app", "app-pw-1")
	repRoot := rep.goClient(t, "root", "r00t-pw-1")

	// From the first start, before StartReplica, tenants and root cannot
	// make the replica writable (Prepare).
	for who, c := range map[string]*goredis.Client{"app": repApp, "root": repRoot} {
		for _, cmd := range [][]any{{"CONFIG", "SET", "replica-read-only", "no"}, {"CONFIG", "GET", "masterauth"}, {"REPLICAOF", "NO", "ONE"}} {
			if err := c.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%s on the replica before StartReplica: %v = %v, want NOPERM", who, cmd, err)
			}
		}
	}

	if err := e.StartReplica(ctx, repAdmin, meta, source); err != nil {
		t.Fatalf("StartReplica: %v\n%s", err, rep.Log())
	}

	t.Run("Follows", func(t *testing.T) {
		if v, err := repApp.Get(ctx, "seed").Result(); err != nil || v != "1" {
			t.Errorf("GET seed on the replica = %q, %v", v, err)
		}
		if err := srcApp.Set(ctx, "after-seed", "2", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the write after the seed on the replica", func() bool {
			return repApp.Get(ctx, "after-seed").Val() == "2"
		})
		st, err := e.ReplicaStatus(ctx, repAdmin)
		if err != nil || st.State != datastore.ReplicaRunning || st.LagSeconds < 0 || st.Error != "" {
			t.Errorf("ReplicaStatus = %+v, %v; want running with a lag", st, err)
		}
		cl := rep.goClient(t, adminUser, string(adminPassword))
		if got := cl.ConfigGet(ctx, "masterauth").Val()["masterauth"]; got != string(replPW) {
			t.Errorf("the replica's masterauth is not the password that was rendered")
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		for who, c := range map[string]*goredis.Client{"app": repApp, "root": repRoot} {
			if err := c.Set(ctx, "k", "v", 0).Err(); err == nil || err.Error() != readOnlyErr {
				t.Errorf("%s SET on the replica = %v, want %q", who, err, readOnlyErr)
			}
			if err := c.Eval(ctx, "return redis.call('SET', KEYS[1], 'v')", []string{"k"}).Err(); err == nil ||
				!strings.HasPrefix(err.Error(), readOnlyErr) {
				t.Errorf("%s EVAL of a SET on the replica = %v, want READONLY", who, err)
			}
			for _, cmd := range [][]any{{"CONFIG", "SET", "replica-read-only", "no"}, {"CONFIG", "GET", "masterauth"},
				{"REPLICAOF", "NO", "ONE"}, {"SLAVEOF", "NO", "ONE"}} {
				if err := c.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
					t.Errorf("%s on the replica: %v = %v, want NOPERM", who, cmd, err)
				}
			}
		}
		if users, err := e.ListUsers(ctx, repAdmin); err != nil || len(users) != 1 || users[0].Name != "app" {
			t.Errorf("ListUsers on the replica = %+v, %v; want app only", users, err)
		}
		// ACL users are not replicated; users created on a replica get
		// the replica's rules.
		if err := e.CreateUsers(ctx, srcAdmin, []datastore.User{{Name: "later", Password: "later-pw-1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.GetUser(ctx, repAdmin, "later", "%"); !errors.Is(err, datastore.ErrUserNotFound) {
			t.Errorf("a user created on the source after the seed, on the replica: %v, want not found", err)
		}
		if err := e.CreateUsers(ctx, repAdmin, []datastore.User{{Name: "later", Password: "later-pw-1"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.EnableRoot(ctx, repAdmin, "r00t-pw-1"); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"later", "root"} {
			c := rep.goClient(t, u, map[string]string{"later": "later-pw-1", "root": "r00t-pw-1"}[u])
			if err := c.ConfigSet(ctx, "replica-read-only", "no").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%s (re)created on the replica: CONFIG SET replica-read-only no = %v, want NOPERM", u, err)
			}
		}
	})

	t.Run("SourceRestart", func(t *testing.T) {
		src.stop(t)
		src.start(t)
		srcApp := src.goClient(t, "app", "app-pw-1")
		// The server answers (an unauthenticated PING gets NOAUTH) before
		// it has read its dataset: writes get LOADING until then.
		waitFor(t, "the restarted source to take writes", func() bool {
			err := srcApp.Set(ctx, "after-restart", "3", 0).Err()
			if err != nil && !strings.HasPrefix(err.Error(), "LOADING") {
				t.Fatal(err)
			}
			return err == nil
		})
		waitFor(t, "the write after the source's restart on the replica", func() bool {
			return repApp.Get(ctx, "after-restart").Val() == "3"
		})
		waitFor(t, "the replica running again", func() bool {
			st, err := e.ReplicaStatus(ctx, repAdmin)
			return err == nil && st.State == datastore.ReplicaRunning
		})
		if err := e.StartReplica(ctx, repAdmin, meta, source); err != nil {
			t.Errorf("StartReplica again: %v", err)
		}
		if v := repApp.Get(ctx, "seed").Val(); v != "1" {
			t.Errorf("GET seed after StartReplica again = %q", v)
		}
		if _, err := e.ReplicaStatus(ctx, srcAdmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus of the source = %v, want ErrNotReplica", err)
		}
	})

	// A replica whose source is stopped is connecting, then broken once
	// its link has been down for ReplicaBrokenAfter, and running again
	// when the source is back (Redis retries by itself).
	t.Run("SourceStoppedBroken", func(t *testing.T) {
		quick := New(Config{ReplicaBrokenAfter: time.Second})
		src.stop(t)
		if st, err := e.ReplicaStatus(ctx, repAdmin); err != nil || st.State != datastore.ReplicaConnecting {
			t.Errorf("ReplicaStatus (threshold %v) right after the source stopped = %+v, %v; want connecting",
				DefaultReplicaBrokenAfter, st, err)
		}
		var st datastore.ReplicaStatus
		waitFor(t, "the replica broken", func() bool {
			var err error
			st, err = quick.ReplicaStatus(ctx, repAdmin)
			if err != nil {
				t.Fatalf("ReplicaStatus: %v", err)
			}
			return st.State == datastore.ReplicaBroken
		})
		if st.LagSeconds != -1 || !strings.Contains(st.Error, src.Spec.Address) || !strings.Contains(st.Error, "down for") {
			t.Errorf("broken ReplicaStatus = %+v; want lag -1 and an error naming the source", st)
		}
		t.Logf("broken: %s", st.Error)
		src.start(t)
		waitFor(t, "the replica running again", func() bool {
			st, err := quick.ReplicaStatus(ctx, repAdmin)
			return err == nil && st.State == datastore.ReplicaRunning
		})
	})

	// A replica rendered with a source that never answers (its link was
	// never up: master_link_down_since_seconds is -1) is broken once it
	// has run for the threshold.
	t.Run("NeverConnectedBroken", func(t *testing.T) {
		dead := source
		dead.Port = 1 // nothing listens
		r := src.startSibling(t, enginetest.Options{
			Fill: func(spec datastore.Spec) error {
				return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
			},
			ReplicaOf: &dead,
		})
		defer r.Kill(t)
		quick := New(Config{ReplicaBrokenAfter: time.Second})
		ra := r.socketConn(adminUser, adminPassword)
		waitFor(t, "the never-connected replica broken", func() bool {
			st, err := quick.ReplicaStatus(ctx, ra)
			if err != nil {
				t.Fatalf("ReplicaStatus: %v", err)
			}
			return st.State == datastore.ReplicaBroken
		})
	})

	// StartReplica sets at runtime what the configuration lacks: the
	// password (the driver does not keep it) or the whole ReplicaOf.
	t.Run("RuntimeStart", func(t *testing.T) {
		noPW := source
		noPW.Password = ""
		for name, of := range map[string]*datastore.ReplicaSource{"without password": &noPW, "without ReplicaOf": nil} {
			r := src.startSibling(t, enginetest.Options{
				Fill: func(spec datastore.Spec) error {
					return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
				},
				ReplicaOf: of,
			})
			ra := r.socketConn(adminUser, adminPassword)
			if err := e.StartReplica(ctx, ra, meta, source); err != nil {
				t.Fatalf("%s: StartReplica: %v\n%s", name, err, r.Log())
			}
			app := r.goClient(t, "app", "app-pw-1")
			if v := app.Get(ctx, "after-restart").Val(); v != "3" {
				t.Errorf("%s: GET after-restart = %q", name, v)
			}
			if err := app.Set(ctx, "k", "v", 0).Err(); err == nil || err.Error() != readOnlyErr {
				t.Errorf("%s: SET = %v, want %q", name, err, readOnlyErr)
			}
			if err := app.ConfigSet(ctx, "replica-read-only", "no").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("%s: CONFIG SET replica-read-only no = %v, want NOPERM", name, err)
			}
			if st, err := e.ReplicaStatus(ctx, ra); err != nil || st.State != datastore.ReplicaRunning {
				t.Errorf("%s: ReplicaStatus = %+v, %v", name, st, err)
			}
			r.Kill(t)
		}
	})

	t.Run("Promote", func(t *testing.T) {
		if err := e.Promote(ctx, repAdmin); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if err := repApp.Set(ctx, "promoted", "4", 0).Err(); err != nil {
			t.Errorf("SET on the promoted replica: %v", err)
		}
		if v := repApp.Get(ctx, "after-restart").Val(); v != "3" {
			t.Errorf("GET after-restart on the promoted replica = %q", v)
		}
		if _, err := e.ReplicaStatus(ctx, repAdmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaStatus after Promote = %v, want ErrNotReplica", err)
		}
		// Tenants have CONFIG back, and the password is gone from it.
		if got, err := repApp.ConfigGet(ctx, "masterauth").Result(); err != nil || got["masterauth"] != "" {
			t.Errorf("app CONFIG GET masterauth after Promote = %q, %v; want empty", got["masterauth"], err)
		}
		if err := e.Promote(ctx, repAdmin); err != nil {
			t.Errorf("Promote again: %v", err)
		}
		if v := repApp.Get(ctx, "promoted").Val(); v != "4" {
			t.Errorf("GET promoted after Promote again = %q", v)
		}
		// The source goes on alone.
		if err := srcApp.Set(ctx, "after-promote", "5", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := repApp.Get(ctx, "after-promote").Err(); !errors.Is(err, goredis.Nil) {
			t.Errorf("GET after-promote on the promoted replica = %v, want nil", err)
		}
	})

	logs := src.logs.String()
	for _, s := range []*testServer{src, rep} {
		b, _ := os.ReadFile(filepath.Join(s.Spec.LogDir, "redis.log"))
		acl, _ := os.ReadFile(filepath.Join(s.Spec.DataDir, aclName))
		logs += string(b) + string(acl)
	}
	for _, pw := range []string{string(replPW), string(adminPassword), "-pw-1"} {
		if strings.Contains(logs, pw) {
			t.Errorf("a password reached the logs or the aclfile")
		}
	}
}
