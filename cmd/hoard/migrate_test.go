package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
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

// fillSQLite writes a data set with at least one record of every kind the
// store holds into an SQLite store, through the store API.
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
	// claim claims the one claimable task, which must be id.
	claim := func(id string, lease time.Duration) {
		t.Helper()
		got, err := s.ClaimTask(ctx, "old-hoard", t0, lease)
		must(err)
		if got.ID != id {
			t.Fatalf("claimed %s, want %s", got.ID, id)
		}
	}
	for _, f := range []model.Flavor{{ID: 1, Name: "tiny", RAM: 512, VCPUs: 1}, {ID: 2, Name: "small", RAM: 1024, VCPUs: 1, Disk: 5}} {
		must(s.PutFlavor(ctx, f))
	}
	v1011, err := s.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: "mysql", Name: "10.11", Version: "10.11.19", Engine: "mariadb", Active: true}, false)
	must(err)
	_, err = s.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: "mysql", Name: "10.6", Version: "10.6.1", Engine: "mariadb", Active: false}, true)
	must(err)
	_, err = s.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: "redis", Name: "7", Version: "7.0.15", Engine: "redis", Active: true}, true)
	must(err)
	must(s.PutParameters(ctx, v1011.ID, []byte(`[{"name": "max_connections", "type": "integer", "min": 1, "restart_required": false}]`)))

	must(s.CreateProject(ctx, model.Project{ID: "p1", Name: "admin", Enabled: true, Created: t0}))
	must(s.CreateProject(ctx, model.Project{ID: "p2", Name: "shop", Description: "the shop", Enabled: false, Created: t0}))
	must(s.CreateUser(ctx, model.User{ID: "u1", Name: "admin", PasswordHash: []byte("$2a$10$hash-one"), Enabled: true, Created: t0}))
	must(s.CreateUser(ctx, model.User{ID: "u2", Name: "alice", PasswordHash: []byte("$2a$10$hash-two"), Enabled: true, Created: t0}))
	for _, a := range [][3]string{{"u1", "p1", "admin"}, {"u1", "p2", "member"}, {"u2", "p2", "member"}, {"u2", "p2", "reader"}} {
		must(s.GrantRole(ctx, model.RoleAssignment{UserID: a[0], ProjectID: a[1], Role: a[2]}))
	}
	must(s.CreateToken(ctx, model.Token{Hash: []byte("tok"), UserID: "u1", ProjectID: "p1", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}))

	for i, c := range []string{"cfg-1", "cfg-2"} {
		must(s.CreateConfiguration(ctx, &model.Configuration{
			ID: c, TenantID: "p2", Name: "group " + c, Description: "d" + c,
			Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: v1011.ID,
			Values:  map[string]string{"max_connections": fmt.Sprint(50 + i)},
			Created: t0, Updated: t0.Add(time.Duration(i) * time.Hour),
		}))
	}

	inst := func(i int, st model.InstanceStatus) *model.Instance {
		return &model.Instance{
			ID: fmt.Sprintf("inst-%d", i), TenantID: "p2", Name: fmt.Sprintf("db%d", i), Status: st,
			FlavorID: 2, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: v1011.ID,
			Address: fmt.Sprintf("127.0.1.%d", i+1), Port: 3306, AdminSecret: []byte{1, 2, byte(i)},
			Created: t0, Updated: t0.Add(time.Minute),
		}
	}
	task := func(id string, kind model.TaskKind, minute int) *model.Task {
		return &model.Task{ID: id, Kind: kind, Payload: []byte(`{"sealed":"` + id + `"}`), Created: t0.Add(time.Duration(minute) * time.Minute)}
	}
	// inst-0: created (a finished task), backed up twice, restarted (a
	// failed task), root enabled, a schedule.
	must(s.CreateInstance(ctx, inst(0, model.StatusBuild), task("create-0", model.TaskCreate, 0), nil))
	claim("create-0", time.Minute)
	must(s.FinishTask(ctx, "create-0", "old-hoard", model.TaskDone, ""))
	_, err = s.UpdateInstance(ctx, "inst-0", func(i *model.Instance) error {
		i.Status = model.StatusActive
		i.AllowedCIDRs = []string{"127.0.0.2/32", "2001:db8::/32"} // access limited: copied too
		return nil
	})
	must(err)
	// inst-1: its create task was running in the stopped hoard, whose lease
	// has long ended (it crashed).
	must(s.CreateInstance(ctx, inst(1, model.StatusBuild), task("create-1", model.TaskCreate, 1), nil))
	claim("create-1", time.Hour)
	must(s.AdvanceTask(ctx, "create-1", "old-hoard", 3, "wait_ready", []byte(`{"sealed":"step3"}`)))

	active := []model.InstanceStatus{model.StatusActive}
	for i, id := range []string{"bk-full", "bk-incr"} {
		b := &model.Backup{
			ID: id, TenantID: "p2", Name: "nightly " + id, Description: "d", InstanceID: "inst-0",
			Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: v1011.ID, VolumeSize: 1, FlavorID: 2,
			AdminSecret: []byte{7, 7, byte(i)}, Created: t0.Add(time.Duration(10+i) * time.Minute),
		}
		if i == 1 {
			b.ParentID = "bk-full"
		}
		tid := "backup-" + id
		must(s.StartBackup(ctx, b, active, model.StatusBackup, task(tid, model.TaskBackup, 10+i), nil))
		claim(tid, time.Minute)
		final, state := model.BackupCompleted, model.TaskDone
		if i == 1 {
			final, state = model.BackupFailed, model.TaskFailed
		}
		must(s.FinishTask(ctx, tid, "old-hoard", state, ""))
		_, err = s.UpdateBackup(ctx, id, func(b *model.Backup) error {
			b.Status, b.Automated, b.Size, b.Checksum = final, i == 0, int64(1000+i), "sha256:"+id
			b.Location = "/var/lib/hoard/backups/" + id + ".xb.zst"
			b.Meta = map[string]string{"gtid": fmt.Sprintf("0-1-%d", i)}
			if i == 1 {
				b.Fault = "disk full"
			}
			return nil
		})
		must(err)
		_, err = s.UpdateInstance(ctx, "inst-0", func(i *model.Instance) error { i.Status = model.StatusActive; return nil })
		must(err)
	}
	_, err = s.StartAction(ctx, "p2", "inst-0", active, model.StatusReboot, task("restart-0", model.TaskRestart, 20), t0)
	must(err)
	claim("restart-0", time.Minute)
	must(s.FinishTask(ctx, "restart-0", "old-hoard", model.TaskFailed, "engine did not answer"))
	_, err = s.UpdateInstance(ctx, "inst-0", func(i *model.Instance) error { i.Status = model.StatusActive; return nil })
	must(err)
	must(s.RecordRootEnabled(ctx, "inst-0", "u2", t0.Add(30*time.Minute)))
	must(s.CreateSchedule(ctx, &model.Schedule{
		ID: "sch-1", TenantID: "p2", InstanceID: "inst-0", DayOfWeek: 3, Hour: 2, Minute: 30, Retention: 7,
		NextRun: t0.Add(24 * time.Hour), LastScheduled: t0, Created: t0, Updated: t0.Add(time.Minute),
	}))

	// inst-2: failed, with a fault and a configuration group attached.
	i2 := inst(2, model.StatusError)
	i2.Fault = &model.Fault{Message: "engine did not start", Details: "exit 1", Created: t0}
	i2.ConfigurationID = "cfg-1"
	must(s.CreateInstance(ctx, i2, nil, nil))
	// inst-4: a restart waits to run.
	must(s.CreateInstance(ctx, inst(4, model.StatusActive), nil, nil))
	// ha-1: an HA group whose source is inst-5 (its replica yet to make).
	i5 := inst(5, model.StatusActive)
	must(s.CreateHAGroup(ctx, &model.HAGroup{ID: "ha-1", TenantID: "p2", Name: "group", Built: true,
		Datastore: "mysql", DatastoreVersion: "10.11", FlavorID: 1, VolumeSize: 1, WritePort: 3306, ReadPort: 3307,
		SourceID: i5.ID, ReplicaCount: 1, ACLs: []string{"10.0.0.0/8"}, Pending: []model.HAReplicaSpec{{Name: "r", FlavorID: 1, VolumeSize: 1}},
		Created: t0, Updated: t0}, []string{"127.0.2.1"}, i5, task("create-5", model.TaskCreate, 45), nil))
	_, err = s.StartAction(ctx, "p2", "inst-4", active, model.StatusReboot, task("restart-4", model.TaskRestart, 40), t0)
	must(err)
	// inst-3: deleted between the delete task's last two steps: the task
	// outlives the instance.
	must(s.CreateInstance(ctx, inst(3, model.StatusActive), nil, nil))
	_, err = s.StartAction(ctx, "p2", "inst-3", active, model.StatusShutdown, task("delete-3", model.TaskDelete, 50), t0)
	must(err)
	must(s.DeleteInstance(ctx, "inst-3"))

	_, err = s.InitSetting(ctx, "node", "host-a")
	must(err)
	must(s.SetProjectQuotas(ctx, "p2", model.QuotaLimits{model.QuotaInstances: 3, model.QuotaBackups: -1}))
}

