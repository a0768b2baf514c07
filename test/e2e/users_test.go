package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

// TestDatabasesUsersRoot is the user's story of the databases/users/root
// issue, through gophercloud's databases and users packages and the root
// calls, every effect checked by connecting to the engine.
func TestDatabasesUsersRoot(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	inst, err := instances.Create(ctx, sc, createOpts("users-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	// Not ready yet: 422.
	if err := databases.Create(ctx, sc, inst.ID, databases.BatchCreateOpts{{Name: "early"}}).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
		t.Errorf("database create while BUILD: %v, want 422", err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	addr := inst.IP[0]
	t.Cleanup(func() { _ = instances.Delete(ctx, sc, inst.ID).ExtractErr() })

	// Databases: create two, list (the create-time "shop" too), refuse
	// duplicates and reserved names, delete.
	if err := databases.Create(ctx, sc, inst.ID, databases.BatchCreateOpts{
		{Name: "sales", CharSet: "utf8mb4", Collate: "utf8mb4_bin"}, {Name: "scratch"},
	}).ExtractErr(); err != nil {
		t.Fatalf("databases.Create: %v", err)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sales'"); got != "utf8mb4_bin" {
		t.Errorf("sales collation = %q, want utf8mb4_bin", got)
	}
	if names := listDatabases(ctx, t, sc, inst.ID); !slices.Equal(names, []string{"sales", "scratch", "shop"}) {
		t.Errorf("databases = %q, want sales, scratch, shop", names)
	}
	for _, bad := range []databases.BatchCreateOpts{{{Name: "sales"}}, {{Name: "mysql"}}, {{Name: "x`y"}}, {{Name: "ok1", CharSet: "klingon"}}} {
		err := databases.Create(ctx, sc, inst.ID, bad).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Errorf("databases.Create(%+v) = %v, want 400", bad, err)
		}
	}
	if err := databases.Delete(ctx, sc, inst.ID, "scratch").ExtractErr(); err != nil {
		t.Fatalf("databases.Delete: %v", err)
	}
	if err := databases.Delete(ctx, sc, inst.ID, "scratch").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("delete again: %v, want 404", err)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'scratch'"); got != "0" {
		t.Errorf("scratch still exists")
	}

	// Users: create with access to sales, use it, list.
	if err := users.Create(ctx, sc, inst.ID, users.BatchCreateOpts{{
		Name: "ann", Password: "ann-pw-1", Databases: databases.BatchCreateOpts{{Name: "sales"}},
	}}).ExtractErr(); err != nil {
		t.Fatalf("users.Create: %v", err)
	}
	ann := openDB(t, addr, "ann", "ann-pw-1", "sales")
	if _, err := ann.ExecContext(ctx, "CREATE TABLE deals (id INT)"); err != nil {
		t.Fatalf("ann on sales: %v", err)
	}
	if _, err := ann.ExecContext(ctx, "CREATE TABLE shop.x (id INT)"); !isDenied(err) {
		t.Errorf("ann on shop: %v, want access denied", err)
	}
	if err := users.Create(ctx, sc, inst.ID, users.BatchCreateOpts{{Name: "ann", Password: "other-pw"}}).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("duplicate user: %v, want 400", err)
	}
	pages, err := users.List(sc, inst.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ul, err := users.ExtractUsers(pages)
	if err != nil {
		t.Fatal(err)
	}
	var unames []string
	for _, u := range ul {
		unames = append(unames, u.Name)
		if u.Password != "" {
			t.Errorf("user %s listed with a password", u.Name)
		}
	}
	if !slices.Equal(unames, []string{"ann", "app"}) {
		t.Errorf("users = %q, want ann, app (no root, no os_admin)", unames)
	}

	// Grant shop, revoke sales, through the raw routes.
	base := sc.ServiceURL("instances", inst.ID, "users")
	put(ctx, t, sc, base+"/ann/databases", map[string]any{"databases": []map[string]string{{"name": "shop"}}}, http.StatusAccepted)
	var access struct {
		Databases []struct{ Name string } `json:"databases"`
	}
	if _, err := sc.Get(ctx, base+"/ann%40%25/databases", &access, nil); err != nil {
		t.Fatal(err)
	}
	if len(access.Databases) != 2 {
		t.Errorf("ann's access = %+v, want sales and shop", access.Databases)
	}
	if _, err := sc.Delete(ctx, base+"/ann/databases/sales", &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	ann2 := openDB(t, addr, "ann", "ann-pw-1", "")
	if _, err := ann2.ExecContext(ctx, "CREATE TABLE shop.y (id INT)"); err != nil {
		t.Errorf("ann on shop after the grant: %v", err)
	}
	if _, err := ann2.ExecContext(ctx, "INSERT INTO sales.deals VALUES (1)"); !isDenied(err) {
		t.Errorf("ann on sales after the revoke: %v, want access denied", err)
	}

	// Rename and new password; then bulk password change.
	put(ctx, t, sc, base+"/ann", map[string]any{"user": map[string]string{"name": "anna", "password": "anna-pw-2"}}, http.StatusAccepted)
	if err := openDB(t, addr, "anna", "anna-pw-2", "shop").PingContext(ctx); err != nil {
		t.Errorf("anna after rename: %v", err)
	}
	if err := openDB(t, addr, "ann", "ann-pw-1", "").PingContext(ctx); !isDenied(err) {
		t.Errorf("ann after rename: %v, want access denied", err)
	}
	put(ctx, t, sc, base, map[string]any{"users": []map[string]string{{"name": "anna", "password": "anna-pw-3"}, {"name": "app", "password": "app-pw-456"}}}, http.StatusAccepted)
	if err := openDB(t, addr, "app", "app-pw-456", "shop").PingContext(ctx); err != nil {
		t.Errorf("app after the password change: %v", err)
	}
	put(ctx, t, sc, base, map[string]any{"users": []map[string]string{{"name": "nobody", "password": "x-pw-1"}}}, http.StatusNotFound)
	// Reserved users cannot be touched.
	put(ctx, t, sc, base+"/root", map[string]any{"user": map[string]string{"password": "hijack-1"}}, http.StatusBadRequest)
	put(ctx, t, sc, base+"/os_admin", map[string]any{"user": map[string]string{"password": "hijack-1"}}, http.StatusBadRequest)
	if err := users.Delete(ctx, sc, inst.ID, "os_admin").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("delete os_admin: %v, want 400", err)
	}

	// Injection attempts: refused with 400 (or 404 for a valid, absent
	// name), engine unharmed.
	for _, bad := range []users.CreateOpts{
		{Name: "x'; DROP USER app; --", Password: "pw-1"},
		{Name: "eve", Password: "p'w\"; DROP DATABASE shop; --"},
		{Name: "e`v", Password: "pw-1"},
		{Name: "eve", Password: "pw-1", Host: "%' OR '1'='1"},
		{Name: "eve\x00x", Password: "pw-1"},
		{Name: "eve", Password: strings.Repeat("p", 300)},
		{Name: "eve", Password: "pw-1", Databases: databases.BatchCreateOpts{{Name: "shop`; DROP DATABASE shop; --"}}},
	} {
		err := users.Create(ctx, sc, inst.ID, users.BatchCreateOpts{bad}).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Errorf("users.Create(%q@%q) = %v, want 400", bad.Name, bad.Host, err)
		}
	}
	if got := h.rootSQL(t, inst.ID, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('app', 'anna', 'os_admin')"); got != "4" {
		t.Errorf("accounts app, anna, os_admin = %s rows, want 4", got)
	}

	// Root: never enabled, enable (200, password shown once), log in from
	// the instance address, check, disable (204), refused afterwards.
	if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || on {
		t.Errorf("IsRootEnabled before = %v, %v", on, err)
	}
	if _, err := sc.Delete(ctx, sc.ServiceURL("instances", inst.ID, "root"), nil); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("disable root before enabling: %v, want 404", err)
	}
	root, err := instances.EnableRootUser(ctx, sc, inst.ID).Extract()
	if err != nil {
		t.Fatalf("EnableRootUser: %v", err)
	}
	if root.Name != "root" || len(root.Password) < 20 {
		t.Fatalf("root user = %q with a %d-character password", root.Name, len(root.Password))
	}
	rdb := openDB(t, addr, "root", root.Password, "")
	var grants int
	if err := rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user").Scan(&grants); err != nil {
		t.Fatalf("root login from %s: %v", addr, err)
	}
	if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || !on {
		t.Errorf("IsRootEnabled after = %v, %v", on, err)
	}
	if _, err := sc.Delete(ctx, sc.ServiceURL("instances", inst.ID, "root"), &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}}); err != nil {
		t.Fatalf("disable root: %v", err)
	}
	if err := openDB(t, addr, "root", root.Password, "").PingContext(ctx); !isDenied(err) {
		t.Errorf("root after disable: %v, want access denied", err)
	}
	if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || !on {
		t.Errorf("IsRootEnabled after disable = %v, %v; want true (root was enabled once)", on, err)
	}

	// Delete the user; the password never reached hoard's log.
	if err := users.Delete(ctx, sc, inst.ID, "anna").ExtractErr(); err != nil {
		t.Fatalf("users.Delete: %v", err)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT COUNT(*) FROM mysql.user WHERE User = 'anna'"); got != "0" {
		t.Errorf("anna still exists")
	}
	logs := h.logs()
	for _, pw := range []string{"ann-pw-1", "anna-pw-2", "anna-pw-3", "app-pw-456", root.Password, "hijack-1"} {
		if strings.Contains(logs, pw) {
			t.Errorf("password %q reached hoard's log", pw)
		}
	}
}

// listDatabases returns every database name through gophercloud's pager
// (databases_links).
func listDatabases(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) []string {
	t.Helper()
	pages, err := databases.List(sc, id).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dbs, err := databases.ExtractDBs(pages)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
	}
	return names
}

// put sends a JSON PUT and checks its status.
func put(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, url string, body any, want int) {
	t.Helper()
	ok := want
	if want >= 400 {
		ok = http.StatusAccepted
	}
	_, err := sc.Put(ctx, url, body, nil, &gophercloud.RequestOpts{OkCodes: []int{ok}})
	if want >= 400 {
		if !gophercloud.ResponseCodeIs(err, want) {
			t.Errorf("PUT %s = %v, want %d", url, err, want)
		}
		return
	}
	if err != nil {
		t.Errorf("PUT %s: %v", url, err)
	}
}

// isDenied reports whether err is MariaDB's access denied (to the server
// or to a database or table).
func isDenied(err error) bool {
	me, ok := err.(*mysql.MySQLError)
	return ok && (me.Number == 1045 || me.Number == 1044 || me.Number == 1142 || me.Number == 1698)
}
