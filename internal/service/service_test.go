package service

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/fake"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
	"github.com/hoard-db/hoard/internal/task"
)

// fakeEngine is an engine that runs nothing; it records what it is asked.
type fakeEngine struct {
	mu      sync.Mutex
	pingErr error
	dbs     []datastore.Database
	users   []datastore.User
	boots   int
}

func (e *fakeEngine) Name() string               { return "fakedb" }
func (e *fakeEngine) Datastores() []string       { return []string{"mysql", "mariadb"} }
func (e *fakeEngine) DefaultPort() int           { return 3306 }
func (e *fakeEngine) AdminUser() string          { return "os_admin" }
func (e *fakeEngine) Process() datastore.Process { return nil }
func (e *fakeEngine) Discover(context.Context) ([]datastore.Version, error) {
	return []datastore.Version{{Name: "10.11", Version: "10.11.19"}}, nil
}
func (e *fakeEngine) Ping(context.Context, datastore.Conn) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pingErr
}
func (e *fakeEngine) setPing(err error) { e.mu.Lock(); e.pingErr = err; e.mu.Unlock() }
func (e *fakeEngine) Bootstrap(_ context.Context, c datastore.Conn) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.User != "os_admin" || len(c.Password) < 20 {
		return errors.New("bootstrap without hoard's admin credentials")
	}
	e.boots++
	return nil
}
func (e *fakeEngine) CreateDatabases(_ context.Context, _ datastore.Conn, dbs []datastore.Database) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dbs = append(e.dbs, dbs...)
	return nil
}
func (e *fakeEngine) ListDatabases(context.Context, datastore.Conn) ([]datastore.Database, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.dbs), nil
}
func (e *fakeEngine) DeleteDatabase(context.Context, datastore.Conn, string) error {
	return errors.New("fakeEngine: DeleteDatabase is not used")
}
func (e *fakeEngine) CreateUsers(_ context.Context, _ datastore.Conn, us []datastore.User) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users = append(e.users, us...)
	return nil
}

// tempStore opens an SQLite store and a sealing key in a directory of the
// test; the store closes when the test ends.
func tempStore(t *testing.T) (store.Store, *secret.Sealer) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	return st, sealer
}

