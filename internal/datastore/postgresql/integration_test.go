package postgresql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// mustConnect connects to database db at c or fails the test.
func mustConnect(t *testing.T, c datastore.Conn, db string) *pgx.Conn {
	t.Helper()
	conn, err := connect(testCtx(t), c, c.User, c.Password, db, opDialTimeout)
	if err != nil {
		t.Fatalf("connect as %q to %q: %v", c.User, db, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, q string, args ...any) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(testCtx(t), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestIntegration runs everything that needs a real server against one
// postgres (one initdb, several starts), in order.
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
		c := mustConnect(t, srv.socketConn(bootstrapUser, ""), maintenanceDB)
		if v := queryString(t, c, "SHOW server_version"); !strings.HasPrefix(v, vs[0].Version) {
			t.Errorf("Discover = %+v, server says %q", vs[0], v)
		}
	})
	if !t.Run("Bootstrap", func(t *testing.T) {
		ctx := testCtx(t)
		if err := e.Bootstrap(ctx, admin); err != nil {
			t.Fatalf("Bootstrap: %v", err)
		}
		// Idempotent: "postgres" is now refused, the admin path is taken.
		if err := e.Bootstrap(ctx, admin); err != nil {
			t.Fatalf("Bootstrap again: %v", err)
		}
		if _, err := connect(ctx, srv.socketConn(bootstrapUser, ""), bootstrapUser, "", maintenanceDB, opDialTimeout); err == nil {
			t.Error("postgres still logs in over the socket after Bootstrap")
		}
		if _, err := connect(ctx, admin, adminUser, "wrong-pw", maintenanceDB, opDialTimeout); sqlState(err) != codeInvalidPassword {
			t.Errorf("admin with a wrong password: %v, want %s", err, codeInvalidPassword)
		}
		c := mustConnect(t, adminTCP, maintenanceDB)
		if su := queryString(t, c, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"); su != "true" {
			t.Errorf("admin superuser = %s", su)
		}
	}) {
		t.FailNow()
	}
	t.Run("Ping", func(t *testing.T) {
		for _, c := range []datastore.Conn{admin, adminTCP, srv.tcpConn(adminUser, "wrong"), srv.tcpConn("nobody", "x"), srv.tcpConn("", "")} {
			if err := e.Ping(testCtx(t), c); err != nil {
				t.Errorf("Ping(%s@%s%s) = %v", c.User, c.Address, c.Socket, err)
			}
		}
		if err := e.Ping(testCtx(t), datastore.Conn{Address: "127.0.0.1", Port: freePort(t), User: adminUser, Password: "x"}); err == nil {
			t.Error("Ping of a closed port = nil")
		}
	})
	t.Run("CreateDatabasesUsers", func(t *testing.T) { testDatabasesUsers(t, srv, admin, adminTCP) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, srv, adminTCP) })

	if logs := srv.logs.String(); strings.Contains(logs, string(adminPassword)) || strings.Contains(logs, "pw-") {
		t.Errorf("a password reached the logs:\n%s", logs)
	}
	if log := srv.serverLog(); strings.Contains(log, "FATAL:  could not") || strings.Contains(log, "invalid value") {
		t.Errorf("server log:\n%s", log)
	}
}

