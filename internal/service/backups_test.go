package service

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/backup"
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

// backupEngine is fakeEngine with datastore.Backuper: a backup is a text
// line per backup in the chain; Restore writes the chain into the data dir.
type backupEngine struct {
	*fakeEngine
	mu       sync.Mutex
	block    chan struct{} // when set, Backup waits for it to close
	fail     error         // when set, Backup returns it
	restored []string
	repl     replState // replicas_test.go
}

func (e *backupEngine) Backup(ctx context.Context, _ datastore.Conn, spec datastore.Spec, work string, w io.Writer, parent *datastore.BackupRef) (map[string]string, error) {
	e.mu.Lock()
	block, fail := e.block, e.fail
	e.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if _, err := os.Stat(work); err != nil {
		return nil, errors.New("no work directory")
	}
	line := "full of " + spec.InstanceID
	if parent != nil {
		line = "incremental on " + parent.ID + " lsn " + parent.Meta["to_lsn"]
	}
	if _, err := io.WriteString(w, line+"\n"); err != nil {
		return nil, err
	}
	return map[string]string{"to_lsn": "42"}, nil
}

func (e *backupEngine) Restore(_ context.Context, spec datastore.Spec, _ string, chain []io.Reader) error {
	var all []string
	for _, r := range chain {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		all = append(all, strings.TrimSpace(string(b)))
	}
	e.mu.Lock()
	e.restored = all
	e.mu.Unlock()
	return os.WriteFile(filepath.Join(spec.DataDir, "restored"), []byte(strings.Join(all, "\n")), 0o600)
}

// fsDriver is fake.Driver with driver.Filesystem: data directories in a
// temporary directory.
type fsDriver struct {
	*fake.Driver
	root string
}

func (d *fsDriver) EngineSpec(s driver.Spec) datastore.Spec {
	return datastore.Spec{InstanceID: s.InstanceID, DataDir: filepath.Join(d.root, s.InstanceID)}
}

func (d *fsDriver) ProvisionFrom(ctx context.Context, s driver.Spec, fill func(context.Context, datastore.Spec) error) error {
	ds := d.EngineSpec(s)
	if err := os.MkdirAll(ds.DataDir, 0o700); err != nil {
		return err
	}
	if err := fill(ctx, ds); err != nil {
		return err
	}
	return d.Provision(ctx, s)
}

// clock is an injected, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type backupEnv struct {
	svc     *Service
	st      store.Store
	eng     *backupEngine
	storage *backup.Dir
	clk     *clock
	// done are the backups Config.OnBackup was told of.
	doneMu sync.Mutex
	done   []model.Backup
}