// dataSet is every record of a store, read through the store API. Each
// field is one kind of record; TestCopySQLiteToPostgres requires all of
// them to be non-empty in the source.
type dataSet struct {
	Flavors        []model.Flavor
	Datastores     []model.Datastore
	Parameters     []store.ParameterSet // Params re-encoded: PostgreSQL normalises JSON
	Projects       []model.Project
	Users          []model.User
	Roles          map[string][]string // "user project" → roles
	Configurations []*model.Configuration
	Attachments    map[string][]string // configuration → instances
	Instances      []*model.Instance
	HAGroups       []*model.HAGroup
	RootHistory    []store.RootRecord
	Tasks          []*model.Task
	Backups        []*model.Backup
	Schedules      []*model.Schedule
	Settings       map[string]string
	Quotas         map[string]model.QuotaLimits
}

// readAll reads the whole data set of s.
func readAll(t *testing.T, s store.Store) *dataSet {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var d dataSet
	var err error
	d.Flavors, err = s.ListFlavors(ctx)
	must(err)
	d.Datastores, err = s.ListDatastores(ctx)
	must(err)
	d.Parameters, err = s.ListParameters(ctx)
	must(err)
	for i, p := range d.Parameters {
		var v any
		must(json.Unmarshal(p.Params, &v))
		d.Parameters[i].Params, err = json.Marshal(v)
		must(err)
	}
	d.Projects, err = s.ListProjects(ctx)
	must(err)
	d.Users, err = s.ListUsers(ctx)
	must(err)
	d.Roles = map[string][]string{}
	for _, u := range d.Users {
		for _, p := range d.Projects {
			r, err := s.Roles(ctx, u.ID, p.ID)
			must(err)
			if len(r) > 0 {
				d.Roles[u.ID+" "+p.ID] = r
			}
		}
	}
	d.Configurations, err = s.ListConfigurations(ctx, "", store.Page{})
	must(err)
	d.Attachments = map[string][]string{}
	for _, c := range d.Configurations {
		insts, err := s.ConfigurationInstances(ctx, c.ID, store.Page{})
		must(err)
		for _, i := range insts {
			d.Attachments[c.ID] = append(d.Attachments[c.ID], i.ID)
		}
	}
	d.Instances, err = s.ListInstances(ctx, "", store.Page{})
	must(err)
	d.HAGroups, err = s.ListHAGroups(ctx, "")
	must(err)
	d.RootHistory, err = s.ListRootHistory(ctx)
	must(err)
	d.Tasks, err = s.AllTasks(ctx)
	must(err)
	d.Backups, err = s.ListBackups(ctx, store.BackupFilter{}, 0, 0)
	must(err)
	d.Schedules, err = s.ListSchedules(ctx, "")
	must(err)
	d.Settings, err = s.AllSettings(ctx)
	must(err)
	d.Quotas, err = s.AllProjectQuotas(ctx)
	must(err)
	return &d
}

