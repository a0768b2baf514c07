package sqlite

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// When a release changes the schema, snapshot the new schema with data:
//
//	go test ./internal/store/sqlite -run TestSnapshot -snapshot
//
// It writes testdata/schema-N.db.gz for the latest version N and refuses to
// overwrite an existing snapshot: a released schema never changes.
var snapshot = flag.Bool("snapshot", false, "write testdata/schema-N.db.gz for the latest schema version")

var snapTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// populate writes the rows that every snapshot holds.
func populate(ctx context.Context, s *Store) error {
	inst := &model.Instance{
		ID: "snap-inst", TenantID: "snap-project", Name: "snap", Status: model.StatusActive,
		FlavorID: 1, VolumeSize: 2, Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "snap-dsv",
		Address: "127.0.10.1", Port: 3306, AdminSecret: []byte("sealed"),
		Fault:   &model.Fault{Message: "m", Details: "d", Created: snapTime},
		Created: snapTime, Updated: snapTime,
	}
	task := &model.Task{ID: "snap-task", InstanceID: inst.ID, Kind: model.TaskCreate, State: model.TaskPending,
		Payload: []byte("p"), Created: snapTime, Updated: snapTime}
	steps := []func() error{
		func() error { return s.CreateInstance(ctx, inst, task, nil) },
		func() error {
			return s.CreateInstance(ctx, &model.Instance{ID: "snap-inst-2", TenantID: "snap-project", Name: "two",
				Status: model.StatusShutdown, Created: snapTime, Updated: snapTime}, nil, nil)
		},
		func() error {
			return s.PutFlavor(ctx, model.Flavor{ID: 1, Name: "m1.tiny", RAM: 512, VCPUs: 1, Disk: 1})
		},
		func() error {
			_, err := s.PutDatastoreVersion(ctx, model.DatastoreVersion{ID: "snap-dsv", DatastoreID: "snap-ds",
				DatastoreName: "mysql", Name: "10.11", Version: "10.11.19", Engine: "mariadb", Active: true}, true)
			return err
		},
		func() error {
			return s.CreateProject(ctx, model.Project{ID: "snap-project", Name: "snap", Enabled: true, Created: snapTime})
		},
		func() error {
			return s.CreateUser(ctx, model.User{ID: "snap-user", Name: "snap", PasswordHash: []byte("h"), Enabled: true, Created: snapTime})
		},
		func() error {
			return s.GrantRole(ctx, model.RoleAssignment{UserID: "snap-user", ProjectID: "snap-project", Role: model.RoleAdmin})
		},
		func() error {
			return s.CreateToken(ctx, model.Token{Hash: []byte("snap-hash"), UserID: "snap-user", ProjectID: "snap-project",
				Roles: []string{model.RoleAdmin}, Methods: []string{"password"}, IssuedAt: snapTime, ExpiresAt: snapTime.Add(time.Hour)})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("populate step %d: %w", i, err)
		}
	}
	return nil
}