// waitObserved waits until OnBackup was told of backup id, and returns
// what it was told.
func (e *backupEnv) waitObserved(t *testing.T, id string) model.Backup {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.doneMu.Lock()
		for _, b := range e.done {
			if b.ID == id {
				e.doneMu.Unlock()
				return b
			}
		}
		e.doneMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("OnBackup not called for backup %s", id)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func newBackupEnv(t *testing.T, maxBackups int) *backupEnv {
	t.Helper()
	return newBackupEnvDriver(t, maxBackups, nil)
}

// newBackupEnvDriver is newBackupEnv with driver drv (nil: a fake driver
// with driver.Filesystem).
func newBackupEnvDriver(t *testing.T, maxBackups int, drv driver.Driver, opts ...func(*Config)) *backupEnv {
	t.Helper()
	ctx := context.Background()
	st, sealer := tempStore(t)
	dir := t.TempDir()
	eng := &backupEngine{fakeEngine: &fakeEngine{}}
	if drv == nil {
		drv = &fsDriver{Driver: fake.New(), root: filepath.Join(dir, "data")}
	}
	runner := task.New(st, task.Config{
		Workers: 2, PollInterval: 10 * time.Millisecond, MaxAttempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} // a Sunday
	storage, err := backup.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	e := &backupEnv{st: st, eng: eng, storage: storage, clk: clk}
	cfg := Config{
		OnBackup: func(b *model.Backup) {
			e.doneMu.Lock()
			e.done = append(e.done, *b)
			e.doneMu.Unlock()
		},
		DefaultDatastore: "mysql",
		Store:            st, Driver: drv, Engines: map[string]datastore.Engine{"fakedb": eng}, Sealer: sealer,
		Notify: runner.Notify, Addresses: []string{"127.0.9.1", "127.0.9.2", "127.0.9.3", "127.0.9.4"},
		MaxVolumeGB: 10, MaxInstances: 4, ReadyTimeout: 200 * time.Millisecond, Now: clk.Now,
		Backups: BackupConfig{Storage: storage, MaxBackups: maxBackups, WorkDir: filepath.Join(dir, "work")},
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc := New(cfg)
	if err := svc.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
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
	e.svc = svc
	return e
}

func (e *backupEnv) active(t *testing.T, req CreateInstanceRequest) string {
	t.Helper()
	d, err := e.svc.CreateInstance(context.Background(), "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, d.ID, model.StatusActive)
	return d.ID
}

func (e *backupEnv) waitBackup(t *testing.T, id string, want model.BackupStatus) *model.Backup {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := e.svc.GetBackup(context.Background(), "t1", id)
		if err == nil && b.Status == want {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("backup %s: %+v (%v), want %s", id, b, err, want)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if fault.KindOf(err) != k {
		t.Errorf("%s = %v (%v), want %v", what, err, fault.KindOf(err), k)
	}
}

func TestBackupAndRestoreChain(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())

	e.eng.mu.Lock()
	e.eng.block = make(chan struct{})
	e.eng.mu.Unlock()
	full, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "full", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	if full.Status != model.BackupNew {
		t.Errorf("new backup status %s, want NEW", full.Status)
	}
	if inst, _ := e.svc.GetInstance(ctx, "t1", id); inst.Status != model.StatusBackup {
		t.Errorf("instance status while backing up = %s, want BACKUP", inst.Status)
	}
	// While it runs: a second backup 422, a restore 409, a delete 422.
	_, err = e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "again", InstanceID: id})
	wantKind(t, "CreateBackup(busy)", err, fault.Unprocessable)
	req := basicRequest()
	req.Name, req.RestoreBackupID, req.Databases, req.Users = "r", full.ID, nil, nil
	_, err = e.svc.CreateInstance(ctx, "t1", req)
	wantKind(t, "restore(running backup)", err, fault.Conflict)
	wantKind(t, "DeleteBackup(running)", e.svc.DeleteBackup(ctx, "t1", full.ID), fault.Unprocessable)
	e.eng.mu.Lock()
	close(e.eng.block)
	e.eng.block = nil
	e.eng.mu.Unlock()
	full = e.waitBackup(t, full.ID, model.BackupCompleted)
	if full.Size == 0 || full.Checksum == "" || !strings.HasPrefix(full.Location, "file://") || full.Meta["to_lsn"] != "42" {
		t.Errorf("completed backup %+v", full)
	}
	if b := e.waitObserved(t, full.ID); b.Status != model.BackupCompleted || b.Size != full.Size || b.Datastore != full.Datastore {
		t.Errorf("OnBackup told of %+v, want the completed backup %+v", b, full)
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)

	inc, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "inc", InstanceID: id, ParentID: full.ID})
	if err != nil {
		t.Fatal(err)
	}
	inc = e.waitBackup(t, inc.ID, model.BackupCompleted)
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)

	// Unknown instance 404, unknown parent 404.
	_, err = e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "x", InstanceID: "nope"})
	wantKind(t, "CreateBackup(unknown instance)", err, fault.NotFound)
	_, err = e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "x", InstanceID: id, ParentID: "nope"})
	wantKind(t, "CreateBackup(unknown parent)", err, fault.NotFound)

	// Restore checks: unknown 404, volume smaller than the source 403.
	req.RestoreBackupID = "nope"
	_, err = e.svc.CreateInstance(ctx, "t1", req)
	wantKind(t, "restore(unknown)", err, fault.NotFound)
	req.RestoreBackupID, req.VolumeSize = inc.ID, 1
	full2, _ := e.svc.GetBackup(ctx, "t1", full.ID)
	if full2.VolumeSize > 1 {
		t.Fatalf("source volume %d", full2.VolumeSize)
	}
	d, err := e.svc.CreateInstance(ctx, "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, d.ID, model.StatusActive)
	e.eng.mu.Lock()
	got := strings.Join(e.eng.restored, "|")
	e.eng.mu.Unlock()
	if want := "full of " + id + "|incremental on " + full.ID + " lsn 42"; got != want {
		t.Errorf("restored chain %q, want %q", got, want)
	}
	if ri, _ := e.st.GetInstance(ctx, "", d.ID); string(ri.AdminSecret) != string(full.AdminSecret) {
		t.Error("restored instance did not inherit the admin secret of the backup")
	}

	// Lists: newest first, per instance, datastore filter.
	list, more, err := e.svc.ListBackups(ctx, "t1", "", 0, 1)
	if err != nil || len(list) != 1 || !more {
		t.Errorf("ListBackups page = %d, %v, %v", len(list), more, err)
	}
	list, _, _ = e.svc.ListBackups(ctx, "t1", "postgresql", 0, 10)
	if len(list) != 0 {
		t.Errorf("ListBackups(postgresql) = %d, want 0", len(list))
	}
	list, _, err = e.svc.ListInstanceBackups(ctx, "t1", id, 0, 10)
	if err != nil || len(list) != 2 {
		t.Errorf("ListInstanceBackups = %d, %v; want 2", len(list), err)
	}

	// Deleting the full deletes the incremental and both artifacts.
	if err := e.svc.DeleteBackup(ctx, "t1", full.ID); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{full.ID, inc.ID} {
		_, err := e.svc.GetBackup(ctx, "t1", b)
		wantKind(t, "GetBackup(deleted)", err, fault.NotFound)
		if _, err := e.storage.Stat(ctx, artifactKey(b, e.eng)); !errors.Is(err, backup.ErrNotFound) {
			t.Errorf("artifact of %s: %v, want gone", b, err)
		}
	}
}