type env struct {
	svc *Service
	st  store.Store
	drv *fake.Driver
	eng *fakeEngine
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, sealer := tempStore(t)
	drv := fake.New()
	eng := &fakeEngine{}
	runner := task.New(st, task.Config{
		Workers: 2, PollInterval: 10 * time.Millisecond, MaxAttempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	svc := New(Config{
		DefaultDatastore: "mysql",
		Store:            st, Driver: drv, Engines: map[string]datastore.Engine{"fakedb": eng}, Sealer: sealer,
		Notify: runner.Notify, Addresses: []string{"127.0.9.1", "127.0.9.2", "127.0.9.3"},
		MaxVolumeGB: 10, MaxInstances: 3, ReadyTimeout: 200 * time.Millisecond,
	})
	if err := svc.SeedCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range svc.Definitions() {
		runner.Register(d)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{svc: svc, st: st, drv: drv, eng: eng}
}

func (e *env) waitStatus(t *testing.T, id string, want model.InstanceStatus) *InstanceDetail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := e.svc.GetInstance(context.Background(), "", id)
		if err == nil && d.Status == want {
			if _, err := e.st.ActiveTask(context.Background(), id); errors.Is(err, store.ErrNotFound) {
				return d
			}
		}
		if time.Now().After(deadline) {
			st := model.InstanceStatus("?")
			if d != nil {
				st = d.Status
			}
			t.Fatalf("instance %s: status %s, want %s (err %v)", id, st, want, err)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func basicRequest() CreateInstanceRequest {
	return CreateInstanceRequest{
		Name: "db1", FlavorRef: "1", VolumeSize: 1,
		Databases: []datastore.Database{{Name: "shop"}},
		Users:     []datastore.User{{Name: "app", Host: "%", Password: "pw-1", Databases: []string{"shop"}}},
	}
}

func TestCreateToActive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != model.StatusBuild || d.Datastore != "mysql" || d.DatastoreVersion != "10.11" || d.Port != 3306 {
		t.Errorf("created %+v", d.Instance)
	}
	if bytes.Contains(d.AdminSecret, []byte("os_admin")) || len(d.AdminSecret) < 30 {
		t.Errorf("admin secret not sealed: %q", d.AdminSecret)
	}
	got := e.waitStatus(t, d.ID, model.StatusActive)
	if got.Address != "127.0.9.1" {
		t.Errorf("address = %q, want the pool's first", got.Address)
	}
	if got.VolumeUsedGB == nil || *got.VolumeUsedGB != 0.12 {
		t.Errorf("volume used = %v, want 0.12", got.VolumeUsedGB)
	}
	if !e.drv.Running(d.ID) || e.eng.boots != 1 {
		t.Errorf("running %v, bootstraps %d", e.drv.Running(d.ID), e.eng.boots)
	}
	if len(e.eng.dbs) != 1 || len(e.eng.users) != 1 || e.eng.users[0].Password != "pw-1" {
		t.Errorf("engine got dbs %v users %d", e.eng.dbs, len(e.eng.users))
	}
	// The task that carried the password is finished and its payload gone.
	if _, err := e.st.ActiveTask(ctx, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("active task after ACTIVE: %v", err)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		mod  func(*CreateInstanceRequest)
		want fault.Kind
	}{
		{"no name", func(r *CreateInstanceRequest) { r.Name = "" }, fault.Invalid},
		{"blank name", func(r *CreateInstanceRequest) { r.Name = "   " }, fault.Invalid},
		{"control characters in name", func(r *CreateInstanceRequest) { r.Name = "a\x00b\x1b[31m" }, fault.Invalid},
		{"bidi override in name", func(r *CreateInstanceRequest) { r.Name = "db\u202egpj.exe" }, fault.Invalid},
		{"C1 control in name", func(r *CreateInstanceRequest) { r.Name = "db\u009b2J" }, fault.Invalid},
		{"no volume", func(r *CreateInstanceRequest) { r.VolumeSize = 0 }, fault.Invalid},
		{"volume too big", func(r *CreateInstanceRequest) { r.VolumeSize = 11 }, fault.OverLimit},
		{"unknown flavor", func(r *CreateInstanceRequest) { r.FlavorRef = "99" }, fault.Invalid},
		{"flavor not a number", func(r *CreateInstanceRequest) { r.FlavorRef = "large" }, fault.Invalid},
		{"unknown datastore", func(r *CreateInstanceRequest) { r.DatastoreType = "oracle" }, fault.NotFound},
		{"unknown version", func(r *CreateInstanceRequest) { r.DatastoreVersion = "5.1" }, fault.Invalid},
		{"user db not listed", func(r *CreateInstanceRequest) { r.Users[0].Databases = []string{"other"} }, fault.Invalid},
		{"duplicate db", func(r *CreateInstanceRequest) { r.Databases = append(r.Databases, r.Databases[0]) }, fault.Invalid},
		{"duplicate user", func(r *CreateInstanceRequest) { r.Users = append(r.Users, r.Users[0]) }, fault.Invalid},
		{"reserved admin user", func(r *CreateInstanceRequest) { r.Users[0].Name = "os_admin" }, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := basicRequest()
			tt.mod(&r)
			_, err := e.svc.CreateInstance(ctx, "t1", r)
			if fault.KindOf(err) != tt.want || fault.Message(err) == "" {
				t.Errorf("CreateInstance = %v (kind %v), want kind %v with a message", err, fault.KindOf(err), tt.want)
			}
		})
	}
	// Case-insensitive datastore type and full-version names are accepted.
	r := basicRequest()
	r.DatastoreType, r.DatastoreVersion = "MySQL", "10.11.19"
	if _, err := e.svc.CreateInstance(ctx, "t1", r); err != nil {
		t.Errorf("create with type MySQL, version 10.11.19: %v", err)
	}
	list, _, err := e.svc.ListInstances(ctx, "t1", store.Page{Limit: 10})
	if err != nil || len(list) != 1 {
		t.Errorf("invalid creates left instances behind: %d, %v", len(list), err)
	}
}

func TestRenameValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a\x00b", "db\u202e", "db\x7f", "db\u2066x"} {
		if err := e.svc.RenameInstance(ctx, "t1", d.Instance.ID, name); fault.KindOf(err) != fault.Invalid {
			t.Errorf("RenameInstance(%q) = %v, want kind Invalid", name, err)
		}
	}
	if err := e.svc.RenameInstance(ctx, "t1", d.Instance.ID, "db-2 é"); err != nil {
		t.Errorf("RenameInstance(%q) = %v", "db-2 é", err)
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := e.svc.CreateInstance(ctx, "t1", basicRequest()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.CreateInstance(ctx, "t1", basicRequest()); fault.KindOf(err) != fault.OverLimit {
		t.Errorf("fourth create: %v, want OverLimit", err)
	}
	if _, err := e.svc.CreateInstance(ctx, "t2", basicRequest()); err != nil {
		t.Errorf("other tenant's create: %v", err)
	}
}

func TestRestartAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.eng.setPing(errors.New("not yet"))
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RestartInstance(ctx, "t1", d.ID); fault.KindOf(err) != fault.Unprocessable {
		t.Errorf("restart in BUILD: %v, want Unprocessable", err)
	}
	if err := e.svc.DeleteInstance(ctx, "t1", d.ID); fault.KindOf(err) != fault.Unprocessable {
		t.Errorf("delete in BUILD: %v, want Unprocessable", err)
	}
	e.eng.setPing(nil)
	e.waitStatus(t, d.ID, model.StatusActive)
	if err := e.svc.RestartInstance(ctx, "t2", d.ID); fault.KindOf(err) != fault.NotFound {
		t.Errorf("restart by another tenant: %v, want NotFound", err)
	}

	// Hold the restart in wait_ready to see REBOOT and a refused second one.
	e.eng.setPing(errors.New("restarting"))
	starts := e.drv.Starts[d.ID]
	if err := e.svc.RestartInstance(ctx, "t1", d.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.GetInstance(ctx, "t1", d.ID); got.Status != model.StatusReboot {
		t.Errorf("status after restart = %s, want REBOOT", got.Status)
	}
	if err := e.svc.RestartInstance(ctx, "t1", d.ID); fault.KindOf(err) != fault.Unprocessable {
		t.Errorf("second restart: %v, want Unprocessable", err)
	}
	e.eng.setPing(nil)
	e.waitStatus(t, d.ID, model.StatusActive)
	if e.drv.Starts[d.ID] != starts+1 {
		t.Errorf("engine starts %d → %d, want one more", starts, e.drv.Starts[d.ID])
	}

	if err := e.svc.DeleteInstance(ctx, "t1", d.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.svc.GetInstance(ctx, "t1", d.ID)
		if fault.KindOf(err) == fault.NotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance not gone after delete: %v", err)
		}
		<-time.After(5 * time.Millisecond)
	}
	if e.drv.Exists(d.ID) {
		t.Error("driver still has the deleted instance")
	}
	// Its address is free again.
	d2, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, d2.ID, model.StatusActive); got.Address != "127.0.9.1" {
		t.Errorf("address of the next instance = %s, want the freed 127.0.9.1", got.Address)
	}
}

