package mariadb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// testAdmin covers DatabaseAdmin, UserAdmin and RootAdmin against the real
// server, checking access by connecting as the users. It runs after
// testCreateUsers (users alice@% and bob@127.0.0.1 exist).
func testAdmin(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)

	// Databases.
	if err := e.CreateDatabases(ctx, admin, []datastore.Database{{Name: "shop"}, {Name: "z_last"}}); err != nil {
		t.Fatal(err)
	}
	dbs, err := e.ListDatabases(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
		if slices.Contains(reservedDatabases, d.Name) {
			t.Errorf("ListDatabases shows reserved %q", d.Name)
		}
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "shop") || !slices.Contains(names, "z_last") {
		t.Errorf("ListDatabases = %q, want sorted with shop and z_last", names)
	}
	if err := e.DeleteDatabase(ctx, admin, "nosuch"); !errors.Is(err, datastore.ErrDatabaseNotFound) || !fault.Is(err, fault.NotFound) {
		t.Errorf("DeleteDatabase(nosuch) = %v, want not found", err)
	}
	if err := e.DeleteDatabase(ctx, admin, "SHOP"); !errors.Is(err, datastore.ErrDatabaseNotFound) {
		t.Errorf("DeleteDatabase(SHOP) = %v, want not found (names are exact)", err)
	}
	for _, bad := range []string{"mysql", "sys", "x`; DROP DATABASE shop; --", "a\x00b", "\xff\xfe"} {
		if err := e.DeleteDatabase(ctx, admin, bad); !fault.Is(err, fault.Invalid) {
			t.Errorf("DeleteDatabase(%q) = %v, want Invalid", bad, err)
		}
	}

	// Users: create, list, show.
	dave := datastore.User{Name: "dave", Host: "%", Password: "pw-dave-1", Databases: []string{"shop"}}
	if err := e.CreateUsers(ctx, admin, []datastore.User{dave}); err != nil {
		t.Fatal(err)
	}
	users, err := e.ListUsers(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if hiddenUser(u.Name) || u.Name == "mysql" {
			t.Errorf("ListUsers shows %q@%q", u.Name, u.Host)
		}
	}
	if i := slices.IndexFunc(users, func(u datastore.UserInfo) bool { return u.Name == "dave" }); i < 0 ||
		!cmp.Equal(users[i], datastore.UserInfo{Name: "dave", Host: "%", Databases: []string{"shop"}}) {
		t.Errorf("ListUsers = %+v, want dave@%% on shop", users)
	}
	got, err := e.GetUser(ctx, admin, "alice", "")
	if want := (datastore.UserInfo{Name: "alice", Host: "%", Databases: []string{"a_b", "app"}}); err != nil || !cmp.Equal(got, want) {
		t.Errorf("GetUser(alice) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := e.GetUser(ctx, admin, "alice", "10.0.0.1"); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("GetUser(alice@10.0.0.1) = %v, want not found", err)
	}
	for _, name := range []string{"root", "os_admin", "mariadb.sys"} {
		if _, err := e.GetUser(ctx, admin, name, "localhost"); !fault.Is(err, fault.Invalid) {
			t.Errorf("GetUser(%s) = %v, want Invalid (reserved)", name, err)
		}
		if err := e.DeleteUser(ctx, admin, name, "localhost"); !fault.Is(err, fault.Invalid) {
			t.Errorf("DeleteUser(%s) = %v, want Invalid (reserved)", name, err)
		}
		if err := e.UpdateUser(ctx, admin, name, "localhost", datastore.UserChange{Password: "x1"}); !fault.Is(err, fault.Invalid) {
			t.Errorf("UpdateUser(%s) = %v, want Invalid (reserved)", name, err)
		}
	}

	// Access: dave uses shop; grant z_last; revoke shop.
	d := mustOpen(t, srv.tcpConn("dave", dave.Password))
	if err := d.exec(ctx, "CREATE TABLE shop.t (id INT)"); err != nil {
		t.Fatalf("dave on shop: %v", err)
	}
	if err := d.exec(ctx, "CREATE TABLE z_last.t (id INT)"); mysqlErrNumber(err) != erDBAccessDenied && mysqlErrNumber(err) != 1142 {
		t.Errorf("dave on z_last before the grant: %v, want access denied", err)
	}
	if err := e.GrantAccess(ctx, admin, "dave", "%", []string{"z_last"}); err != nil {
		t.Fatal(err)
	}
	if err := e.GrantAccess(ctx, admin, "dave", "%", []string{"nosuch"}); !errors.Is(err, datastore.ErrDatabaseNotFound) {
		t.Errorf("GrantAccess(nosuch) = %v, want database not found", err)
	}
	if err := e.GrantAccess(ctx, admin, "nobody", "%", []string{"shop"}); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("GrantAccess(nobody) = %v, want user not found", err)
	}
	d2 := mustOpen(t, srv.tcpConn("dave", dave.Password))
	if err := d2.exec(ctx, "CREATE TABLE z_last.t (id INT)"); err != nil {
		t.Errorf("dave on z_last after the grant: %v", err)
	}
	if err := e.RevokeAccess(ctx, admin, "dave", "%", "shop"); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeAccess(ctx, admin, "dave", "%", "shop"); !errors.Is(err, datastore.ErrAccessNotFound) || !fault.Is(err, fault.NotFound) {
		t.Errorf("RevokeAccess again = %v, want access not found", err)
	}
	d3 := mustOpen(t, srv.tcpConn("dave", dave.Password))
	if err := d3.exec(ctx, "INSERT INTO shop.t VALUES (1)"); mysqlErrNumber(err) != 1142 && mysqlErrNumber(err) != erDBAccessDenied {
		t.Errorf("dave on shop after the revoke: %v, want access denied", err)
	}
	if got, _ := e.GetUser(ctx, admin, "dave", "%"); !cmp.Equal(got.Databases, []string{"z_last"}) {
		t.Errorf("dave's databases = %q, want [z_last]", got.Databases)
	}

	// Update: password, then rename and move host; the grants follow.
	if err := e.UpdateUser(ctx, admin, "dave", "%", datastore.UserChange{Password: "pw-dave-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := open(ctx, srv.tcpConn("dave", ""), "dave", "pw-dave-1", opTimeouts); mysqlErrNumber(err) != erAccessDenied {
		t.Errorf("dave with the old password: %v, want access denied", err)
	}
	if err := e.UpdateUser(ctx, admin, "dave", "%", datastore.UserChange{Name: "alice"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("rename dave to alice = %v, want Invalid (taken)", err)
	}
	if err := e.UpdateUser(ctx, admin, "dave", "%", datastore.UserChange{Name: "david", Host: "127.0.0.%"}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.GetUser(ctx, admin, "david", "127.0.0.%"); err != nil || !cmp.Equal(got.Databases, []string{"z_last"}) {
		t.Errorf("david after rename = %+v, %v; want z_last", got, err)
	}
	if _, err := e.GetUser(ctx, admin, "dave", "%"); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("dave after rename: %v, want not found", err)
	}
	for _, ch := range []datastore.UserChange{{Name: "root"}, {Host: "%' OR '1'='1"}, {Password: "p'w"}, {Name: "a;b"}} {
		err := e.UpdateUser(ctx, admin, "david", "127.0.0.%", ch)
		if !fault.Is(err, fault.Invalid) || strings.Contains(err.Error(), "p'w") {
			t.Errorf("UpdateUser(%+v) = %v, want Invalid without the password", ch, err)
		}
	}

	// Deleting a database revokes its grants; deleting a user drops it.
	if err := e.DeleteDatabase(ctx, admin, "z_last"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.GetUser(ctx, admin, "david", "127.0.0.%"); len(got.Databases) != 0 {
		t.Errorf("david's databases after the drop = %q, want none", got.Databases)
	}
	if err := e.DeleteUser(ctx, admin, "david", "127.0.0.%"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteUser(ctx, admin, "david", "127.0.0.%"); !errors.Is(err, datastore.ErrUserNotFound) {
		t.Errorf("DeleteUser again = %v, want not found", err)
	}

	// Root.
	if on, err := e.RootEnabled(ctx, admin); err != nil || on {
		t.Errorf("RootEnabled before = %v, %v", on, err)
	}
	if err := e.EnableRoot(ctx, admin, "r00t-Pw_1"); err != nil {
		t.Fatal(err)
	}
	if err := e.EnableRoot(ctx, admin, "r00t-Pw_2"); err != nil {
		t.Fatal(err)
	}
	if on, err := e.RootEnabled(ctx, admin); err != nil || !on {
		t.Errorf("RootEnabled after enable = %v, %v", on, err)
	}
	r := mustOpen(t, srv.tcpConn("root", "r00t-Pw_2"))
	if v := query(t, r, "SELECT COUNT(*) FROM mysql.user WHERE User = 'alice'"); v != "1" {
		t.Errorf("root sees %s alice accounts", v)
	}
	if _, err := open(ctx, srv.tcpConn("root", ""), "root", "r00t-Pw_1", opTimeouts); mysqlErrNumber(err) != erAccessDenied {
		t.Errorf("root with the first password: %v, want access denied", err)
	}
	if err := e.EnableRoot(ctx, admin, "bad'pw"); !fault.Is(err, fault.Invalid) {
		t.Errorf("EnableRoot(bad'pw) = %v, want Invalid", err)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := open(ctx, srv.tcpConn("root", ""), "root", "r00t-Pw_2", opTimeouts); !serverAnswered(err) || err == nil {
		t.Errorf("root after disable: %v, want access denied", err)
	}
	if on, err := e.RootEnabled(ctx, admin); err != nil || on {
		t.Errorf("RootEnabled after disable = %v, %v", on, err)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Errorf("DisableRoot again: %v", err)
	}
	// hoard's own account still works.
	mustOpen(t, admin)
}

// testAdminInjection sends hostile names, hosts and passwords through every
// admin method: each is refused as Invalid (never reaching the server) or
// stored literally, and nothing else is touched.
func testAdminInjection(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	hostile := []string{
		"x'; DROP USER alice; --", "x`; DROP DATABASE app; --", `a\'b`, "a\x00b", "--", "a;b",
		"\xff\xfe", strings.Repeat("a", 5000), "a' OR '1'='1", "$(touch /tmp/pwned)", "`id`",
	}
	for _, h := range hostile {
		checks := map[string]error{
			"DeleteDatabase":      e.DeleteDatabase(ctx, admin, h),
			"GetUser name":        func() error { _, err := e.GetUser(ctx, admin, h, "%"); return err }(),
			"GetUser host":        func() error { _, err := e.GetUser(ctx, admin, "alice", h); return err }(),
			"DeleteUser name":     e.DeleteUser(ctx, admin, h, "%"),
			"DeleteUser host":     e.DeleteUser(ctx, admin, "alice", h),
			"UpdateUser name":     e.UpdateUser(ctx, admin, "alice", "%", datastore.UserChange{Name: h}),
			"UpdateUser host":     e.UpdateUser(ctx, admin, "alice", "%", datastore.UserChange{Host: h}),
			"UpdateUser password": e.UpdateUser(ctx, admin, "alice", "%", datastore.UserChange{Password: datastore.Secret(h)}),
			"GrantAccess db":      e.GrantAccess(ctx, admin, "alice", "%", []string{h}),
			"RevokeAccess db":     e.RevokeAccess(ctx, admin, "alice", "%", h),
			"EnableRoot password": e.EnableRoot(ctx, admin, datastore.Secret(h)),
		}
		for what, err := range checks {
			// "--" is a valid database name: there it is simply not found.
			if !fault.Is(err, fault.Invalid) && !(h == "--" && fault.Is(err, fault.NotFound)) {
				t.Errorf("%s(%q) = %v, want Invalid", what, truncate(h, 40), err)
			}
		}
	}
	// Allowed special characters are stored literally and work.
	weird := datastore.User{Name: "we@ir d?#", Host: "%", Password: "p@ss--w0rd%$*!() #", Databases: []string{"app"}}
	if err := e.CreateUsers(ctx, admin, []datastore.User{weird}); err != nil {
		t.Fatal(err)
	}
	if err := e.UpdateUser(ctx, admin, weird.Name, "%", datastore.UserChange{Password: "new--pw #1"}); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, srv.tcpConn(weird.Name, "new--pw #1"))
	if err := e.RevokeAccess(ctx, admin, weird.Name, "%", "app"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteUser(ctx, admin, weird.Name, "%"); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, admin)
	if n := query(t, s, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('alice', 'os_admin')"); n != "3" {
		t.Errorf("accounts alice, os_admin: %s rows, want 3", n)
	}
	if n := query(t, s, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('app', 'mysql')"); n != "2" {
		t.Errorf("databases app, mysql: %s, want 2", n)
	}
}
