package redis

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

const adminPassword datastore.Secret = "Adm1n-pw_0f-h0ard"

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// goClient returns a go-redis client for user over TCP.
func (s *testServer) goClient(t *testing.T, user, pw string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr: net.JoinHostPort(s.spec.Address, strconv.Itoa(s.spec.Port)), Username: user, Password: pw,
		MaxRetries: -1, DialTimeout: 2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestIntegration runs everything against one real redis-server.
func TestIntegration(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	admin := srv.socketConn(adminUser, adminPassword)
	adminTCP := srv.tcpConn(adminUser, adminPassword)

	t.Run("Discover", func(t *testing.T) {
		vs, err := e.Discover(testCtx(t))
		if err != nil || len(vs) != 1 {
			t.Fatalf("Discover = %+v, %v", vs, err)
		}
		info, err := srv.goClient(t, "", "").Info(testCtx(t), "server").Result()
		if err != nil || !strings.Contains(info, "redis_version:"+vs[0].Version+"\r") {
			t.Errorf("Discover = %+v; INFO server: %v %.200s", vs[0], err, info)
		}
	})
	if !t.Run("Bootstrap", func(t *testing.T) {
		ctx := testCtx(t)
		if err := e.Bootstrap(ctx, admin); err != nil {
			t.Fatalf("Bootstrap: %v", err)
		}
		if err := e.Bootstrap(ctx, adminTCP); err != nil {
			t.Fatalf("Bootstrap again: %v", err)
		}
		if err := srv.goClient(t, "", "").Set(ctx, "k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("default user after Bootstrap: SET = %v, want NOAUTH", err)
		}
		if err := srv.goClient(t, adminUser, "wrong").Ping(ctx).Err(); err == nil {
			t.Error("admin with a wrong password got in")
		}
		acl, err := os.ReadFile(filepath.Join(srv.spec.DataDir, aclName))
		if err != nil || !strings.Contains(string(acl), "user os_admin on ") || strings.Contains(string(acl), string(adminPassword)) {
			t.Errorf("aclfile = %q, %v", acl, err)
		}
	}) {
		t.FailNow()
	}
	t.Run("Ping", func(t *testing.T) {
		for _, c := range []datastore.Conn{admin, adminTCP, srv.tcpConn("", "")} {
			if err := e.Ping(testCtx(t), c); err != nil {
				t.Errorf("Ping(%s%s) = %v", c.Address, c.Socket, err)
			}
		}
		if err := e.Ping(testCtx(t), datastore.Conn{Address: "127.0.0.1", Port: freePort(t)}); err == nil {
			t.Error("Ping of a closed port = nil")
		}
	})
	t.Run("Databases", func(t *testing.T) {
		if _, ok := any(e).(datastore.DatabaseAdmin); ok {
			t.Error("Redis is a datastore.DatabaseAdmin; it has no databases")
		}
		err := e.ValidateDatabase(datastore.Database{Name: "x"})
		if !fault.Is(err, fault.NotImplemented) || !strings.Contains(fault.Message(err), "'redis' datastore") {
			t.Errorf("ValidateDatabase = %v, want NotImplemented naming redis", err)
		}
	})
	t.Run("Users", func(t *testing.T) {
		ctx := testCtx(t)
		if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "app-pw-123"}}); err != nil {
			t.Fatalf("CreateUsers: %v", err)
		}
		app := srv.goClient(t, "app", "app-pw-123")
		if err := app.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
			t.Fatalf("app SET: %v", err)
		}
		if err := app.ConfigSet(ctx, "maxmemory", "10mb").Err(); err != nil {
			t.Fatalf("app CONFIG SET: %v", err)
		}
		for _, cmd := range [][]any{{"CONFIG", "REWRITE"}, {"SHUTDOWN"}, {"ACL", "LIST"}, {"DEBUG", "SLEEP", "0"}, {"CONFIG", "SET", "dir", "/tmp"}} {
			if err := app.Do(ctx, cmd...).Err(); err == nil {
				t.Errorf("app may run %v", cmd)
			}
		}
		// The admin cannot make the setting permanent either.
		ac := srv.goClient(t, adminUser, string(adminPassword))
		if err := ac.ConfigRewrite(ctx).Err(); err == nil {
			t.Error("CONFIG REWRITE succeeded; the config dir must not be writable by the server")
		}
		// A repeat changes the password.
		if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "new-pw-456"}}); err != nil {
			t.Fatalf("CreateUsers again: %v", err)
		}
		if err := srv.goClient(t, "app", "app-pw-123").Ping(ctx).Err(); err == nil {
			t.Error("old password still works")
		}
		for _, bad := range []datastore.User{
			{Name: "default", Password: "pw"}, {Name: "os_admin", Password: "pw"}, {Name: "a b", Password: "pw"},
			{Name: "ok", Password: "pw", Databases: []string{"x"}}, {Name: "ok", Password: "p\nw"},
		} {
			if err := e.CreateUsers(ctx, admin, []datastore.User{bad}); err == nil {
				t.Errorf("CreateUsers(%q) accepted", bad.Name)
			}
		}
	})
	t.Run("Restart", func(t *testing.T) {
		ctx := testCtx(t)
		want := srv.goClient(t, adminUser, string(adminPassword)).ConfigGet(ctx, "maxmemory").Val()["maxmemory"]
		if want != "10485760" {
			t.Fatalf("maxmemory before restart = %s, want the 10mb set at runtime", want)
		}
		srv.stop(t)
		srv.start(t)
		app := srv.goClient(t, "app", "new-pw-456")
		if got := app.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != "268435456" {
			t.Errorf("maxmemory after restart = %s, want 268435456 (256mb from redis.conf)", got)
		}
		if v, err := app.Get(ctx, "greeting").Result(); err != nil || v != "hello" {
			t.Errorf("GET greeting after restart = %q, %v", v, err)
		}
		if err := e.Bootstrap(ctx, admin); err != nil {
			t.Errorf("Bootstrap after restart: %v", err)
		}
	})

	if logs := srv.logs.String(); strings.Contains(logs, string(adminPassword)) || strings.Contains(logs, "pw-") {
		t.Errorf("a password reached the logs:\n%s", logs)
	}
}