// checkPopulated checks that the rows of populate survived an upgrade.
func checkPopulated(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	inst, err := s.GetInstance(ctx, "snap-project", "snap-inst")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Address != "127.0.10.1" || inst.Fault == nil || !inst.Fault.Created.Equal(snapTime) ||
		string(inst.AdminSecret) != "sealed" || !inst.Created.Equal(snapTime) {
		t.Errorf("instance after upgrade: %+v", inst)
	}
	if n, err := s.CountInstances(ctx, "snap-project"); err != nil || n != 2 {
		t.Errorf("CountInstances = %d, %v; want 2", n, err)
	}
	task, err := s.ActiveTask(ctx, "snap-inst")
	// A task written before step names has none: the runner resumes it at
	// its step index.
	if err != nil || task.ID != "snap-task" || string(task.Payload) != "p" || task.Step != 0 || task.StepName != "" {
		t.Errorf("ActiveTask = %+v, %v", task, err)
	}
	if f, err := s.GetFlavor(ctx, 1); err != nil || f.Name != "m1.tiny" {
		t.Errorf("GetFlavor = %+v, %v", f, err)
	}
	ds, err := s.ListDatastores(ctx)
	if err != nil || len(ds) != 1 || ds[0].DefaultVersionID != "snap-dsv" || len(ds[0].Versions) != 1 {
		t.Errorf("ListDatastores = %+v, %v", ds, err)
	}
	if ps, err := s.ProjectsOf(ctx, "snap-user"); err != nil || len(ps) != 1 || ps[0].ID != "snap-project" {
		t.Errorf("ProjectsOf = %+v, %v", ps, err)
	}
	if tok, err := s.GetToken(ctx, []byte("snap-hash")); err != nil || tok.UserID != "snap-user" || !tok.ExpiresAt.Equal(snapTime.Add(time.Hour)) {
		t.Errorf("GetToken = %+v, %v", tok, err)
	}
	// The upgraded database takes writes: claim and finish the old task.
	claimed, err := s.ClaimTask(ctx, "r", snapTime, time.Minute)
	if err != nil || claimed.ID != "snap-task" {
		t.Fatalf("ClaimTask = %+v, %v", claimed, err)
	}
	if err := s.FinishTask(ctx, claimed.ID, "r", model.TaskDone, ""); err != nil {
		t.Fatal(err)
	}
}

// schemaObjects returns the database's schema objects (without schema_migrations
// rows), to compare an upgraded database with a fresh one.
func schemaObjects(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(),
		`SELECT type || ' ' || name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			t.Fatal(err)
		}
		out[name] = sql
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// gunzipTo writes the gunzipped file src to dst.
func gunzipTo(t *testing.T, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUpgrade(t *testing.T) {
	fresh := openTemp(t)
	want := schemaObjects(t, fresh)

	snaps, err := filepath.Glob("testdata/schema-*.db.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		t.Fatal("no snapshots in testdata")
	}
	cases := []struct {
		name string
		snap string // "" for an empty database file
	}{{"empty", ""}}
	for _, snap := range snaps {
		cases = append(cases, struct{ name, snap string }{filepath.Base(snap), snap})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hoard.db")
			if tc.snap == "" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				gunzipTo(t, tc.snap, path)
			}
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
				t.Errorf("SchemaVersion() = %d, %v; want %d", v, err, LatestSchemaVersion())
			}
			if d := cmp.Diff(want, schemaObjects(t, s)); d != "" {
				t.Errorf("schema after upgrade differs from a fresh one (-fresh +upgraded):\n%s", d)
			}
			if tc.snap != "" {
				checkPopulated(t, s)
			}
		})
	}
}

func TestSnapshotsArePopulated(t *testing.T) {
	// populate itself must work on the latest schema, or the next snapshot
	// cannot be made.
	s := openTemp(t)
	if err := populate(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	checkPopulated(t, s)
}

func TestSnapshot(t *testing.T) {
	if !*snapshot {
		t.Skip("run with -snapshot to write a schema snapshot")
	}
	v := LatestSchemaVersion()
	dst := filepath.Join("testdata", fmt.Sprintf("schema-%d.db.gz", v))
	if _, err := os.Stat(dst); err == nil {
		t.Fatalf("%s exists: released snapshots are never rewritten", dst)
	}
	path := filepath.Join(t.TempDir(), "hoard.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := populate(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", dst)
}

func TestStepwiseMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoard.db")
	for v := 0; v <= LatestSchemaVersion(); v++ {
		s, err := open(t.Context(), path, v)
		if err != nil {
			t.Fatalf("migrate to %d: %v", v, err)
		}
		got, err := s.SchemaVersion(t.Context())
		s.Close()
		if err != nil || got != v {
			t.Fatalf("after migrating to %d: SchemaVersion() = %d, %v", v, got, err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoard.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer hoard succeeded")
	}
}

func TestErrorsWrapSentinels(t *testing.T) {
	s := openTemp(t)
	_, err := s.GetInstance(t.Context(), "", "nope")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetInstance(missing) = %v, want ErrNotFound", err)
	}
	if want := "sqlite: get instance nope: store: not found"; err.Error() != want {
		t.Errorf("error text = %q, want %q", err.Error(), want)
	}
}