func testDatabasesUsers(t *testing.T, srv *testServer, admin, adminTCP datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	dbs := []datastore.Database{{Name: "shop"}, {Name: "latin", CharacterSet: "LATIN1", Collate: "C"}, {Name: "other"}}
	if err := e.CreateDatabases(ctx, admin, dbs); err != nil {
		t.Fatalf("CreateDatabases: %v", err)
	}
	if err := e.CreateDatabases(ctx, adminTCP, dbs); err != nil {
		t.Fatalf("CreateDatabases again: %v", err)
	}
	c := mustConnect(t, adminTCP, maintenanceDB)
	if enc := queryString(t, c, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'latin'"); enc != "LATIN1" {
		t.Errorf("latin encoding = %s", enc)
	}
	for _, bad := range []datastore.Database{
		{Name: "x1", CharacterSet: "NOSUCH"},
		{Name: "x2", Collate: "xx_NOSUCH.utf8"},
		{Name: "postgres"},
		{Name: "a\"b"},
	} {
		if err := e.CreateDatabases(ctx, admin, []datastore.Database{bad}); !fault.Is(err, fault.Invalid) {
			t.Errorf("CreateDatabases(%+v) = %v, want Invalid", bad, err)
		}
	}

	users := []datastore.User{
		{Name: "app", Password: "app-pw-123", Databases: []string{"shop"}},
		{Name: "Mixed-Case", Password: "pw-2 with space", Databases: []string{"shop", "latin"}},
	}
	if err := e.CreateUsers(ctx, admin, users); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	// app can really work in shop, over TCP.
	app := mustConnect(t, srv.tcpConn("app", "app-pw-123"), "shop")
	for _, q := range []string{"CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)", "CREATE TEMP TABLE tt (id int)"} {
		if _, err := app.Exec(ctx, q); err != nil {
			t.Fatalf("app: %s: %v", q, err)
		}
	}
	mc := mustConnect(t, srv.tcpConn("Mixed-Case", "pw-2 with space"), "latin")
	if _, err := mc.Exec(ctx, "CREATE TABLE m (id int)"); err != nil {
		t.Errorf("Mixed-Case in latin: %v", err)
	}
	// Not granted: other, postgres.
	for _, db := range []string{"other", maintenanceDB} {
		if _, err := connect(ctx, srv.tcpConn("app", "app-pw-123"), "app", "app-pw-123", db, opDialTimeout); err == nil {
			t.Errorf("app connected to %s without a grant", db)
		}
	}
	// Not a superuser: no ALTER SYSTEM.
	if _, err := app.Exec(ctx, "ALTER SYSTEM SET work_mem = '9MB'"); err == nil {
		t.Error("app could ALTER SYSTEM")
	}
	// A repeat changes the password.
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "new-pw-456", Databases: []string{"shop"}}}); err != nil {
		t.Fatalf("CreateUsers again: %v", err)
	}
	if _, err := connect(ctx, srv.tcpConn("", ""), "app", "app-pw-123", "shop", opDialTimeout); sqlState(err) != codeInvalidPassword {
		t.Errorf("old password: %v", err)
	}
	mustConnect(t, srv.tcpConn("app", "new-pw-456"), "shop")

	for _, bad := range []datastore.User{
		{Name: "pg_x", Password: "pw"},
		{Name: "postgres", Password: "pw"},
		{Name: "os_admin", Password: "pw"},
		{Name: "ok", Password: "pw", Host: "10.0.0.1"},
		{Name: "ok", Password: "pwé"},
		{Name: "x\"; DROP ROLE os_admin; --", Password: "pw"},
		{Name: "ok", Password: "pw", Databases: []string{"nosuchdb"}},
	} {
		if err := e.CreateUsers(ctx, admin, []datastore.User{bad}); !fault.Is(err, fault.Invalid) {
			t.Errorf("CreateUsers(%q) = %v, want Invalid", bad.Name, err)
		}
	}
}

// testRestart checks the restart semantics in the package doc: ALTER
// SYSTEM values are gone after a restart, managed settings cannot be
// overridden, data is kept.
func testRestart(t *testing.T, srv *testServer, adminTCP datastore.Conn) {
	ctx := testCtx(t)
	c := mustConnect(t, adminTCP, maintenanceDB)
	wantConns := queryString(t, c, "SHOW max_connections")
	for _, q := range []string{
		"ALTER SYSTEM SET work_mem = '9MB'",
		"ALTER SYSTEM SET max_connections = 77",
		"ALTER SYSTEM SET shared_buffers = '16MB'",
		"SELECT pg_reload_conf()",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Reload applies work_mem (a new session sees it) but never the
	// command-line settings.
	c2 := mustConnect(t, adminTCP, maintenanceDB)
	if got := pollSetting(t, c2, "work_mem", "9MB"); got != "9MB" {
		t.Logf("work_mem after reload = %s (reload is asynchronous)", got)
	}
	_ = c.Close(ctx)
	_ = c2.Close(ctx)

	srv.stop(t)
	srv.start(t)
	c3 := mustConnect(t, adminTCP, maintenanceDB)
	for name, want := range map[string]string{"work_mem": "4MB", "max_connections": wantConns, "shared_buffers": "128MB"} {
		if got := queryString(t, c3, "SHOW "+name); got != want {
			t.Errorf("after restart %s = %s, want %s", name, got, want)
		}
	}
	if src := queryString(t, c3, "SELECT source FROM pg_settings WHERE name = 'max_connections'"); src != "command line" {
		t.Errorf("max_connections source = %s", src)
	}
	app := mustConnect(t, srv.tcpConn("app", "new-pw-456"), "shop")
	if n := queryString(t, app, "SELECT count(*)::text FROM t"); n != "1" {
		t.Errorf("rows in shop.t after restart = %s, want 1", n)
	}
}

// pollSetting waits (bounded) for a new session to see name = want after a
// reload, and returns what it saw last.
func pollSetting(t *testing.T, c *pgx.Conn, name, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got string
		if err := c.QueryRow(testCtx(t), "SELECT setting FROM pg_file_settings WHERE name = $1 AND applied", name).Scan(&got); err == nil && got == want {
			return got
		}
		if time.Now().After(deadline) {
			return queryString(t, c, "SHOW "+name)
		}
		select {
		case <-time.After(pollInterval):
		case <-testCtx(t).Done():
			return ""
		}
	}
}
