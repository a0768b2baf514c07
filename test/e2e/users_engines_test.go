package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// userEngine is one datastore of TestUsersRootEngines and how to check, with
// the engine's own client, what a user can do.
type userEngine struct {
	datastore string
	bin       string // a binary that must be installed
	databases bool   // the datastore has databases (else 501)
	// perHost: users may be limited to a host (MariaDB); else only "%".
	perHost bool
	// use logs in as user and works in db (db "" = anywhere it may);
	// nil error means it could.
	use func(t *testing.T, addr, user, pw, db string) error
	// literal is a password full of SQL and ACL syntax that the datastore
	// accepts and must store literally.
	literal string
	// super logs in as root and runs something only a superuser may.
	super func(t *testing.T, addr, pw string) error
}

func mysqlUse(t *testing.T, addr, user, pw, db string) error {
	c := openDB(t, addr, user, pw, "")
	if db == "" {
		return c.PingContext(context.Background())
	}
	_, err := c.ExecContext(context.Background(), "CREATE TABLE IF NOT EXISTS `"+db+"`.t_"+user+" (id INT)")
	return err
}

// pgTry connects to PostgreSQL at addr:5432.
func pgTry(addr, user, pw, db string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = addr, 5432, user, pw, db
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	return pgx.ConnectConfig(ctx, cfg)
}

func pgUse(t *testing.T, addr, user, pw, db string) error {
	if db == "" {
		db = "shop"
	}
	c, err := pgTry(addr, user, pw, db)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(context.Background(), "CREATE TABLE IF NOT EXISTS t_"+strings.ReplaceAll(user, "-", "_")+" (id int)")
	return err
}

var userEngines = []userEngine{
	{
		datastore: "mysql", bin: "mariadbd", databases: true, perHost: true, use: mysqlUse,
		// MariaDB passwords may not hold ' " ; ` , / \ (Trove's rules).
		literal: "p-w) OR 1=1 -- # ~* +@all $(id)",
		super: func(t *testing.T, addr, pw string) error {
			_, err := openDB(t, addr, "root", pw, "").ExecContext(context.Background(), "CREATE USER IF NOT EXISTS 'by_root'@'%'")
			return err
		},
	},
	{
		datastore: "postgresql", bin: "/usr/lib/postgresql/15/bin/postgres", databases: true, use: pgUse,
		literal: `p'w"; DROP ROLE app2; -- $$ \`,
		super: func(t *testing.T, addr, pw string) error {
			c, err := pgTry(addr, "root", pw, "postgres")
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			// The master user: creates databases and roles, is no
			// superuser of the server (see TestRootConfined).
			var su, createdb, createrole bool
			if err := c.QueryRow(context.Background(), "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user").Scan(&su, &createdb, &createrole); err != nil {
				return err
			}
			if su || !createdb || !createrole {
				return fmt.Errorf("root: superuser %v, createdb %v, createrole %v; want a master user", su, createdb, createrole)
			}
			return nil
		},
	},
	{
		datastore: "redis", bin: "redis-server",
		literal: `p'w"; FLUSHALL ~* +@all nopass`,
		use: func(t *testing.T, addr, user, pw, _ string) error {
			return redisClient(t, addr, user, pw).Set(context.Background(), "k-"+user, "v", 0).Err()
		},
		super: func(t *testing.T, addr, pw string) error {
			return redisClient(t, addr, "root", pw).Do(context.Background(), "FLUSHALL").Err()
		},
	},
}

