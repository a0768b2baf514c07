package service

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// stubDriver answers Conn only; the inline operations need nothing else.
type stubDriver struct{ driver.Driver }

func (stubDriver) Conn(s driver.Spec) datastore.Conn {
	return datastore.Conn{Address: s.Address, Port: s.Port}
}

// bareEngine has no optional capability.
type bareEngine struct{ datastore.Engine }

func (bareEngine) Name() string      { return "bare" }
func (bareEngine) AdminUser() string { return "os_admin" }

// memEngine is an in-memory engine with every capability.
type memEngine struct {
	bareEngine
	dbs   []string
	users []datastore.UserInfo
	root  bool
	pw    datastore.Secret
}

func (m *memEngine) Name() string { return "mem" }
func (m *memEngine) CreateDatabases(ctx context.Context, c datastore.Conn, dbs []datastore.Database) error {
	for _, d := range dbs {
		m.dbs = append(m.dbs, d.Name)
	}
	slices.Sort(m.dbs)
	return nil
}
func (m *memEngine) CreateUsers(ctx context.Context, c datastore.Conn, us []datastore.User) error {
	for _, u := range us {
		m.users = append(m.users, datastore.UserInfo{Name: u.Name, Host: u.Host, Databases: u.Databases})
	}
	slices.SortFunc(m.users, func(a, b datastore.UserInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Host, b.Host))
	})
	return nil
}
func (m *memEngine) ListDatabases(ctx context.Context, c datastore.Conn) ([]datastore.Database, error) {
	var out []datastore.Database
	for _, d := range m.dbs {
		out = append(out, datastore.Database{Name: d})
	}
	return out, nil
}
func (m *memEngine) DeleteDatabase(ctx context.Context, c datastore.Conn, name string) error {
	return nil
}
func (m *memEngine) ListUsers(ctx context.Context, c datastore.Conn) ([]datastore.UserInfo, error) {
	return slices.Clone(m.users), nil
}
func (m *memEngine) GetUser(ctx context.Context, c datastore.Conn, name, host string) (datastore.UserInfo, error) {
	for _, u := range m.users {
		if u.Name == name && u.Host == host {
			return u, nil
		}
	}
	return datastore.UserInfo{}, fault.Wrap(fault.NotFound, "mem", "User cannot be found on the instance.", datastore.ErrUserNotFound)
}
func (m *memEngine) UpdateUser(ctx context.Context, c datastore.Conn, name, host string, ch datastore.UserChange) error {
	return nil
}
func (m *memEngine) DeleteUser(ctx context.Context, c datastore.Conn, name, host string) error {
	return nil
}
func (m *memEngine) GrantAccess(ctx context.Context, c datastore.Conn, name, host string, dbs []string) error {
	return nil
}
func (m *memEngine) RevokeAccess(ctx context.Context, c datastore.Conn, name, host, db string) error {
	return nil
}
func (m *memEngine) RootUser() string { return "root" }
func (m *memEngine) EnableRoot(ctx context.Context, c datastore.Conn, pw datastore.Secret) error {
	m.root, m.pw = true, pw
	return nil
}
func (m *memEngine) DisableRoot(ctx context.Context, c datastore.Conn) error {
	m.root = false
	return nil
}
func (m *memEngine) RootEnabled(ctx context.Context, c datastore.Conn) (bool, error) {
	return m.root, nil
}