func TestRestoreCorrupted(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.waitBackup(t, b.ID, model.BackupCompleted)
	if _, err := e.storage.Put(ctx, artifactKey(b.ID, e.eng), strings.NewReader("not the artifact")); err != nil {
		t.Fatal(err)
	}
	req := CreateInstanceRequest{Name: "r", FlavorRef: "1", VolumeSize: 1, RestoreBackupID: b.ID}
	d, err := e.svc.CreateInstance(ctx, "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	got := (&env{svc: e.svc, st: e.st}).waitStatus(t, d.ID, model.StatusError)
	if got.Fault == nil || !strings.Contains(got.Fault.Message, "checksum") {
		t.Errorf("fault = %+v, want the checksum message", got.Fault)
	}
	e.eng.mu.Lock()
	defer e.eng.mu.Unlock()
	if e.eng.restored != nil {
		t.Error("the engine restored a corrupted artifact")
	}
}

func TestBackupQuota(t *testing.T) {
	e := newBackupEnv(t, 1)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.waitBackup(t, b.ID, model.BackupCompleted)
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
	_, err = e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b2", InstanceID: id})
	wantKind(t, "CreateBackup(over quota)", err, fault.OverLimit)
	if !strings.Contains(fault.Message(err), "['backups']") {
		t.Errorf("quota message %q", fault.Message(err))
	}
}

// TestBackupFailsPermanently checks that a backup whose task fails for good
// ends FAILED with a fault, gives the instance back, and can be deleted
// (freeing its quota).
func TestBackupFailsPermanently(t *testing.T) {
	e := newBackupEnv(t, 1)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	e.eng.mu.Lock()
	e.eng.fail = errors.New("xtrabackup: exit status 1")
	e.eng.mu.Unlock()
	b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitBackup(t, b.ID, model.BackupFailed)
	if got.Fault == "" || strings.Contains(got.Fault, "xtrabackup") {
		t.Errorf("fault of the failed backup = %q, want a public message", got.Fault)
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
	if _, err := e.storage.Stat(ctx, artifactKey(b.ID, e.eng)); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("artifact of the failed backup: %v, want none", err)
	}
	if err := e.svc.DeleteBackup(ctx, "t1", b.ID); err != nil {
		t.Fatalf("DeleteBackup(failed) = %v, want nil", err)
	}
	_, err = e.svc.GetBackup(ctx, "t1", b.ID)
	wantKind(t, "GetBackup(deleted)", err, fault.NotFound)
	e.eng.mu.Lock()
	e.eng.fail = nil
	e.eng.mu.Unlock()
	b2, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b2", InstanceID: id})
	if err != nil {
		t.Fatalf("CreateBackup after deleting the failed one = %v, want the quota freed", err)
	}
	e.waitBackup(t, b2.ID, model.BackupCompleted)
}

// TestRecoverFailsStuckBackups checks that start-up marks FAILED the
// backups that an earlier hoard left BUILDING after their task failed,
// and leaves alone a backup whose task is still to run.
func TestRecoverFailsStuckBackups(t *testing.T) {
	ctx := context.Background()
	st, sealer := tempStore(t)
	storage, err := backup.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{DefaultDatastore: "mysql", Store: st, Driver: fake.New(), Sealer: sealer, Backups: BackupConfig{Storage: storage, WorkDir: t.TempDir()}})
	now := time.Now().UTC().Truncate(time.Second)
	start := func(inst, backupID, taskID string) {
		t.Helper()
		in := &model.Instance{ID: inst, TenantID: "t1", Name: inst, Status: model.StatusActive, FlavorID: 1,
			VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", Created: now, Updated: now}
		if err := st.CreateInstance(ctx, in, nil, nil); err != nil {
			t.Fatal(err)
		}
		payload, err := svc.sealJSON(backupPayload{BackupID: backupID})
		if err != nil {
			t.Fatal(err)
		}
		b := &model.Backup{ID: backupID, TenantID: "t1", Name: backupID, InstanceID: inst, Status: model.BackupBuilding,
			Datastore: "mysql", DatastoreVersion: "10.11", VolumeSize: 1, FlavorID: 1, Created: now, Updated: now}
		tk := &model.Task{ID: taskID, InstanceID: inst, Kind: model.TaskBackup, State: model.TaskPending, Payload: payload, Created: now, Updated: now}
		if err := st.StartBackup(ctx, b, backupStatuses, model.StatusBackup, tk, nil); err != nil {
			t.Fatal(err)
		}
	}
	start("i-stuck", "b-stuck", "t-stuck")
	claimed, err := st.ClaimTask(ctx, "old-hoard", now, time.Minute)
	if err != nil || claimed == nil || claimed.ID != "t-stuck" {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	if err := st.FinishTask(ctx, "t-stuck", "old-hoard", model.TaskFailed, "step backup: exit status 1"); err != nil {
		t.Fatal(err)
	}
	start("i-busy", "b-busy", "t-busy")
	if err := svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]model.BackupStatus{"b-stuck": model.BackupFailed, "b-busy": model.BackupBuilding} {
		b, err := svc.GetBackup(ctx, "t1", id)
		if err != nil || b.Status != want {
			t.Errorf("backup %s after Recover = %+v, %v; want %s", id, b, err, want)
		}
	}
	if err := svc.DeleteBackup(ctx, "t1", "b-stuck"); err != nil {
		t.Errorf("DeleteBackup(stuck backup marked failed) = %v, want nil", err)
	}
}

func TestNextRun(t *testing.T) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h, m int
		want time.Time
	}{
		{13, 0, base.Add(time.Hour)},
		{12, 0, base.AddDate(0, 0, 1)},
		{3, 30, time.Date(2025, 6, 2, 3, 30, 0, 0, time.UTC)},
	} {
		if got := nextRun(base, tc.h, tc.m); !got.Equal(tc.want) {
			t.Errorf("nextRun(%v, %d, %d) = %v, want %v", base, tc.h, tc.m, got, tc.want)
		}
	}
}