// TestUsersRootEngines runs the users and root story of
// TestDatabasesUsersRoot on every datastore: databases and access where
// the datastore has them (501 where not), rename, passwords, hosts,
// injection attempts in every name and password, root enable, check and
// disable, and delete; each effect checked with the engine's own client.
func TestUsersRootEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	var passwords []string

	for _, ue := range userEngines {
		t.Run(ue.datastore, func(t *testing.T) {
			if _, err := execOutput(ue.bin, "--version"); err != nil {
				enginetest.Unavailable(t, "%s not installed: %v", ue.bin, err)
			}
			app := users.CreateOpts{Name: "app", Password: "app-pw-123"}
			opts := instances.CreateOpts{
				Name: "users-" + ue.datastore, FlavorRef: "1", Size: 1,
				Datastore: &instances.DatastoreOpts{Type: ue.datastore},
			}
			if ue.databases {
				opts.Databases = databases.BatchCreateOpts{{Name: "shop"}}
				app.Databases = databases.BatchCreateOpts{{Name: "shop"}}
			}
			opts.Users = users.BatchCreateOpts{app}
			inst, err := instances.Create(ctx, sc, opts).Extract()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = instances.Delete(ctx, sc, inst.ID).ExtractErr() })
			inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			addr := inst.IP[0]
			base := sc.ServiceURL("instances", inst.ID, "users")
			if err := ue.use(t, addr, "app", "app-pw-123", ""); err != nil {
				t.Fatalf("app: %v", err)
			}
			if names := listUserNames(ctx, t, sc, inst.ID); !slices.Equal(names, []string{"app"}) {
				t.Errorf("users = %q, want app (no root, no os_admin)", names)
			}

			if ue.databases {
				testEngineAccess(ctx, t, sc, ue, inst.ID, addr)
			} else {
				testNoDatabases(ctx, t, sc, inst.ID)
			}

			// Hosts: PostgreSQL and Redis users are not per host.
			if !ue.perHost {
				if _, err := sc.Get(ctx, base+"/app@10.0.0.1", nil, nil); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
					t.Errorf("GET app@10.0.0.1 = %v, want 400", err)
				}
				put(ctx, t, sc, base+"/app", map[string]any{"user": map[string]string{"host": "10.0.0.1"}}, http.StatusBadRequest)
				var u struct {
					User struct{ Name, Host string } `json:"user"`
				}
				if _, err := sc.Get(ctx, base+"/app", &u, nil); err != nil || u.User.Host != "%" {
					t.Errorf("GET app = %+v, %v; want host %%", u, err)
				}
			}

			// Rename with a new password; then a bulk password change.
			put(ctx, t, sc, base+"/app", map[string]any{"user": map[string]string{"name": "app2", "password": "app-pw-2"}}, http.StatusAccepted)
			if err := ue.use(t, addr, "app2", "app-pw-2", ""); err != nil {
				t.Errorf("app2 after rename: %v", err)
			}
			if err := ue.use(t, addr, "app", "app-pw-123", ""); err == nil {
				t.Error("app logs in after the rename")
			}
			put(ctx, t, sc, base, map[string]any{"users": []map[string]string{{"name": "app2", "password": "app-pw-3"}}}, http.StatusAccepted)
			if err := ue.use(t, addr, "app2", "app-pw-3", ""); err != nil {
				t.Errorf("app2 after the password change: %v", err)
			}
			put(ctx, t, sc, base+"/os_admin", map[string]any{"user": map[string]string{"password": "hijack-1"}}, http.StatusBadRequest)
			put(ctx, t, sc, base+"/root", map[string]any{"user": map[string]string{"password": "hijack-1"}}, http.StatusBadRequest)

			// Injection in names (URL and body) and passwords: 400, or stored
			// literally.
			for _, n := range []string{`x'; DROP USER app2; --`, `x"; DROP ROLE app2; --`, "x`y", "x\r\nFLUSHALL", "\xff"} {
				u := base + "/" + url.PathEscape(n)
				if _, err := sc.Get(ctx, u, nil, nil); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
					t.Errorf("GET user %q = %v, want 400", n, err)
				}
				put(ctx, t, sc, u, map[string]any{"user": map[string]string{"password": "pw-x-1"}}, http.StatusBadRequest)
				put(ctx, t, sc, base+"/app2", map[string]any{"user": map[string]string{"name": n}}, http.StatusBadRequest)
				if _, err := sc.Delete(ctx, u, nil); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
					t.Errorf("DELETE user %q = %v, want 400", n, err)
				}
			}
			for _, pw := range []string{"p\x00w", strings.Repeat("p", 300)} {
				put(ctx, t, sc, base+"/app2", map[string]any{"user": map[string]string{"password": pw}}, http.StatusBadRequest)
			}
			literal := ue.literal
			put(ctx, t, sc, base+"/app2", map[string]any{"user": map[string]string{"password": literal}}, http.StatusAccepted)
			if err := ue.use(t, addr, "app2", literal, ""); err != nil {
				t.Errorf("app2 with a password full of SQL: %v", err)
			}
			passwords = append(passwords, "app-pw-2", "app-pw-3", literal, "hijack-1")

			// Root.
			if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || on {
				t.Errorf("IsRootEnabled before = %v, %v", on, err)
			}
			root, err := instances.EnableRootUser(ctx, sc, inst.ID).Extract()
			if err != nil {
				t.Fatalf("EnableRootUser: %v", err)
			}
			passwords = append(passwords, root.Password)
			if root.Name != "root" || len(root.Password) < 20 {
				t.Fatalf("root user = %q with a %d-character password", root.Name, len(root.Password))
			}
			if err := ue.super(t, addr, root.Password); err != nil {
				t.Errorf("root from %s: %v", addr, err)
			}
			if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || !on {
				t.Errorf("IsRootEnabled after = %v, %v", on, err)
			}
			if names := listUserNames(ctx, t, sc, inst.ID); slices.Contains(names, "root") {
				t.Errorf("root listed: %q", names)
			}
			if _, err := sc.Delete(ctx, sc.ServiceURL("instances", inst.ID, "root"), &gophercloud.RequestOpts{OkCodes: []int{http.StatusNoContent}}); err != nil {
				t.Fatalf("disable root: %v", err)
			}
			if err := ue.super(t, addr, root.Password); err == nil {
				t.Error("root logs in after disable")
			}
			if on, err := instances.IsRootEnabled(ctx, sc, inst.ID).Extract(); err != nil || !on {
				t.Errorf("IsRootEnabled after disable = %v, %v; want true (root was enabled once)", on, err)
			}

			// Delete.
			if err := users.Delete(ctx, sc, inst.ID, "app2").ExtractErr(); err != nil {
				t.Fatalf("users.Delete: %v", err)
			}
			if err := ue.use(t, addr, "app2", literal, ""); err == nil {
				t.Error("app2 logs in after delete")
			}
			if err := users.Delete(ctx, sc, inst.ID, "app2").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Errorf("delete again: %v, want 404", err)
			}
		})
	}
	logs := h.logs()
	for _, pw := range passwords {
		if strings.Contains(logs, pw) {
			t.Errorf("password %q reached hoard's log", pw)
		}
	}
}