// copiedTables maps every table of the SQLite schema to the dataSet field
// that copies it, or to "" when it is deliberately not copied. A table
// added to the schema must be listed here: decide whether hoard migrate
// copies it.
var copiedTables = map[string]string{
	"flavors":              "Flavors",
	"datastores":           "Datastores",
	"datastore_versions":   "Datastores",
	"datastore_parameters": "Parameters",
	"projects":             "Projects",
	"users":                "Users",
	"role_assignments":     "Roles",
	"configurations":       "Configurations",
	"instances":            "Instances",
	"ha_groups":            "HAGroups",
	"root_history":         "RootHistory",
	"tasks":                "Tasks",
	"backups":              "Backups",
	"schedules":            "Schedules",
	"settings":             "Settings",
	"quotas":               "Quotas",
	"tokens":               "", // sessions: users log in again
	"inline_leases":        "", // held only while a hoard runs an inline operation
	"instance_generations": "", // the stores' list cache counters, kept by triggers in the target
	"schema_migrations":    "", // each backend's own
}

// TestCopiedTables fails when the SQLite schema has a table that hoard
// migrate does not know about.
func TestCopiedTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoard.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[dataSet]()) {
		fields[f.Name] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		field, ok := copiedTables[name]
		switch {
		case !ok:
			t.Errorf("table %s is not in copiedTables: make hoard migrate copy it (and compare it in dataSet), or list it as not copied", name)
		case field != "" && !fields[field]:
			t.Errorf("copiedTables[%s] = %s, not a dataSet field", name, field)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateCopySQLiteToPostgres copies a data set holding every kind of
// record and compares every record, field by field.
func TestMigrateCopySQLiteToPostgres(t *testing.T) {
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
	want := "copied 2 flavors, 2 datastores, 1 parameter catalogues, 2 projects, 2 users, 4 role assignments, " +
		"2 configuration groups, 5 instances, 1 HA groups, 1 root records, 8 tasks (4 unfinished), 2 backups, 1 backup schedules, 1 settings, 1 project quotas; schema version"
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
	have, got := readAll(t, src), readAll(t, dst)

	// Every kind is in the source, so a kind the copy drops fails below.
	v := reflect.ValueOf(*have)
	for i := range v.NumField() {
		if v.Field(i).Len() == 0 {
			t.Errorf("the source data set has no %s: fillSQLite must make every kind", v.Type().Field(i).Name)
		}
	}
	// The one running task (its lease ended: that hoard crashed) arrives
	// pending, unowned, at the step it had reached; the rest as it was.
	var running int
	for _, task := range have.Tasks {
		if task.State == model.TaskRunning {
			task.State, task.Owner, task.LeaseUntil = model.TaskPending, "", time.Time{}
			running++
		}
	}
	if running != 1 {
		t.Errorf("the source has %d running tasks, want 1", running)
	}
	if d := cmp.Diff(have, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("the copy differs (-sqlite +postgres):\n%s", d)
	}
	if _, err := dst.GetToken(ctx, []byte("tok")); err == nil {
		t.Error("a token was copied; tokens are not")
	}
	// The copied store works: the resumed task is claimed first, at its step
	// and with its sealed payload.
	task, err := dst.ClaimTask(ctx, "new-hoard", time.Now(), time.Minute)
	if err != nil || task.ID != "create-1" || task.Step != 3 || task.StepName != "wait_ready" ||
		string(task.Payload) != `{"sealed":"step3"}` {
		t.Errorf("ClaimTask on the copy = %+v, %v; want create-1 at step 3 (wait_ready)", task, err)
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

// TestMigrateRefusesBusySource checks that a source whose task is running
// under a live lease (a hoard still serves it) is not copied, and that the
// target is left empty.
func TestMigrateRefusesBusySource(t *testing.T) {
	ctx := t.Context()
	srcPath := filepath.Join(t.TempDir(), "hoard.db")
	src, err := sqlite.Open(ctx, srcPath)
	if err != nil {
		t.Fatal(err)
	}
	err = src.CreateInstance(ctx, &model.Instance{ID: "inst-1", TenantID: "p", Name: "db", Status: model.StatusBuild},
		&model.Task{ID: "create-1", Kind: model.TaskCreate}, nil)
	if err == nil {
		_, err = src.ClaimTask(ctx, "live-hoard", time.Now(), time.Hour)
	}
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.Start(t).NewDatabase(t)
	err = migrateCmd(ctx, []string{"--from", "sqlite://" + srcPath, "--to", dsn}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "create-1") {
		t.Fatalf("copy of a busy source: err = %v, want 'in use' naming task create-1", err)
	}
	dst, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := checkEmpty(ctx, dst); err != nil {
		t.Errorf("the target after a refused copy: %v", err)
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
