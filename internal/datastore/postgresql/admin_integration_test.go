package postgresql

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// codeInsufficientPrivilege is SQLSTATE insufficient_privilege (e.g. no
// CONNECT on a database).
const codeInsufficientPrivilege = "42501"

// tryConnect connects as user with password to db over TCP.
func tryConnect(t *testing.T, srv *testServer, user, pw, db string) error {
	t.Helper()
	conn, err := connect(testCtx(t), srv.tcpConn("", ""), user, datastore.Secret(pw), db, opDialTimeout)
	if err == nil {
		_ = conn.Close(context.Background())
	}
	return err
}

// TestAdmin checks the DatabaseAdmin, UserAdmin and RootAdmin
// capabilities against a real postgres, every effect by connecting as the
// users.
func TestAdmin(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	ctx := testCtx(t)
	admin := srv.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := e.CreateDatabases(ctx, admin, []datastore.Database{{Name: "shop"}, {Name: "sales"}, {Name: "other"}, {Name: "Mixed-Case"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "app-pw-1", Databases: []string{"shop", "sales"}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("Databases", func(t *testing.T) { testAdminDatabases(t, srv, admin) })
	t.Run("Users", func(t *testing.T) { testAdminUsers(t, srv, admin) })
	t.Run("Root", func(t *testing.T) { testAdminRoot(t, srv, admin) })
	t.Run("Injection", func(t *testing.T) { testAdminInjection(t, srv, admin) })

	if logs := srv.logs.String(); strings.Contains(logs, "-pw-") || strings.Contains(logs, string(adminPassword)) {
		t.Errorf("a password reached the logs:\n%s", logs)
	}
}

func testAdminDatabases(t *testing.T, srv *testServer, admin datastore.Conn) {
	e, ctx := srv.engine, testCtx(t)
	got, err := e.ListDatabases(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	want := []datastore.Database{
		{Name: "Mixed-Case", CharacterSet: "UTF8", Collate: "C.UTF-8"},
		{Name: "other", CharacterSet: "UTF8", Collate: "C.UTF-8"},
		{Name: "sales", CharacterSet: "UTF8", Collate: "C.UTF-8"},
		{Name: "shop", CharacterSet: "UTF8", Collate: "C.UTF-8"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ListDatabases (-want +got):\n%s", d)
	}
	for _, tt := range []struct {
		name string
		kind fault.Kind
	}{
		{"postgres", fault.Invalid}, {"template1", fault.Invalid}, {"nosuch", fault.NotFound}, {"SHOP", fault.NotFound},
	} {
		err := e.DeleteDatabase(ctx, admin, tt.name)
		if !fault.Is(err, tt.kind) {
			t.Errorf("DeleteDatabase(%q) = %v, want %v", tt.name, err, tt.kind)
		}
		if tt.kind == fault.NotFound && !errors.Is(err, datastore.ErrDatabaseNotFound) {
			t.Errorf("DeleteDatabase(%q) = %v, want ErrDatabaseNotFound", tt.name, err)
		}
	}
	// A connected user does not keep a database from being dropped.
	app := mustConnect(t, srv.tcpConn("app", "app-pw-1"), "sales")
	if err := e.DeleteDatabase(ctx, admin, "sales"); err != nil {
		t.Fatalf("DeleteDatabase(sales) with a session on it: %v", err)
	}
	if _, err := app.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("the session on the dropped database goes on")
	}
	got, _ = e.ListDatabases(ctx, admin)
	if slices.ContainsFunc(got, func(d datastore.Database) bool { return d.Name == "sales" }) {
		t.Errorf("sales listed after delete: %+v", got)
	}
	if err := tryConnect(t, srv, "app", "app-pw-1", "sales"); sqlState(err) != codeInvalidCatalogName {
		t.Errorf("connect to the dropped database: %v", err)
	}
}

func testAdminUsers(t *testing.T, srv *testServer, admin datastore.Conn) {
	e, ctx := srv.engine, testCtx(t)
	users, err := e.ListUsers(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]datastore.UserInfo{{Name: "app", Host: "%", Databases: []string{"shop"}}}, users); d != "" {
		t.Errorf("ListUsers (-want +got):\n%s", d)
	}
	for _, host := range []string{"%", ""} {
		if u, err := e.GetUser(ctx, admin, "app", host); err != nil || u.Host != "%" || !slices.Equal(u.Databases, []string{"shop"}) {
			t.Errorf("GetUser(app@%q) = %+v, %v", host, u, err)
		}
	}
	for _, tt := range []struct {
		name, host string
		kind       fault.Kind
	}{
		{"app", "10.0.0.1", fault.Invalid}, {"app", "localhost", fault.Invalid}, {"nosuch", "%", fault.NotFound},
		{"postgres", "%", fault.Invalid}, {"os_admin", "%", fault.Invalid}, {"root", "%", fault.Invalid},
		{"pg_monitor", "%", fault.Invalid}, {"APP", "%", fault.NotFound},
	} {
		_, err := e.GetUser(ctx, admin, tt.name, tt.host)
		if !fault.Is(err, tt.kind) {
			t.Errorf("GetUser(%q@%q) = %v, want %v", tt.name, tt.host, err, tt.kind)
		}
		if tt.kind == fault.NotFound && !errors.Is(err, datastore.ErrUserNotFound) {
			t.Errorf("GetUser(%q) = %v, want ErrUserNotFound", tt.name, err)
		}
	}
	if _, err := e.GetUser(ctx, admin, "app", "10.0.0.1"); !strings.Contains(fault.Message(err), "not limited by host") {
		t.Errorf("GetUser with a host: message %q", fault.Message(err))
	}

	// Grant: other becomes usable; a missing database or user is 404.
	if err := e.GrantAccess(ctx, admin, "app", "%", []string{"other", "Mixed-Case"}); err != nil {
		t.Fatalf("GrantAccess: %v", err)
	}
	o := mustConnect(t, srv.tcpConn("app", "app-pw-1"), "other")
	for _, q := range []string{"CREATE TABLE o (id int)", "INSERT INTO o VALUES (1)"} {
		if _, err := o.Exec(ctx, q); err != nil {
			t.Fatalf("app in other: %s: %v", q, err)
		}
	}
	if u, _ := e.GetUser(ctx, admin, "app", "%"); !slices.Equal(u.Databases, []string{"Mixed-Case", "other", "shop"}) {
		t.Errorf("app's databases after the grant = %q", u.Databases)
	}
	if err := e.GrantAccess(ctx, admin, "app", "%", []string{"nosuch"}); !errors.Is(err, datastore.ErrDatabaseNotFound) || !fault.Is(err, fault.NotFound) {
		t.Errorf("GrantAccess(nosuch db) = %v", err)
	}
	if err := e.GrantAccess(ctx, admin, "nobody", "%", []string{"other"}); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("GrantAccess(nobody) = %v", err)
	}
	if err := e.GrantAccess(ctx, admin, "app", "%", []string{"postgres"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("GrantAccess(postgres) = %v, want Invalid", err)
	}

	// Revoke: the open session ends, a new one is refused, and so is a
	// second revoke.
	if err := e.RevokeAccess(ctx, admin, "app", "%", "other"); err != nil {
		t.Fatalf("RevokeAccess: %v", err)
	}
	if _, err := o.Exec(ctx, "INSERT INTO o VALUES (2)"); err == nil {
		t.Error("app's session on other goes on after the revoke")
	}
	if err := tryConnect(t, srv, "app", "app-pw-1", "other"); sqlState(err) != codeInsufficientPrivilege {
		t.Errorf("app connects to other after the revoke: %v, want %s", err, codeInsufficientPrivilege)
	}
	if err := e.RevokeAccess(ctx, admin, "app", "%", "other"); !errors.Is(err, datastore.ErrAccessNotFound) || !fault.Is(err, fault.NotFound) {
		t.Errorf("RevokeAccess again = %v, want ErrAccessNotFound", err)
	}
	if err := e.RevokeAccess(ctx, admin, "nobody", "%", "other"); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("RevokeAccess(nobody) = %v", err)
	}
	// Granted again, app finds its table (it still owns it).
	if err := e.GrantAccess(ctx, admin, "app", "", []string{"other"}); err != nil {
		t.Fatal(err)
	}
	if n := queryString(t, mustConnect(t, srv.tcpConn("app", "app-pw-1"), "other"), "SELECT count(*)::text FROM o"); n != "1" {
		t.Errorf("rows in other.o = %s", n)
	}
	if err := e.RevokeAccess(ctx, admin, "app", "%", "Mixed-Case"); err != nil {
		t.Fatal(err)
	}

	// Rename keeps the password (SCRAM does not depend on the name), the
	// grants and the objects.
	shop := mustConnect(t, srv.tcpConn("app", "app-pw-1"), "shop")
	if _, err := shop.Exec(ctx, "CREATE TABLE s (id int)"); err != nil {
		t.Fatal(err)
	}
	_ = shop.Close(ctx)
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "bob", Password: "bob-pw-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Name: "bob"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("rename to a taken name = %v, want Invalid", err)
	}
	if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Host: "10.1.1.1"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("move to a host = %v, want Invalid", err)
	}
	if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Name: "app2", Host: "%"}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := tryConnect(t, srv, "app", "app-pw-1", "shop"); err == nil {
		t.Error("old name still logs in")
	}
	a2 := mustConnect(t, srv.tcpConn("app2", "app-pw-1"), "shop")
	if _, err := a2.Exec(ctx, "INSERT INTO s VALUES (1)"); err != nil {
		t.Errorf("app2 in shop: %v", err)
	}
	if u, err := e.GetUser(ctx, admin, "app2", "%"); err != nil || !slices.Equal(u.Databases, []string{"other", "shop"}) {
		t.Errorf("GetUser(app2) = %+v, %v", u, err)
	}
	if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Password: "app-pw-2"}); err != nil {
		t.Fatal(err)
	}
	if err := tryConnect(t, srv, "app2", "app-pw-1", "shop"); sqlState(err) != codeInvalidPassword {
		t.Errorf("old password: %v", err)
	}
	mustConnect(t, srv.tcpConn("app2", "app-pw-2"), "shop")
	if err := e.UpdateUser(ctx, admin, "nobody", "%", datastore.UserChange{Password: "x-pw-1"}); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("UpdateUser(nobody) = %v", err)
	}

	// Delete: a user owning tables in two databases, with a session open.
	if err := e.DeleteUser(ctx, admin, "app2", "%"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := a2.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("the deleted user's session goes on")
	}
	if err := tryConnect(t, srv, "app2", "app-pw-2", "shop"); err == nil {
		t.Error("the deleted user logs in")
	}
	c := mustConnect(t, admin, "shop")
	if owner := queryString(t, c, "SELECT tableowner FROM pg_tables WHERE tablename = 's'"); owner != adminUser {
		t.Errorf("owner of the deleted user's table = %s, want %s", owner, adminUser)
	}
	if err := e.DeleteUser(ctx, admin, "app2", "%"); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("DeleteUser again = %v", err)
	}
	if users, _ := e.ListUsers(ctx, admin); len(users) != 1 || users[0].Name != "bob" {
		t.Errorf("ListUsers after delete = %+v", users)
	}
	if err := e.DeleteUser(ctx, admin, "bob", "%"); err != nil {
		t.Fatal(err)
	}
}