func TestSchedules(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	// Full on Sundays at 13:00, keep 2 fulls. The clock starts Sunday 12:00.
	dow, h, m, keep := 0, 13, 0, 2
	sc, err := e.svc.CreateSchedule(ctx, "t1", ScheduleRequest{InstanceID: id, DayOfWeek: &dow, Hour: &h, Minute: &m, Retention: &keep})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 1, 13, 0, 0, 0, time.UTC); !sc.NextRun.Equal(want) {
		t.Errorf("next run %v, want %v", sc.NextRun, want)
	}
	_, err = e.svc.CreateSchedule(ctx, "t1", ScheduleRequest{InstanceID: id, DayOfWeek: &dow, Hour: &h, Minute: &m})
	wantKind(t, "second schedule", err, fault.Unprocessable)

	run := func() []*model.Backup {
		t.Helper()
		if err := e.svc.RunSchedules(ctx); err != nil {
			t.Fatal(err)
		}
		list, _, err := e.svc.ListInstanceBackups(ctx, "t1", id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range list {
			if b.Status.Running() {
				e.waitBackup(t, b.ID, model.BackupCompleted)
				(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
			}
		}
		list, _, _ = e.svc.ListInstanceBackups(ctx, "t1", id, 0, 100)
		return list
	}
	// Not due yet.
	if list := run(); len(list) != 0 {
		t.Fatalf("backups before the schedule's time: %d", len(list))
	}
	// Sunday 13:00: a full backup.
	e.clk.Set(time.Date(2025, 6, 1, 13, 0, 30, 0, time.UTC))
	list := run()
	if len(list) != 1 || list[0].ParentID != "" || !list[0].Automated {
		t.Fatalf("after Sunday's run: %+v", list)
	}
	firstFull := list[0].ID
	// Running again at the same time does nothing: the next run is Monday.
	if list := run(); len(list) != 1 {
		t.Errorf("second run at the same time made %d backups", len(list)-1)
	}
	// Monday 13:00: an incremental on the full.
	e.clk.Set(time.Date(2025, 6, 2, 13, 0, 5, 0, time.UTC))
	list = run()
	if len(list) != 2 || list[0].ParentID != firstFull {
		t.Fatalf("after Monday's run: newest %+v, want an incremental on %s", list[0], firstFull)
	}
	// Two more Sundays: fulls; retention 2 prunes the first full and its
	// incremental.
	for _, day := range []int{8, 15} {
		e.clk.Set(time.Date(2025, 6, day, 13, 1, 0, 0, time.UTC))
		e.clk.Add(time.Second)
		run()
	}
	list = run() // prune sees the third completed full
	var fulls int
	for _, b := range list {
		if b.ID == firstFull || b.ParentID == firstFull {
			t.Errorf("backup %s of the pruned chain survived", b.ID)
		}
		if b.ParentID == "" {
			fulls++
		}
	}
	if fulls != 2 {
		t.Errorf("%d full backups kept, want 2", fulls)
	}
	got, err := e.svc.GetSchedule(ctx, "t1", sc.ID)
	if err != nil || got.LastScheduled.IsZero() {
		t.Errorf("schedule after runs: %+v, %v", got, err)
	}
	// Update and delete.
	h2 := 4
	up, err := e.svc.UpdateSchedule(ctx, "t1", sc.ID, ScheduleRequest{Hour: &h2})
	if err != nil || up.Hour != 4 || up.NextRun.Hour() != 4 {
		t.Errorf("UpdateSchedule = %+v, %v", up, err)
	}
	if err := e.svc.DeleteSchedule(ctx, "t1", sc.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.GetSchedule(ctx, "t1", sc.ID)
	wantKind(t, "GetSchedule(deleted)", err, fault.NotFound)
}

// TestRecoverCleansWorkDir checks that start-up removes the scratch
// directories of ended and unknown tasks only: replicas sharing a data
// directory share the work directory, and another one may be running an
// unfinished task in its directory.
func TestRecoverCleansWorkDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	newTask := func(id, inst string) {
		t.Helper()
		in := &model.Instance{ID: inst, TenantID: "p", Name: inst, Status: model.StatusBuild, FlavorID: 1,
			VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", Created: now, Updated: now}
		tk := &model.Task{ID: id, InstanceID: inst, Kind: model.TaskCreate, State: model.TaskPending, Created: now, Updated: now}
		if err := st.CreateInstance(ctx, in, tk, nil); err != nil {
			t.Fatal(err)
		}
	}
	newTask("t-ended", "i-1")
	claimed, err := st.ClaimTask(ctx, "me", now, time.Minute)
	if err != nil || claimed == nil || claimed.ID != "t-ended" {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	if err := st.FinishTask(ctx, "t-ended", "me", model.TaskDone, ""); err != nil {
		t.Fatal(err)
	}
	newTask("t-pending", "i-2")
	newTask("t-running", "i-3")
	if claimed, err := st.ClaimTask(ctx, "other", now, time.Minute); err != nil || claimed == nil || claimed.ID != "t-pending" {
		t.Fatalf("claim = %v, %v", claimed, err)
	}

	work := filepath.Join(dir, "work")
	for _, name := range []string{"t-ended", "t-pending", "t-running", "t-unknown"} {
		if err := os.MkdirAll(filepath.Join(work, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	storage, err := backup.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{DefaultDatastore: "mysql", Store: st, Driver: fake.New(), Sealer: sealer, Backups: BackupConfig{Storage: storage, WorkDir: work}})
	if err := svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	for name, keep := range map[string]bool{"t-ended": false, "t-pending": true, "t-running": true, "t-unknown": false} {
		_, err := os.Stat(filepath.Join(work, name))
		if kept := err == nil; kept != keep {
			t.Errorf("work dir of %s kept = %v, want %v (stat: %v)", name, kept, keep, err)
		}
	}
}

// TestScheduleRunsOnce checks that a due schedule makes one backup however
// many schedulers (replicas sharing the store) run it at once, and that a
// run postponed because the instance is busy stays due.
func TestScheduleRunsOnce(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	id := e.active(t, basicRequest())
	dow, h, m := 7, 13, 0 // every day at 13:00, full
	sc, err := e.svc.CreateSchedule(ctx, "t1", ScheduleRequest{InstanceID: id, DayOfWeek: &dow, Hour: &h, Minute: &m})
	if err != nil {
		t.Fatal(err)
	}
	scID := sc.ID
	count := func() int { t.Helper(); return len(mustList(t, e, id)) }

	// Busy at 13:00 (a backup by hand runs): postponed, still due.
	e.eng.mu.Lock()
	e.eng.block = make(chan struct{})
	e.eng.mu.Unlock()
	manual, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "by hand", InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Set(time.Date(2025, 6, 1, 13, 0, 30, 0, time.UTC))
	if err := e.svc.RunSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d backups after a run on a busy instance, want 1 (the manual one)", n)
	}
	e.eng.mu.Lock()
	close(e.eng.block)
	e.eng.block = nil
	e.eng.mu.Unlock()
	e.waitBackup(t, manual.ID, model.BackupCompleted)
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)

	// Another replica listed the schedule while it was due, and runs it
	// only after this one's backup has completed: it must not make a
	// second one.
	e.clk.Set(time.Date(2025, 6, 1, 13, 1, 0, 0, time.UTC))
	stale, err := e.st.GetSchedule(ctx, "", scID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RunSchedules(ctx); err != nil {
		t.Fatal(err)
	}
	for _, b := range mustList(t, e, id) {
		if b.Status.Running() {
			e.waitBackup(t, b.ID, model.BackupCompleted)
		}
	}
	(&env{svc: e.svc, st: e.st}).waitStatus(t, id, model.StatusActive)
	if err := e.svc.runSchedule(ctx, stale, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d backups after a stale second run, want 2 (the manual one and one scheduled)", n)
	}

	// Four schedulers at once, the next day: exactly one more backup.
	e.clk.Set(time.Date(2025, 6, 2, 13, 0, 30, 0, time.UTC))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = e.svc.RunSchedules(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 3 {
		t.Fatalf("%d backups after concurrent runs, want 3", n)
	}
}

// mustList lists instance id's backups (tenant t1).
func mustList(t *testing.T, e *backupEnv, id string) []*model.Backup {
	t.Helper()
	list, _, err := e.svc.ListInstanceBackups(context.Background(), "t1", id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestBackupsNeedDriverFiles checks that with a driver whose engines'
// files hoard cannot read (the Kubernetes driver), backups and schedules
// are refused with 501 and nothing is recorded.
func TestBackupsNeedDriverFiles(t *testing.T) {
	e := newBackupEnvDriver(t, 0, fake.New())
	ctx := context.Background()
	id := e.active(t, basicRequest())
	_, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: id})
	wantKind(t, "CreateBackup", err, fault.NotImplemented)
	dow, h, m := 7, 3, 0
	_, err = e.svc.CreateSchedule(ctx, "t1", ScheduleRequest{InstanceID: id, DayOfWeek: &dow, Hour: &h, Minute: &m})
	wantKind(t, "CreateSchedule", err, fault.NotImplemented)
	if n := len(mustList(t, e, id)); n != 0 {
		t.Errorf("%d backups recorded", n)
	}
	if list, err := e.svc.ListSchedules(ctx, "t1"); err != nil || len(list) != 0 {
		t.Errorf("schedules = %v, %v; want none", list, err)
	}
}