func TestFailuresAreTruthful(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, d.ID, model.StatusActive)

	// The engine never answers after a restart: the instance must not stay
	// in REBOOT but end SHUTDOWN/BLOCKED with a fault.
	e.eng.setPing(errors.New("dead"))
	if err := e.svc.RestartInstance(ctx, "t1", d.ID); err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus(t, d.ID, model.StatusBlocked)
	if got.Fault == nil || got.Fault.Message == "" {
		t.Errorf("fault after failed restart = %+v", got.Fault)
	}
	// The driver reports the engine recovered: ACTIVE again.
	e.eng.setPing(nil)
	e.svc.Observe(driver.Event{InstanceID: d.ID, Kind: driver.EventRecovered})
	e.waitStatus(t, d.ID, model.StatusActive)

	// The engine dies: SHUTDOWN, then recovered: ACTIVE.
	e.svc.Observe(driver.Event{InstanceID: d.ID, Kind: driver.EventExited})
	e.waitStatus(t, d.ID, model.StatusShutdown)
	e.svc.Observe(driver.Event{InstanceID: d.ID, Kind: driver.EventRecovered})
	e.waitStatus(t, d.ID, model.StatusActive)

	// A create whose engine cannot start ends in ERROR with a fault, and
	// its engine is not left running.
	e.drv.Fail = func(op, id string) error {
		if op == "start" {
			return fake.ErrInjected
		}
		return nil
	}
	d2, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	got = e.waitStatus(t, d2.ID, model.StatusError)
	if got.Fault == nil || got.Fault.Message == "" {
		t.Errorf("fault after failed create = %+v", got.Fault)
	}
	if e.drv.Running(d2.ID) {
		t.Error("engine of the failed create is running")
	}
	// Deleting an ERROR instance works.
	e.drv.Fail = nil
	if err := e.svc.DeleteInstance(ctx, "t1", d2.ID); err != nil {
		t.Errorf("delete of ERROR instance: %v", err)
	}
}

func TestObserveNeverOverridesATask(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.eng.setPing(errors.New("booting"))
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Observe(driver.Event{InstanceID: d.ID, Kind: driver.EventExited})
	e.svc.Observe(driver.Event{InstanceID: d.ID, Kind: driver.EventRecovered})
	if got, _ := e.svc.GetInstance(ctx, "t1", d.ID); got.Status != model.StatusBuild {
		t.Errorf("status = %s after events during BUILD, want BUILD", got.Status)
	}
	e.eng.setPing(nil)
	e.waitStatus(t, d.ID, model.StatusActive)
}