func testAdminRoot(t *testing.T, srv *testServer, admin datastore.Conn) {
	e, ctx := srv.engine, testCtx(t)
	if e.RootUser() != "root" {
		t.Errorf("RootUser = %q", e.RootUser())
	}
	if on, err := e.RootEnabled(ctx, admin); err != nil || on {
		t.Errorf("RootEnabled before = %v, %v", on, err)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Errorf("DisableRoot before enabling: %v", err)
	}
	if err := e.EnableRoot(ctx, admin, "r00t-pw-1"); err != nil {
		t.Fatalf("EnableRoot: %v", err)
	}
	if err := e.EnableRoot(ctx, admin, "r00t-pw-2"); err != nil {
		t.Fatalf("EnableRoot again: %v", err)
	}
	if on, err := e.RootEnabled(ctx, admin); err != nil || !on {
		t.Errorf("RootEnabled = %v, %v", on, err)
	}
	if err := tryConnect(t, srv, "root", "r00t-pw-1", maintenanceDB); sqlState(err) != codeInvalidPassword {
		t.Errorf("root with the first password: %v", err)
	}
	r := mustConnect(t, srv.tcpConn("root", "r00t-pw-2"), "shop")
	if su := queryString(t, r, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"); su != "false" {
		t.Errorf("root superuser = %s, want false (a master user, not the server's superuser)", su)
	}
	for _, q := range []string{"CREATE TABLE by_root (id int)", "CREATE DATABASE rootdb", "CREATE ROLE made_by_root LOGIN",
		"SELECT count(*) FROM pg_stat_activity", "CHECKPOINT"} {
		if _, err := r.Exec(ctx, q); err != nil {
			t.Fatalf("root: %s: %v", q, err)
		}
	}
	// Powerful inside the instance, nothing outside: no programs, no
	// server files, no server settings, no change to hoard's account.
	for _, q := range []string{
		"COPY by_root FROM PROGRAM 'id'",
		"COPY by_root TO '/tmp/hoard-root-copy'",
		"SELECT pg_read_file('/etc/passwd')",
		"ALTER SYSTEM SET work_mem = '1GB'",
		"ALTER ROLE os_admin PASSWORD 'taken-over'",
		"DROP ROLE os_admin",
		"ALTER ROLE root SUPERUSER",
	} {
		if _, err := r.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("root: %s = %v, want insufficient_privilege (42501)", q, err)
		}
	}
	if _, err := r.Exec(ctx, "DROP ROLE made_by_root"); err != nil {
		t.Errorf("root: DROP ROLE made_by_root: %v", err)
	}
	if err := e.CheckAdmin(ctx, admin); err != nil {
		t.Errorf("CheckAdmin with root enabled = %v", err)
	}
	// A database made through the API later is root's too.
	if err := e.CreateDatabases(ctx, admin, []datastore.Database{{Name: "after_root"}}); err != nil {
		t.Fatal(err)
	}
	ar := mustConnect(t, srv.tcpConn("root", "r00t-pw-2"), "after_root")
	if _, err := ar.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Errorf("root in a database made after root enable: %v", err)
	}
	if users, _ := e.ListUsers(ctx, admin); slices.ContainsFunc(users, func(u datastore.UserInfo) bool { return u.Name == "root" }) {
		t.Errorf("root listed: %+v", users)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Fatalf("DisableRoot: %v", err)
	}
	if err := tryConnect(t, srv, "root", "r00t-pw-2", maintenanceDB); err == nil {
		t.Error("root logs in after DisableRoot")
	}
	if on, err := e.RootEnabled(ctx, admin); err != nil || on {
		t.Errorf("RootEnabled after disable = %v, %v", on, err)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Errorf("DisableRoot again: %v", err)
	}
	// What root made survives, owned by the admin.
	c := mustConnect(t, admin, maintenanceDB)
	if owner := queryString(t, c, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'rootdb'"); owner != adminUser {
		t.Errorf("owner of rootdb = %s", owner)
	}
}