// testEngineAccess checks databases and access grants on a datastore that
// has databases.
func testEngineAccess(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, ue userEngine, id, addr string) {
	t.Helper()
	base := sc.ServiceURL("instances", id, "users")
	if err := databases.Create(ctx, sc, id, databases.BatchCreateOpts{{Name: "sales"}, {Name: "scratch"}}).ExtractErr(); err != nil {
		t.Fatalf("databases.Create: %v", err)
	}
	if names := listDatabases(ctx, t, sc, id); !slices.Equal(names, []string{"sales", "scratch", "shop"}) {
		t.Errorf("databases = %q, want sales, scratch, shop", names)
	}
	if err := databases.Delete(ctx, sc, id, "scratch").ExtractErr(); err != nil {
		t.Fatalf("databases.Delete: %v", err)
	}
	if err := databases.Delete(ctx, sc, id, "scratch").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("delete again: %v, want 404", err)
	}
	if err := users.Create(ctx, sc, id, users.BatchCreateOpts{{
		Name: "ann", Password: "ann-pw-1", Databases: databases.BatchCreateOpts{{Name: "sales"}},
	}}).ExtractErr(); err != nil {
		t.Fatalf("users.Create: %v", err)
	}
	if err := ue.use(t, addr, "ann", "ann-pw-1", "sales"); err != nil {
		t.Errorf("ann on sales: %v", err)
	}
	if err := ue.use(t, addr, "ann", "ann-pw-1", "shop"); err == nil {
		t.Error("ann works on shop without a grant")
	}
	put(ctx, t, sc, base+"/ann/databases", map[string]any{"databases": []map[string]string{{"name": "shop"}}}, http.StatusAccepted)
	if err := ue.use(t, addr, "ann", "ann-pw-1", "shop"); err != nil {
		t.Errorf("ann on shop after the grant: %v", err)
	}
	if _, err := sc.Delete(ctx, base+"/ann/databases/sales", &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := ue.use(t, addr, "ann", "ann-pw-1", "sales"); err == nil {
		t.Error("ann works on sales after the revoke")
	}
	if _, err := sc.Delete(ctx, base+"/ann/databases/sales", nil); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("revoke again: %v, want 404", err)
	}
	for _, bad := range []string{"x'; DROP DATABASE shop; --", `x"y`, "x`y"} {
		if err := databases.Create(ctx, sc, id, databases.BatchCreateOpts{{Name: bad}}).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Errorf("databases.Create(%q) = %v, want 400", bad, err)
		}
		put(ctx, t, sc, base+"/ann/databases", map[string]any{"databases": []map[string]string{{"name": bad}}}, http.StatusBadRequest)
	}
	if err := users.Delete(ctx, sc, id, "ann").ExtractErr(); err != nil {
		t.Fatalf("delete ann: %v", err)
	}
	if err := ue.use(t, addr, "ann", "ann-pw-1", "shop"); err == nil {
		t.Error("ann logs in after delete")
	}
}

// testNoDatabases checks that the database calls of a datastore without
// databases answer 501 naming it.
func testNoDatabases(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) {
	t.Helper()
	is501 := func(what string, err error) {
		t.Helper()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotImplemented) || !strings.Contains(err.Error(), "'redis' datastore") {
			t.Errorf("%s = %v, want 501 naming redis", what, err)
		}
	}
	is501("databases.Create", databases.Create(ctx, sc, id, databases.BatchCreateOpts{{Name: "x"}}).ExtractErr())
	_, err := databases.List(sc, id).AllPages(ctx)
	is501("databases.List", err)
	is501("databases.Delete", databases.Delete(ctx, sc, id, "x").ExtractErr())
	base := sc.ServiceURL("instances", id, "users")
	_, err = sc.Put(ctx, base+"/app/databases", map[string]any{"databases": []map[string]string{{"name": "x"}}}, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}})
	is501("grant", err)
	_, err = sc.Delete(ctx, base+"/app/databases/x", nil)
	is501("revoke", err)
}

// listUserNames returns every user name through gophercloud's pager.
func listUserNames(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) []string {
	t.Helper()
	pages, err := users.List(sc, id).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ul, err := users.ExtractUsers(pages)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range ul {
		names = append(names, u.Name)
	}
	return names
}
