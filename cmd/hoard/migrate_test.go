package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/postgres"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

func TestParseStore(t *testing.T) {
	tests := []struct {
		in, dataDir string
		want        storeSpec
		wantErr     bool
	}{
		{"", "/var/lib/hoard", storeSpec{Kind: storeSQLite, Path: "/var/lib/hoard/hoard.db"}, false},
		{"", "", storeSpec{}, true},
		{"sqlite:///srv/h/hoard.db", "/x", storeSpec{Kind: storeSQLite, Path: "/srv/h/hoard.db"}, false},
		{"sqlite://rel/hoard.db", "", storeSpec{Kind: storeSQLite, Path: "rel/hoard.db"}, false},
		{"sqlite://", "/x", storeSpec{}, true},
		{"postgres://u:pw@db:5432/hoard", "", storeSpec{Kind: storePostgres, DSN: "postgres://u:pw@db:5432/hoard"}, false},
		{"postgresql://db/hoard", "", storeSpec{Kind: storePostgres, DSN: "postgresql://db/hoard"}, false},
		{"mysql://u:pw@db/hoard", "", storeSpec{}, true},
		{"/srv/hoard.db", "", storeSpec{}, true},
	}
	for _, tt := range tests {
		got, err := parseStore(tt.in, tt.dataDir)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseStore(%q, %q) = %+v, %v; want %+v, error %v", tt.in, tt.dataDir, got, err, tt.want, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("parseStore(%q) error %q shows the password", tt.in, err)
		}
	}
}

func TestStoreSpecString(t *testing.T) {
	s := storeSpec{Kind: storePostgres, DSN: "postgres://hoard:s3cret@db:5432/hoard?sslmode=disable"}
	if got := s.String(); strings.Contains(got, "s3cret") || !strings.Contains(got, "db:5432/hoard") {
		t.Errorf("String() = %q, want the host and database without the password", got)
	}
}

// fixedErrors are the error texts parseStore may return.
var fixedErrors = map[string]bool{
	"no store given": true,
	"sqlite store: want sqlite:///path/to/hoard.db":        true,
	"store: want sqlite:///path or postgres://... (a URL)": true,
}

// FuzzParseStore checks that parseStore never panics, classifies every
// accepted value, and never puts the value in its error.
func FuzzParseStore(f *testing.F) {
	for _, s := range []string{"", "sqlite:///a/b.db", "postgres://u:secretpw@h/d", "postgresql://h", "x://secretpw", "sqlite://\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		spec, err := parseStore(v, "/data")
		if err != nil {
			// Errors are fixed texts: the value may hold a password.
			if !fixedErrors[err.Error()] {
				t.Errorf("parseStore(%q) error %q is not one of the fixed texts", v, err)
			}
			return
		}
		switch spec.Kind {
		case storeSQLite:
			if spec.Path == "" {
				t.Errorf("parseStore(%q) = sqlite with no path", v)
			}
		case storePostgres:
			if spec.DSN != v {
				t.Errorf("parseStore(%q) DSN = %q", v, spec.DSN)
			}
		default:
			t.Errorf("parseStore(%q) kind %q", v, spec.Kind)
		}
	})
}