// testAdminInjection tries SQL injection in every name and password: each
// is refused as invalid or stored literally, and the server is unharmed.
func testAdminInjection(t *testing.T, srv *testServer, admin datastore.Conn) {
	e, ctx := srv.engine, testCtx(t)
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "victim", Password: "victim-pw-1", Databases: []string{"shop"}}}); err != nil {
		t.Fatal(err)
	}
	badNames := []string{
		`x"; DROP ROLE victim; --`, `x'; DROP ROLE victim; --`, "x`y", "x;y", "x\x00y", "\xff\xfe",
		strings.Repeat("n", 64), "x y", `x\y`, "$(touch /tmp/pwned)", "victim\n",
	}
	for _, n := range badNames {
		checks := map[string]error{
			"DeleteDatabase": e.DeleteDatabase(ctx, admin, n),
			"DeleteUser":     e.DeleteUser(ctx, admin, n, "%"),
			"UpdateUser":     e.UpdateUser(ctx, admin, n, "%", datastore.UserChange{Password: "pw-x-1"}),
			"Rename":         e.UpdateUser(ctx, admin, "victim", "%", datastore.UserChange{Name: n}),
			"Grant user":     e.GrantAccess(ctx, admin, n, "%", []string{"shop"}),
			"Grant db":       e.GrantAccess(ctx, admin, "victim", "%", []string{n}),
			"Revoke user":    e.RevokeAccess(ctx, admin, n, "%", "shop"),
			"Revoke db":      e.RevokeAccess(ctx, admin, "victim", "%", n),
			"Host":           e.DeleteUser(ctx, admin, "victim", n+"x"),
		}
		if _, err := e.GetUser(ctx, admin, n, "%"); !fault.Is(err, fault.Invalid) {
			t.Errorf("GetUser(%q) = %v, want Invalid", n, err)
		}
		for what, err := range checks {
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("%s(%q) = %v, want Invalid", what, n, err)
			}
		}
	}
	for _, pw := range []string{"p\x00w", "pé", strings.Repeat("p", 256), " pw", "p\nw", "\xff"} {
		if err := e.UpdateUser(ctx, admin, "victim", "%", datastore.UserChange{Password: datastore.Secret(pw)}); !fault.Is(err, fault.Invalid) {
			t.Errorf("UpdateUser(password %q) = %v, want Invalid", pw, err)
		}
		if err := e.EnableRoot(ctx, admin, datastore.Secret(pw)); !fault.Is(err, fault.Invalid) {
			t.Errorf("EnableRoot(password %q) = %v, want Invalid", pw, err)
		}
	}
	// Valid names with SQL comment dashes and '$' are quoted, so literal.
	for _, n := range []string{"a--b", "x$1"} {
		if err := e.GrantAccess(ctx, admin, "victim", "%", []string{"shop"}); err != nil {
			t.Fatal(err)
		}
		if err := e.UpdateUser(ctx, admin, "victim", "%", datastore.UserChange{Name: n}); err != nil {
			t.Fatalf("rename to %q: %v", n, err)
		}
		mustConnect(t, srv.tcpConn(n, "victim-pw-1"), "shop")
		if err := e.UpdateUser(ctx, admin, n, "%", datastore.UserChange{Name: "victim"}); err != nil {
			t.Fatal(err)
		}
	}
	// Quotes and SQL in a password are stored literally.
	for _, pw := range []string{`p'w"; DROP ROLE victim; --`, `x\' OR 1=1 --`, "$$; DROP DATABASE shop; $$"} {
		if err := e.UpdateUser(ctx, admin, "victim", "%", datastore.UserChange{Password: datastore.Secret(pw)}); err != nil {
			t.Fatalf("UpdateUser(password %q): %v", pw, err)
		}
		mustConnect(t, srv.tcpConn("victim", datastore.Secret(pw)), "shop")
		if err := e.EnableRoot(ctx, admin, datastore.Secret(pw)); err != nil {
			t.Fatalf("EnableRoot(password %q): %v", pw, err)
		}
		mustConnect(t, srv.tcpConn("root", datastore.Secret(pw)), maintenanceDB)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Fatal(err)
	}
	// Unharmed.
	users, err := e.ListUsers(ctx, admin)
	if err != nil || len(users) != 1 || users[0].Name != "victim" {
		t.Errorf("ListUsers after the attempts = %+v, %v", users, err)
	}
	dbs, err := e.ListDatabases(ctx, admin)
	if err != nil || !slices.ContainsFunc(dbs, func(d datastore.Database) bool { return d.Name == "shop" }) {
		t.Errorf("ListDatabases after the attempts = %+v, %v", dbs, err)
	}
}