// newTestService returns a service over an in-memory SQLite store with the
// engines "bare" and "mem", and one instance per engine in status.
func newTestService(t *testing.T, status model.InstanceStatus) (*Service, *memEngine, map[string]string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := secret.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	mem := &memEngine{}
	s := New(Config{
		DefaultDatastore: "mysql",
		Store:            st, Driver: stubDriver{}, Sealer: sealer,
		Engines: map[string]datastore.Engine{"bare": bareEngine{}, "mem": mem},
		Logger:  slog.New(slog.DiscardHandler),
	})
	ids := map[string]string{}
	for _, engine := range []string{"bare", "mem"} {
		dv, err := st.PutDatastoreVersion(ctx, model.DatastoreVersion{DatastoreName: engine + "db", Name: "1", Engine: engine, Active: true}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutFlavor(ctx, model.Flavor{ID: 1, Name: "f", RAM: 512, VCPUs: 1}); err != nil {
			t.Fatal(err)
		}
		sealed, _ := sealer.Seal([]byte("admin-pw"))
		now := time.Now().UTC().Truncate(time.Second)
		inst := &model.Instance{
			ID: "inst-" + engine, TenantID: "t1", Name: engine, Status: status, FlavorID: 1, VolumeSize: 1,
			Datastore: engine + "db", DatastoreVersion: "1", DatastoreVersionID: dv.ID, Address: "127.0.1." + string(rune('1'+len(ids))),
			Port: 3306, AdminSecret: sealed, Created: now, Updated: now,
		}
		if err := st.CreateInstance(ctx, inst, nil, nil); err != nil {
			t.Fatal(err)
		}
		ids[engine] = inst.ID
	}
	return s, mem, ids
}

func TestAdminStateGate(t *testing.T) {
	ctx := t.Context()
	s, _, ids := newTestService(t, model.StatusBuild)
	_, _, err := s.ListUsers(ctx, "t1", ids["mem"], store.Page{Limit: 10})
	if !fault.Is(err, fault.Unprocessable) || fault.Message(err) != "Instance inst-mem is not ready, status: BUILD." {
		t.Errorf("ListUsers on BUILD = %v, want 422", err)
	}
	if _, err := s.RootEnabled(ctx, "t2", ids["mem"]); !fault.Is(err, fault.NotFound) {
		t.Errorf("RootEnabled of another tenant = %v, want 404", err)
	}
	if err := s.DeleteDatabase(ctx, "t1", "nope", "x"); !fault.Is(err, fault.NotFound) {
		t.Errorf("DeleteDatabase(unknown instance) = %v, want 404", err)
	}

	// ACTIVE with a task running is not ready either (after a bounded
	// wait for the task, which this test does not make).
	s, _, ids = newTestService(t, model.StatusActive)
	s.inline.wait = -1
	now := time.Now()
	task := &model.Task{ID: "task-1", InstanceID: ids["mem"], Kind: model.TaskRestart, State: model.TaskPending, Created: now, Updated: now}
	if _, err := s.st.StartAction(ctx, "t1", ids["mem"], []model.InstanceStatus{model.StatusActive}, model.StatusActive, task, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDatabases(ctx, "t1", ids["mem"], []datastore.Database{{Name: "db1"}}); !fault.Is(err, fault.Unprocessable) {
		t.Errorf("CreateDatabases with a running task = %v, want 422", err)
	}
}

func TestAdminNotSupported(t *testing.T) {
	ctx := t.Context()
	s, _, ids := newTestService(t, model.StatusRestartRequired)
	id := ids["bare"]
	calls := map[string]error{
		"database": s.CreateDatabases(ctx, "t1", id, []datastore.Database{{Name: "db1"}}),
		"user":     s.DeleteUser(ctx, "t1", id, "u", "%"),
		"root":     func() error { _, _, err := s.EnableRoot(ctx, "t1", id, ""); return err }(),
	}
	for what, err := range calls {
		want := "The '" + what + "' operation is not supported for the 'baredb' datastore."
		if !fault.Is(err, fault.NotImplemented) || fault.Message(err) != want {
			t.Errorf("%s on a bare engine = %v, want 501 %q", what, err, want)
		}
	}
}

func TestAdminOperations(t *testing.T) {
	ctx := t.Context()
	s, mem, ids := newTestService(t, model.StatusActive)
	id := ids["mem"]
	if err := s.CreateDatabases(ctx, "t1", id, []datastore.Database{{Name: "db1"}, {Name: "db2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDatabases(ctx, "t1", id, []datastore.Database{{Name: "db1"}}); !fault.Is(err, fault.Invalid) ||
		fault.Message(err) != `A database with the name "db1" already exists.` {
		t.Errorf("duplicate database = %v", err)
	}
	if err := s.CreateDatabases(ctx, "t1", id, []datastore.Database{{Name: "db3"}, {Name: "db3"}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("repeated database = %v", err)
	}
	if err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "a", Password: "p"}, {Name: "a", Host: "10.0.0.1", Password: "p"}, {Name: "b", Password: "p", Databases: []string{"db1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "a", Password: "p"}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("duplicate user = %v", err)
	}
	if err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "c", Password: "p", Databases: []string{"nosuch"}}}); !fault.Is(err, fault.NotFound) {
		t.Errorf("user on a missing database = %v, want 404", err)
	}
	if err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "os_admin", Password: "p"}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("user os_admin = %v, want 400", err)
	}
	page, more, err := s.ListUsers(ctx, "t1", id, store.Page{Limit: 2})
	if err != nil || !more || len(page) != 2 || page[1].Host != "10.0.0.1" {
		t.Fatalf("ListUsers page 1 = %+v, %v, %v", page, more, err)
	}
	page, more, err = s.ListUsers(ctx, "t1", id, store.Page{Limit: 2, Marker: "a@10.0.0.1"})
	if err != nil || more || len(page) != 1 || page[0].Name != "b" {
		t.Errorf("ListUsers page 2 = %+v, %v, %v", page, more, err)
	}
	if err := s.UpdateUser(ctx, "t1", id, "a", "%", datastore.UserChange{}); !fault.Is(err, fault.Invalid) {
		t.Errorf("empty update = %v", err)
	}
	if err := s.UpdatePasswords(ctx, "t1", id, []datastore.User{{Name: "zz", Password: "p"}}); !fault.Is(err, fault.NotFound) {
		t.Errorf("password of a missing user = %v, want 404", err)
	}

	// Root: never enabled → false and 404 on disable; enable generates a
	// strong password; disabled root still counts as "ever enabled".
	if on, err := s.RootEnabled(ctx, "t1", id); err != nil || on {
		t.Errorf("RootEnabled = %v, %v", on, err)
	}
	if err := s.DisableRoot(ctx, "t1", id); !fault.Is(err, fault.NotFound) ||
		fault.Message(err) != "Root user has never been enabled on the instance." {
		t.Errorf("DisableRoot before enable = %v", err)
	}
	user, pw, err := s.EnableRoot(ctx, "t1", id, "")
	if err != nil || user != "root" || len(pw) < 32 || pw != mem.pw {
		t.Fatalf("EnableRoot = %q, %d chars, %v", user, len(pw), err)
	}
	_, pw2, _ := s.EnableRoot(ctx, "t1", id, "")
	if pw2 == pw {
		t.Errorf("EnableRoot twice gave the same password")
	}
	if _, pw3, _ := s.EnableRoot(ctx, "t1", id, "chosen"); pw3 != "chosen" {
		t.Errorf("EnableRoot with a password returned another one")
	}
	if err := s.DisableRoot(ctx, "t1", id); err != nil || mem.root {
		t.Fatalf("DisableRoot = %v, root still %v", err, mem.root)
	}
	if on, err := s.RootEnabled(ctx, "t1", id); err != nil || !on {
		t.Errorf("RootEnabled after disable = %v, %v; want true", on, err)
	}
}

func TestSplitUserHost(t *testing.T) {
	tests := []struct{ in, name, host string }{
		{"alice", "alice", "%"},
		{"alice@%", "alice", "%"},
		{"alice@10.0.0.1", "alice", "10.0.0.1"},
		{"user@name@%", "user@name", "%"},
		{"bob@", "bob@", "%"},
		{"@%", "", "%"},
		{"", "", "%"},
	}
	for _, tt := range tests {
		if n, h := SplitUserHost(tt.in); n != tt.name || h != tt.host {
			t.Errorf("SplitUserHost(%q) = %q, %q; want %q, %q", tt.in, n, h, tt.name, tt.host)
		}
	}
}

// usersOnlyEngine has users but no databases, like Redis.
type usersOnlyEngine struct {
	bareEngine
	m *memEngine
}

func (u usersOnlyEngine) CreateUsers(ctx context.Context, c datastore.Conn, us []datastore.User) error {
	return u.m.CreateUsers(ctx, c, us)
}
func (u usersOnlyEngine) ListUsers(ctx context.Context, c datastore.Conn) ([]datastore.UserInfo, error) {
	return u.m.ListUsers(ctx, c)
}
func (u usersOnlyEngine) GetUser(ctx context.Context, c datastore.Conn, name, host string) (datastore.UserInfo, error) {
	return u.m.GetUser(ctx, c, name, host)
}
func (u usersOnlyEngine) UpdateUser(ctx context.Context, c datastore.Conn, name, host string, ch datastore.UserChange) error {
	return nil
}
func (u usersOnlyEngine) DeleteUser(ctx context.Context, c datastore.Conn, name, host string) error {
	return nil
}
func (u usersOnlyEngine) GrantAccess(ctx context.Context, c datastore.Conn, name, host string, dbs []string) error {
	return nil
}
func (u usersOnlyEngine) RevokeAccess(ctx context.Context, c datastore.Conn, name, host, db string) error {
	return nil
}

// TestCreateUsersWithoutDatabases is the regression test for users on an
// engine without databases (Redis): creating users that name no database
// must not need the databases capability; naming one is 501.
func TestCreateUsersWithoutDatabases(t *testing.T) {
	ctx := t.Context()
	s, mem, ids := newTestService(t, model.StatusActive)
	s.cfg.Engines["mem"] = usersOnlyEngine{m: mem}
	err := s.CreateUsers(ctx, "t1", ids["mem"], []datastore.User{{Name: "app", Password: "pw-123"}})
	if err != nil {
		t.Fatalf("CreateUsers without databases = %v, want nil", err)
	}
	if len(mem.users) != 1 {
		t.Errorf("engine has %d users, want 1", len(mem.users))
	}
	err = s.CreateUsers(ctx, "t1", ids["mem"], []datastore.User{{Name: "app2", Password: "pw-123", Databases: []string{"db"}}})
	if !fault.Is(err, fault.NotImplemented) {
		t.Errorf("CreateUsers naming a database = %v, want 501", err)
	}
}

// TestActionWaitsForFinishingTask: an action on an ACTIVE instance whose
// task the runner has not yet recorded done (the moment right after the
// task made it ACTIVE) waits for it instead of 422; with no wait, or on a
// status that does not allow the action, it is 422 at once.
func TestActionWaitsForFinishingTask(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		name   string
		status model.InstanceStatus
		wait   time.Duration
		finish bool // the runner records the task done at the first pause
		want   fault.Kind
	}{
		{"finishing task", model.StatusActive, 0, true, fault.Internal},
		{"task goes on, no wait", model.StatusActive, -1, false, fault.Unprocessable},
		{"status does not allow it", model.StatusBuild, 0, false, fault.Unprocessable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _, ids := newTestService(t, tt.status)
			id := ids["mem"]
			s.inline.wait = tt.wait
			now := time.Now()
			task := &model.Task{ID: "task-1", InstanceID: id, Kind: model.TaskCreate, State: model.TaskPending, Created: now, Updated: now}
			if _, err := s.st.StartAction(ctx, "t1", id, []model.InstanceStatus{tt.status}, tt.status, task, now); err != nil {
				t.Fatal(err)
			}
			if _, err := s.st.ClaimTask(ctx, "runner", now, time.Minute); err != nil {
				t.Fatal(err)
			}
			pauses := 0
			s.inline.poll = func() <-chan time.Time {
				pauses++
				switch {
				case tt.status != model.StatusActive:
					t.Errorf("paused %d times; the refusal needs no wait", pauses)
				case tt.finish:
					if err := s.st.FinishTask(ctx, "task-1", "runner", model.TaskDone, ""); err != nil {
						t.Error(err)
					}
				}
				c := make(chan time.Time, 1)
				c <- time.Now()
				return c
			}
			err := s.RestartInstance(ctx, "t1", id)
			if tt.want == fault.Internal {
				if err != nil {
					t.Fatalf("restart = %v, want accepted", err)
				}
				if in, err := s.st.GetInstance(ctx, "t1", id); err != nil || in.Status != model.StatusReboot {
					t.Errorf("after the restart: %+v, %v; want REBOOT", in, err)
				}
				return
			}
			if !fault.Is(err, tt.want) {
				t.Errorf("restart = %v, want %v", err, tt.want)
			}
		})
	}
}
