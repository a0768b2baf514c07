package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// timeoutClient returns a go-redis client for user over TCP whose replies
// time out after d (a write held back by a fence gets none).
func (s *testServer) timeoutClient(t *testing.T, user, pw string, d time.Duration) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr: net.JoinHostPort(s.spec.Address, strconv.Itoa(s.spec.Port)), Username: user, Password: pw,
		MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: d, PoolSize: 1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// setReplicaOf makes s render as a replica of src from its next start.
func (s *testServer) setReplicaOf(src *datastore.ReplicaSource) {
	s.spec.ReplicaOf = src
	s.Spec.ReplicaOf = src
}

// TestSwitchoverIntegration runs a planned switchover on real servers, as
// the service does: a source S with replicas R1 and R2; Fence(S);
// WaitCaughtUp(R1); Promote(R1); PrepareSource(R1); S and R2 rendered with
// ReplicaOf R1 and Follow(R1). No write S answered is lost, and S and R2
// are read-only replicas of R1 from then on, after restarts too.
func TestSwitchoverIntegration(t *testing.T) {
	s := startServer(t)
	e := s.engine
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sAdmin := s.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, sAdmin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	const replPW datastore.Secret = `Repl "pw" \ #1`
	if err := e.PrepareSource(ctx, sAdmin, replPW); err != nil {
		t.Fatalf("PrepareSource: %v", err)
	}
	if err := e.CreateUsers(ctx, sAdmin, []datastore.User{{Name: "app", Password: "app-pw-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.EnableRoot(ctx, sAdmin, "r00t-pw-1"); err != nil {
		t.Fatal(err)
	}
	// A root enabled by an older hoard could pause, unpause and shut down
	// the server: Fence takes that away.
	sAdm := s.goClient(t, adminUser, string(adminPassword))
	if err := sAdm.Do(ctx, "ACL", "SETUSER", "root", "+client|pause", "+client|unpause", "+shutdown", "+failover").Err(); err != nil {
		t.Fatal(err)
	}
	sApp := s.goClient(t, "app", "app-pw-1")
	sRoot := s.goClient(t, "root", "r00t-pw-1")

	// rows are written on S by the tenant, each answered OK.
	rows := 0
	write := func(n int) {
		t.Helper()
		for range n {
			if err := sApp.Set(ctx, fmt.Sprintf("row:%d", rows), rows, 0).Err(); err != nil {
				t.Fatalf("SET row:%d on the source: %v", rows, err)
			}
			rows++
		}
	}
	// hasRows checks that every row written is on c.
	hasRows := func(t *testing.T, who string, c *goredis.Client) {
		t.Helper()
		keys := make([]string, rows)
		for i := range keys {
			keys[i] = fmt.Sprintf("row:%d", i)
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("MGET on %s: %v", who, err)
		}
		for i, v := range vals {
			if v != strconv.Itoa(i) {
				t.Errorf("row:%d on %s = %v, want %d", i, who, v, i)
			}
		}
	}
	write(100)

	var backup bytes.Buffer
	meta, err := e.Backup(ctx, sAdmin, s.Spec, t.TempDir(), &backup, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	source := datastore.ReplicaSource{Address: s.Spec.Address, Port: s.Spec.Port, User: replUser, Password: replPW}
	seed := func() *testServer {
		r := s.startSibling(t, enginetest.Options{
			Fill: func(spec datastore.Spec) error {
				return e.Restore(ctx, spec, t.TempDir(), []io.Reader{bytes.NewReader(backup.Bytes())})
			},
			ReplicaOf: &source,
		})
		if err := e.StartReplica(ctx, r.socketConn(adminUser, adminPassword), meta, source); err != nil {
			t.Fatalf("StartReplica: %v\n%s", err, r.Log())
		}
		return r
	}
	r1, r2 := seed(), seed()
	r1Admin, r2Admin := r1.socketConn(adminUser, adminPassword), r2.socketConn(adminUser, adminPassword)
	write(10)

	// sourceOffset is S's master_repl_offset.
	sourceOffset := func() string {
		t.Helper()
		info, err := sAdm.Info(ctx, "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ParseInfo(info)["master_repl_offset"]
	}
	compare := func(a, b string, want int) {
		t.Helper()
		if got, err := e.ComparePositions(a, b); err != nil || got != want {
			t.Errorf("ComparePositions(%s, %s) = %d, %v; want %d", a, b, got, err, want)
		}
	}
	position := func(c datastore.Conn) string {
		t.Helper()
		p, err := e.ReplicaPosition(ctx, c)
		if err != nil {
			t.Fatalf("ReplicaPosition: %v", err)
		}
		return p
	}

	t.Run("Positions", func(t *testing.T) {
		// Caught up with S, R1 and R2 are at the same position (but for
		// a PING S may send between the two reads).
		var p1, p2 string
		for range 3 {
			pos := sourceOffset()
			for _, c := range []datastore.Conn{r1Admin, r2Admin} {
				if err := e.WaitCaughtUp(ctx, c, pos); err != nil {
					t.Fatalf("WaitCaughtUp: %v", err)
				}
			}
			if p1, p2 = position(r1Admin), position(r2Admin); p1 == p2 {
				break
			}
		}
		compare(p1, p2, 0)
		// R2 lags: a pause of its writes holds back what S sends it.
		r2Adm := r2.goClient(t, adminUser, string(adminPassword))
		if err := r2Adm.Do(ctx, "CLIENT", "PAUSE", "60000", "WRITE").Err(); err != nil {
			t.Fatal(err)
		}
		write(10)
		if err := e.WaitCaughtUp(ctx, r1Admin, sourceOffset()); err != nil {
			t.Fatalf("WaitCaughtUp(R1): %v", err)
		}
		ahead, behind := position(r1Admin), position(r2Admin)
		compare(behind, ahead, -1)
		compare(ahead, behind, 1)
		compare(p1, ahead, -1) // before more writes
		if err := r2Adm.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.WaitCaughtUp(ctx, r2Admin, ahead); err != nil {
			t.Fatalf("WaitCaughtUp(R2) after its pause: %v", err)
		}
		compare(behind, position(r2Admin), -1)
		if _, err := e.ReplicaPosition(ctx, sAdmin); !errors.Is(err, datastore.ErrNotReplica) {
			t.Errorf("ReplicaPosition of the source = %v, want ErrNotReplica", err)
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		far := strconv.FormatInt(1<<40, 10)
		if err := e.WaitCaughtUp(short, r1Admin, far); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitCaughtUp(R1, %s) = %v, want the deadline", far, err)
		}
		if err := e.WaitCaughtUp(ctx, r1Admin, "x"); err == nil {
			t.Error("WaitCaughtUp with a bad position succeeded")
		}
	})

	// checkFenced checks that tenants and root cannot write on S nor lift
	// its fence, and still read.
	checkFenced := func(t *testing.T) {
		t.Helper()
		for who, pw := range map[string]string{"app": "app-pw-1", "root": "r00t-pw-1"} {
			c := s.timeoutClient(t, who, pw, 500*time.Millisecond)
			if err := c.Set(ctx, "during-fence", who, 0).Err(); err == nil {
				t.Errorf("%s SET on the fenced source succeeded", who)
			}
		}
		if v, err := sApp.Get(ctx, "row:0").Result(); err != nil || v != "0" {
			t.Errorf("app GET on the fenced source = %q, %v", v, err)
		}
		for who, c := range map[string]*goredis.Client{"app": sApp, "root": sRoot} {
			for _, cmd := range [][]any{{"CLIENT", "UNPAUSE"}, {"CLIENT", "PAUSE", "1", "WRITE"}, {"SHUTDOWN", "NOSAVE"},
				{"FAILOVER", "ABORT"}} {
				if err := c.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
					t.Errorf("%s on the fenced source: %v = %v, want NOPERM", who, cmd, err)
				}
			}
		}
	}

	t.Run("Unfence", func(t *testing.T) {
		pos, err := e.Fence(ctx, sAdmin)
		if err != nil {
			t.Fatalf("Fence: %v", err)
		}
		checkFenced(t)
		again, err := e.Fence(ctx, sAdmin)
		if err != nil {
			t.Fatalf("Fence again: %v", err)
		}
		// Only S's PINGs to its replicas may have moved it.
		if c, err := e.ComparePositions(again, pos); err != nil || c < 0 {
			t.Errorf("Fence again = %s, first %s (%d, %v)", again, pos, c, err)
		}
		for range 2 {
			if err := e.Unfence(ctx, sAdmin); err != nil {
				t.Fatalf("Unfence: %v", err)
			}
		}
		write(10)
		if err := sRoot.Set(ctx, "by-root", "1", 0).Err(); err != nil {
			t.Errorf("root SET after Unfence: %v", err)
		}
		if err := e.WaitCaughtUp(ctx, r2Admin, sourceOffset()); err != nil {
			t.Fatal(err)
		}
		hasRows(t, "R2", r2.goClient(t, "app", "app-pw-1"))
	})

	// The switchover.
	write(10)
	pos, err := e.Fence(ctx, sAdmin)
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	checkFenced(t)
	// A tenant's write held back by the fence ...
	held := make(chan error, 1)
	heldClient := s.timeoutClient(t, "app", "app-pw-1", 2*time.Minute)
	if err := heldClient.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	go func() { held <- heldClient.Set(ctx, "held", "1", 0).Err() }()
	for range 2 {
		if err := e.WaitCaughtUp(ctx, r1Admin, pos); err != nil {
			t.Fatalf("WaitCaughtUp(R1, %s): %v", pos, err)
		}
	}
	if err := e.Promote(ctx, r1Admin); err != nil {
		t.Fatalf("Promote(R1): %v", err)
	}
	// ACL users are not replicated: R1 gets its own replication user
	// (another password, which S and R2 are given).
	const replPW2 datastore.Secret = "Repl-pw-2"
	if err := e.PrepareSource(ctx, r1Admin, replPW2); err != nil {
		t.Fatalf("PrepareSource(R1): %v", err)
	}
	source1 := datastore.ReplicaSource{Address: r1.Spec.Address, Port: r1.Spec.Port, User: replUser, Password: replPW2}
	s.setReplicaOf(&source1)
	r2.setReplicaOf(&source1)
	select {
	case err := <-held:
		t.Fatalf("the held write ended before S followed R1: %v", err)
	default:
	}
	if err := e.Follow(ctx, sAdmin, source1); err != nil {
		t.Fatalf("Follow(S, R1): %v\n%s", err, s.Log())
	}
	// ... fails once S is a replica.
	select {
	case err := <-held:
		if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
			t.Errorf("the write held back by the fence = %v, want READONLY", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the write held back by the fence did not end after Follow")
	}
	if err := e.Follow(ctx, r2Admin, source1); err != nil {
		t.Fatalf("Follow(R2, R1): %v\n%s", err, r2.Log())
	}

	servers := map[string]*testServer{"S": s, "R1": r1, "R2": r2}
	t.Run("NoLostWrite", func(t *testing.T) {
		for who, srv := range servers {
			app := srv.goClient(t, "app", "app-pw-1")
			hasRows(t, who, app)
			if err := app.Get(ctx, "held").Err(); !errors.Is(err, goredis.Nil) {
				t.Errorf("GET held on %s = %v, want nil", who, err)
			}
		}
		info, err := r1.goClient(t, adminUser, string(adminPassword)).Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		st := ParseInfo(info)
		// Redis 7.0: S and R2 continue partially (R1 keeps S's replication
		// ID as replid2), unless S's PINGs after R1 left it went beyond.
		t.Logf("R1 served sync_full %s, sync_partial_ok %s, sync_partial_err %s",
			st["sync_full"], st["sync_partial_ok"], st["sync_partial_err"])
	})

	r1App := r1.goClient(t, "app", "app-pw-1")
	checkFollowers := func(t *testing.T, key string) {
		t.Helper()
		if err := r1App.Set(ctx, key, "1", 0).Err(); err != nil {
			t.Fatalf("SET on R1: %v", err)
		}
		for _, who := range []string{"S", "R2"} {
			srv := servers[who]
			app := srv.goClient(t, "app", "app-pw-1")
			waitFor(t, key+" on "+who, func() bool { return app.Get(ctx, key).Val() == "1" })
			for u, c := range map[string]*goredis.Client{"app": app, "root": srv.goClient(t, "root", "r00t-pw-1")} {
				if err := c.Set(ctx, "k", "v", 0).Err(); err == nil || err.Error() != readOnlyErr {
					t.Errorf("%s SET on %s = %v, want %q", u, who, err, readOnlyErr)
				}
				for _, cmd := range [][]any{{"CONFIG", "SET", "replica-read-only", "no"}, {"REPLICAOF", "NO", "ONE"},
					{"CLIENT", "UNPAUSE"}} {
					if err := c.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
						t.Errorf("%s on %s: %v = %v, want NOPERM", u, who, cmd, err)
					}
				}
			}
			st, err := e.ReplicaStatus(ctx, srv.socketConn(adminUser, adminPassword))
			if err != nil || st.State != datastore.ReplicaRunning {
				t.Errorf("ReplicaStatus(%s) = %+v, %v; want running", who, st, err)
			}
		}
	}

	t.Run("Follows", func(t *testing.T) {
		checkFollowers(t, "after-switchover")
		// Again: harmless.
		for who, c := range map[string]datastore.Conn{"S": sAdmin, "R2": r2Admin} {
			if err := e.Follow(ctx, c, source1); err != nil {
				t.Errorf("Follow(%s) again: %v", who, err)
			}
		}
		// A Fence run again after Follow pauses nothing.
		if _, err := e.Fence(ctx, sAdmin); err != nil {
			t.Errorf("Fence(S) after Follow: %v", err)
		}
		checkFollowers(t, "after-follow-again")
		hasRows(t, "S", s.goClient(t, "app", "app-pw-1"))
	})

	t.Run("Restart", func(t *testing.T) {
		// The rendered configuration makes them replicas of R1 again.
		s.stop(t)
		s.start(t)
		r2.stop(t)
		r2.start(t)
		for _, c := range []datastore.Conn{sAdmin, r2Admin} {
			waitFor(t, "a restarted replica's link", func() bool {
				st, err := e.ReplicaStatus(ctx, c)
				return err == nil && st.State == datastore.ReplicaRunning
			})
		}
		checkFollowers(t, "after-restart")
		hasRows(t, "S", s.goClient(t, "app", "app-pw-1"))
		hasRows(t, "R2", r2.goClient(t, "app", "app-pw-1"))
	})

	t.Run("SourceStopped", func(t *testing.T) {
		want := position(r2Admin)
		r1.stop(t)
		wait, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := e.WaitCaughtUp(wait, r2Admin, ""); err != nil {
			t.Fatalf("WaitCaughtUp(R2, \"\") after R1 stopped: %v", err)
		}
		after := position(r2Admin)
		if c, err := e.ComparePositions(want, after); err != nil || c > 0 {
			t.Errorf("R2's position went back from %s to %s (%d, %v)", want, after, c, err)
		}
	})

	logs := s.logs.String()
	for _, srv := range servers {
		b, _ := os.ReadFile(filepath.Join(srv.Spec.LogDir, "redis.log"))
		acl, _ := os.ReadFile(filepath.Join(srv.Spec.DataDir, aclName))
		logs += string(b) + string(acl)
	}
	for _, pw := range []string{string(replPW), string(replPW2), string(adminPassword), "-pw-1"} {
		if strings.Contains(logs, pw) {
			t.Errorf("a password reached the logs or the aclfile")
		}
	}
}