// fillSQLite writes a small data set of every copied kind into an SQLite store.
func fillSQLite(t *testing.T, s *sqlite.Store) {
	t.Helper()
	ctx := t.Context()
	t0 := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []model.Flavor{{ID: 1, Name: "tiny", RAM: 512, VCPUs: 1}, {ID: 2, Name: "small", RAM: 1024, VCPUs: 1, Disk: 5}} {
		must(s.PutFlavor(ctx, f))
	}
	_, err := s.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: "mysql", Name: "10.11", Version: "10.11.19", Engine: "mariadb", Active: true}, false)
	must(err)
	_, err = s.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: "mysql", Name: "10.6", Version: "10.6.1", Engine: "mariadb", Active: true}, true)
	must(err)
	must(s.CreateProject(ctx, model.Project{ID: "p1", Name: "admin", Enabled: true, Created: t0}))
	must(s.CreateProject(ctx, model.Project{ID: "p2", Name: "shop", Description: "the shop", Enabled: false, Created: t0}))
	must(s.CreateUser(ctx, model.User{ID: "u1", Name: "admin", PasswordHash: []byte("$2a$10$hash-one"), Enabled: true, Created: t0}))
	must(s.CreateUser(ctx, model.User{ID: "u2", Name: "alice", PasswordHash: []byte("$2a$10$hash-two"), Enabled: true, Created: t0}))
	for _, a := range [][3]string{{"u1", "p1", "admin"}, {"u1", "p2", "member"}, {"u2", "p2", "member"}, {"u2", "p2", "reader"}} {
		must(s.GrantRole(ctx, model.RoleAssignment{UserID: a[0], ProjectID: a[1], Role: a[2]}))
	}
	must(s.CreateToken(ctx, model.Token{Hash: []byte("tok"), UserID: "u1", ProjectID: "p1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	for i, st := range []model.InstanceStatus{model.StatusActive, model.StatusBuild, model.StatusError} {
		inst := &model.Instance{
			ID: fmt.Sprintf("inst-%d", i), TenantID: "p2", Name: fmt.Sprintf("db%d", i), Status: st,
			FlavorID: 2, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v",
			Address: fmt.Sprintf("127.0.1.%d", i+1), Port: 3306, AdminSecret: []byte{1, 2, byte(i)},
			Created: t0, Updated: t0.Add(time.Minute),
		}
		var task *model.Task
		switch st {
		case model.StatusBuild:
			task = &model.Task{ID: "create-1", Kind: model.TaskCreate, Payload: []byte(`{"sealed":1}`), Created: t0}
		case model.StatusError:
			inst.Fault = &model.Fault{Message: "engine did not start", Details: "exit 1", Created: t0}
		}
		must(s.CreateInstance(ctx, inst, task))
	}
	// The create task was running in the stopped hoard.
	claimed, err := s.ClaimTask(ctx, "old-hoard", t0, time.Hour)
	must(err)
	must(s.AdvanceTask(ctx, claimed.ID, "old-hoard", 3, nil))
	must(s.RecordRootEnabled(ctx, "inst-0", "u1", t0))
}

// TestCopySQLiteToPostgres copies a data set and compares every kind.
func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := t.Context()
	srcPath := filepath.Join(t.TempDir(), "hoard.db")
	src, err := sqlite.Open(ctx, srcPath)
	if err != nil {
		t.Fatal(err)
	}
	fillSQLite(t, src)
	src.Close()

	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	var out bytes.Buffer
	if err := migrateCmd(ctx, []string{"--from", "sqlite://" + srcPath, "--to", dsn}, &out); err != nil {
		t.Fatalf("migrate --from --to: %v", err)
	}
	want := "copied 2 flavors, 1 datastores, 2 projects, 2 users, 4 role assignments, 3 instances, 1 unfinished tasks; schema version"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("migrate output = %q, want it to start with %q", out.String(), want)
	}
	// A second copy into the same database is refused.
	if err := migrateCmd(ctx, []string{"--from", "sqlite://" + srcPath, "--to", dsn}, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second copy: err = %v, want 'not empty'", err)
	}

	src, err = sqlite.Open(ctx, srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	compare := func(what string, get func(s store.Store) (any, error), opts ...cmp.Option) {
		t.Helper()
		a, err := get(src)
		if err != nil {
			t.Fatalf("%s (sqlite): %v", what, err)
		}
		b, err := get(dst)
		if err != nil {
			t.Fatalf("%s (postgres): %v", what, err)
		}
		if d := cmp.Diff(a, b, append(opts, cmpopts.EquateEmpty())...); d != "" {
			t.Errorf("%s differs (-sqlite +postgres):\n%s", what, d)
		}
	}
	compare("flavors", func(s store.Store) (any, error) { return s.ListFlavors(ctx) })
	compare("datastores", func(s store.Store) (any, error) { return s.ListDatastores(ctx) })
	compare("projects", func(s store.Store) (any, error) { return s.ListProjects(ctx) })
	compare("users", func(s store.Store) (any, error) { return s.ListUsers(ctx) })
	for _, u := range []string{"u1", "u2"} {
		for _, p := range []string{"p1", "p2"} {
			compare("roles of "+u+" on "+p, func(s store.Store) (any, error) { return s.Roles(ctx, u, p) })
		}
	}
	compare("instances", func(s store.Store) (any, error) { return s.ListInstances(ctx, "", store.Page{}) })
	// The running task arrives pending, unowned, at the step it had reached.
	compare("task", func(s store.Store) (any, error) { return s.GetTask(ctx, "create-1") },
		cmpopts.IgnoreFields(model.Task{}, "State", "Owner", "LeaseUntil"))
	task, err := dst.GetTask(ctx, "create-1")
	if err != nil || task.State != model.TaskPending || task.Owner != "" || task.Step != 3 || task.Attempts != 1 {
		t.Errorf("copied task = %+v, %v; want pending, no owner, step 3, 1 attempt", task, err)
	}
	if at, err := dst.RootEnabledAt(ctx, "inst-0"); err != nil || at.IsZero() {
		t.Errorf("RootEnabledAt(inst-0) = %v, %v", at, err)
	}
	if _, err := dst.GetToken(ctx, []byte("tok")); err == nil {
		t.Error("a token was copied; tokens are not")
	}

	// hoard migrate --store reports the version of an up-to-date store.
	out.Reset()
	if err := migrateCmd(ctx, []string{"--store", dsn}, &out); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("schema version %d\n", postgres.LatestSchemaVersion()); out.String() != want {
		t.Errorf("migrate --store = %q, want %q", out.String(), want)
	}
	// ... and creates the schema of an empty database.
	out.Reset()
	if err := migrateCmd(ctx, []string{"--store", srv.NewDatabase(t)}, &out); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("schema version %d\n", postgres.LatestSchemaVersion()); out.String() != want {
		t.Errorf("migrate --store (empty) = %q, want %q", out.String(), want)
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--from", "sqlite:///x.db"},
		{"extra"},
	} {
		if err := migrateCmd(t.Context(), args, &bytes.Buffer{}); err != errUsage {
			t.Errorf("migrateCmd(%q) = %v, want errUsage", args, err)
		}
	}
	if err := migrateCmd(t.Context(), []string{"--store", "sqlite:///no/such/dir/hoard.db"}, &bytes.Buffer{}); err == nil {
		t.Error("migrate of a missing SQLite file succeeded")
	}
}
