package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func newBackup(tenant, id, instance string, created time.Time) *model.Backup {
	return &model.Backup{
		ID: id, TenantID: tenant, Name: "b-" + id, InstanceID: instance, Status: model.BackupNew,
		Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "dv-1", VolumeSize: 2, FlavorID: 1,
		AdminSecret: []byte{1, 2, 3}, Type: "InnoBackupEx", Created: created, Updated: created,
	}
}

// testBackups checks store.Backups on stores that implement it.
func testBackups(t *testing.T, s store.Store) {
	var bs store.Backups = s
	ctx := t.Context()
	inst := newInstance("tenant-a", "inst-b", model.StatusActive)
	mustCreate(t, s, inst, nil)

	b1 := newBackup("tenant-a", "bk-1", inst.ID, t0)
	task := newTask("task-b1", inst.ID, model.TaskBackup, t0)
	noErr(t, "StartBackup", bs.StartBackup(ctx, b1, []model.InstanceStatus{model.StatusActive}, model.StatusBackup, task, nil))
	got, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	if got.Status != model.StatusBackup {
		t.Errorf("instance status after StartBackup = %s, want BACKUP", got.Status)
	}
	// The gate: busy instance (status and unfinished task).
	b2 := newBackup("tenant-a", "bk-2", inst.ID, t0.Add(time.Minute))
	err = bs.StartBackup(ctx, b2, []model.InstanceStatus{model.StatusActive, model.StatusBackup}, model.StatusBackup, newTask("task-b2", inst.ID, model.TaskBackup, t0), nil)
	var se *store.StateError
	if !errors.As(err, &se) {
		t.Errorf("StartBackup(busy) = %v, want *StateError", err)
	}
	wantErr(t, "StartBackup(other tenant)", bs.StartBackup(ctx, newBackup("tenant-b", "bk-x", inst.ID, t0),
		[]model.InstanceStatus{model.StatusBackup}, model.StatusBackup, newTask("task-bx", inst.ID, model.TaskBackup, t0), nil), store.ErrNotFound)
	if _, err := bs.GetBackup(ctx, "", "bk-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused backup was stored: %v", err)
	}

	gb, err := bs.GetBackup(ctx, "tenant-a", "bk-1")
	noErr(t, "GetBackup", err)
	if d := cmp.Diff(b1, gb, cmpOpts, cmpopts.IgnoreFields(model.Backup{}, "Updated")); d != "" {
		t.Errorf("GetBackup mismatch (-want +got):\n%s", d)
	}
	checkUTC(t, "backup", gb.Created, gb.Updated)
	_, err = bs.GetBackup(ctx, "tenant-b", "bk-1")
	wantErr(t, "GetBackup(other tenant)", err, store.ErrNotFound)

	up, err := bs.UpdateBackup(ctx, "bk-1", func(b *model.Backup) error {
		b.Status = model.BackupCompleted
		b.Size = 12345
		b.Location = "file:///x"
		b.Checksum = "abc"
		b.Meta = map[string]string{"to_lsn": "42"}
		b.Type = "PgBaseBackup"
		return nil
	})
	noErr(t, "UpdateBackup", err)
	if up.Type != "PgBaseBackup" {
		t.Errorf("UpdateBackup returned type %q, want PgBaseBackup", up.Type)
	}
	gb, err = bs.GetBackup(ctx, "", "bk-1")
	noErr(t, "GetBackup", err)
	if d := cmp.Diff(up, gb, cmpOpts); d != "" {
		t.Errorf("GetBackup after update mismatch (-want +got):\n%s", d)
	}
	_, err = bs.UpdateBackup(ctx, "nope", func(*model.Backup) error { return nil })
	wantErr(t, "UpdateBackup(missing)", err, store.ErrNotFound)

	// Finish the task so that more backups can start; list order and filters.
	noErr(t, "Finish", finishAny(t, s, "task-b1"))
	for i, id := range []string{"bk-3", "bk-4"} {
		if _, err := s.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error { i.Status = model.StatusActive; return nil }); err != nil {
			t.Fatal(err)
		}
		b := newBackup("tenant-a", id, inst.ID, t0.Add(time.Duration(i+1)*time.Hour))
		if id == "bk-4" {
			b.Datastore, b.DatastoreVersionID = "postgresql", "dv-2"
		}
		noErr(t, "StartBackup "+id, bs.StartBackup(ctx, b, []model.InstanceStatus{model.StatusActive}, model.StatusBackup, newTask("task-"+id, inst.ID, model.TaskBackup, t0), nil))
		noErr(t, "Finish", finishAny(t, s, "task-"+id))
	}
	ids := func(list []*model.Backup) []string {
		var out []string
		for _, b := range list {
			out = append(out, b.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		f             store.BackupFilter
		offset, limit int
		want          []string
	}{
		{"all", store.BackupFilter{TenantID: "tenant-a"}, 0, 0, []string{"bk-4", "bk-3", "bk-1"}},
		{"page", store.BackupFilter{TenantID: "tenant-a"}, 1, 1, []string{"bk-3"}},
		{"past end", store.BackupFilter{TenantID: "tenant-a"}, 5, 2, nil},
		{"datastore name", store.BackupFilter{TenantID: "tenant-a", Datastore: "mysql"}, 0, 0, []string{"bk-3", "bk-1"}},
		{"datastore version id", store.BackupFilter{Datastore: "dv-2"}, 0, 0, []string{"bk-4"}},
		{"instance", store.BackupFilter{InstanceID: "other"}, 0, 0, nil},
		{"tenant", store.BackupFilter{TenantID: "tenant-b"}, 0, 0, nil},
	} {
		list, err := bs.ListBackups(ctx, tc.f, tc.offset, tc.limit)
		noErr(t, "ListBackups "+tc.name, err)
		if d := cmp.Diff(tc.want, ids(list), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("ListBackups(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
	n, err := bs.CountBackups(ctx, "tenant-a")
	noErr(t, "CountBackups", err)
	if n != 3 {
		t.Errorf("CountBackups = %d, want 3", n)
	}
	// Backups outlive their instance.
	noErr(t, "DeleteInstance", s.DeleteInstance(ctx, inst.ID))
	_, err = bs.GetBackup(ctx, "", "bk-1")
	noErr(t, "GetBackup after instance delete", err)
	noErr(t, "DeleteBackup", bs.DeleteBackup(ctx, "bk-1"))
	wantErr(t, "DeleteBackup again", bs.DeleteBackup(ctx, "bk-1"), store.ErrNotFound)
}

// finishAny claims tasks until it holds id, finishes it and releases the
// others.
func finishAny(t *testing.T, s store.Store, id string) error {
	t.Helper()
	ctx := t.Context()
	var others []string
	defer func() {
		for _, o := range others {
			_ = s.ReleaseTask(ctx, o, "storetest")
		}
	}()
	for {
		tk, err := s.ClaimTask(ctx, "storetest", t0.Add(48*time.Hour), time.Hour)
		if err != nil {
			return err
		}
		if tk.ID == id {
			return s.FinishTask(ctx, id, "storetest", model.TaskDone, "")
		}
		others = append(others, tk.ID)
	}
}

// testSchedules checks store.Schedules on stores that implement it.
func testSchedules(t *testing.T, s store.Store) {
	var ss store.Schedules = s
	ctx := t.Context()
	c := &model.Schedule{ID: "sc-1", TenantID: "tenant-a", InstanceID: "inst-1", DayOfWeek: 0, Hour: 3, Minute: 30,
		Retention: 2, NextRun: t0.Add(time.Hour), Created: t0, Updated: t0}
	noErr(t, "CreateSchedule", ss.CreateSchedule(ctx, c))
	dup := *c
	dup.ID = "sc-2"
	wantErr(t, "CreateSchedule(same instance)", ss.CreateSchedule(ctx, &dup), store.ErrExists)
	got, err := ss.GetSchedule(ctx, "tenant-a", "sc-1")
	noErr(t, "GetSchedule", err)
	if d := cmp.Diff(c, got, cmpOpts); d != "" {
		t.Errorf("GetSchedule mismatch (-want +got):\n%s", d)
	}
	checkUTC(t, "schedule", got.NextRun, got.Created)
	_, err = ss.GetSchedule(ctx, "tenant-b", "sc-1")
	wantErr(t, "GetSchedule(other tenant)", err, store.ErrNotFound)
	up, err := ss.UpdateSchedule(ctx, "sc-1", func(c *model.Schedule) error {
		c.Hour, c.LastScheduled = 4, t0.Add(2*time.Hour)
		return nil
	})
	noErr(t, "UpdateSchedule", err)
	got, err = ss.GetSchedule(ctx, "", "sc-1")
	noErr(t, "GetSchedule", err)
	if d := cmp.Diff(up, got, cmpOpts); d != "" || got.Hour != 4 {
		t.Errorf("GetSchedule after update mismatch (-want +got):\n%s", d)
	}
	list, err := ss.ListSchedules(ctx, "tenant-a")
	noErr(t, "ListSchedules", err)
	if len(list) != 1 {
		t.Errorf("ListSchedules(tenant-a) = %d schedules, want 1", len(list))
	}
	list, err = ss.ListSchedules(ctx, "tenant-b")
	noErr(t, "ListSchedules", err)
	if len(list) != 0 {
		t.Errorf("ListSchedules(tenant-b) = %d schedules, want 0", len(list))
	}
	noErr(t, "DeleteSchedule", ss.DeleteSchedule(ctx, "sc-1"))
	wantErr(t, "DeleteSchedule again", ss.DeleteSchedule(ctx, "sc-1"), store.ErrNotFound)
}

// testUpdateConcurrent checks that UpdateSchedule is a read-modify-write
// without lost updates: the schedulers of replicas sharing a store update
// the same schedule at once.
func testUpdateConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := &model.Schedule{ID: "sc-1", TenantID: "tenant-a", InstanceID: "inst-1", Hour: 3, Minute: 30,
		Retention: 0, NextRun: t0.Add(time.Hour), Created: t0, Updated: t0}
	noErr(t, "CreateSchedule", s.CreateSchedule(ctx, c))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.UpdateSchedule(ctx, "sc-1", func(c *model.Schedule) error {
				c.Retention++
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		noErr(t, "UpdateSchedule", err)
	}
	got, err := s.GetSchedule(ctx, "", "sc-1")
	noErr(t, "GetSchedule", err)
	if got.Retention != n {
		t.Errorf("after %d concurrent increments retention = %d (lost updates)", n, got.Retention)
	}
}
