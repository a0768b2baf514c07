package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// The methods tested here read and write records verbatim: hoard migrate
// copies a whole data set with them, so every field must survive the round
// trip, times included (at second precision, in UTC).

// testTaskCopy checks store.TaskCopy: InsertTask keeps every field of tasks
// in every state, AllTasks returns them all in claim order, and the
// uniqueness rules still hold.
func testTaskCopy(t *testing.T, s store.Store) {
	ctx := t.Context()
	all, err := s.AllTasks(ctx)
	noErr(t, "AllTasks(empty)", err)
	if len(all) != 0 {
		t.Fatalf("AllTasks(empty store) = %d tasks, want none", len(all))
	}

	mustCreate(t, s, newInstance("tenant-a", "inst-tc1", model.StatusBuild),
		newTask("tc-create", "inst-tc1", model.TaskCreate, t0.Add(2*time.Minute)))
	mustCreate(t, s, newInstance("tenant-a", "inst-tc2", model.StatusActive), nil)

	done := &model.Task{
		ID: "tc-done", InstanceID: "inst-tc2", Kind: model.TaskCreate, State: model.TaskDone,
		Step: 7, StepName: "(end)", Attempts: 2, Created: t0, Updated: t0.Add(3 * time.Minute),
	}
	failed := &model.Task{
		ID: "tc-failed", InstanceID: "inst-tc2", Kind: model.TaskRestart, State: model.TaskFailed,
		Step: 1, Attempts: 5, Error: "engine did not answer", Created: t0.Add(time.Minute), Updated: t0.Add(4 * time.Minute),
	}
	// A running task with an owner and a lease, of an instance that holds
	// no other unfinished task.
	running := &model.Task{
		ID: "tc-running", InstanceID: "inst-tc2", Kind: model.TaskRestart, State: model.TaskRunning,
		Step: 2, StepName: "wait_ready", Owner: "old-node", LeaseUntil: t0.Add(time.Hour).In(zone), Attempts: 3,
		Payload: []byte{0, 1, 2, 0xff}, Created: t0.Add(3 * time.Minute), Updated: t0.Add(5 * time.Minute),
	}
	// The delete task of an instance already removed: tasks outlive their
	// instance, so no instance is needed.
	orphan := newTask("tc-orphan", "inst-gone", model.TaskDelete, t0.Add(2*time.Minute))
	orphan.Step, orphan.Attempts = 4, 1
	for _, task := range []*model.Task{done, failed, running, orphan} {
		noErr(t, "InsertTask("+task.ID+")", s.InsertTask(ctx, task))
	}

	want := []*model.Task{done, failed,
		newTask("tc-create", "inst-tc1", model.TaskCreate, t0.Add(2*time.Minute)), orphan, running}
	all, err = s.AllTasks(ctx)
	noErr(t, "AllTasks", err)
	// Times at second precision: the tie of tc-create and tc-orphan on
	// Created is broken by insertion order.
	diff(t, "AllTasks", all, want)
	for _, task := range all {
		checkTaskUTC(t, task)
	}
	got, err := s.GetTask(ctx, "tc-running")
	noErr(t, "GetTask(tc-running)", err)
	diff(t, "GetTask(inserted running task)", got, running)

	wantErr(t, "InsertTask(duplicate id)", s.InsertTask(ctx, &model.Task{
		ID: "tc-done", InstanceID: "inst-tc1", Kind: model.TaskCreate, State: model.TaskDone, Created: t0,
	}), store.ErrExists)
	wantErr(t, "InsertTask(second unfinished task)", s.InsertTask(ctx,
		newTask("tc-second", "inst-tc2", model.TaskRestart, t0)), store.ErrExists)

	// The inserted running task's lease is honoured: before it ends only
	// the pending tasks are claimable; after it, the running one is too.
	seen := map[string]bool{}
	for {
		task, err := s.ClaimTask(ctx, "new-node", t0.Add(30*time.Minute), 10*time.Hour)
		if err != nil {
			wantErr(t, "ClaimTask", err, store.ErrNotFound)
			break
		}
		seen[task.ID] = true
	}
	if d := cmp.Diff(map[string]bool{"tc-create": true, "tc-orphan": true}, seen); d != "" {
		t.Errorf("claimed before the inserted lease ended (-want +got):\n%s", d)
	}
	task, err := s.ClaimTask(ctx, "new-node", t0.Add(2*time.Hour), time.Minute)
	noErr(t, "ClaimTask(after the lease)", err)
	if task.ID != "tc-running" || task.Step != 2 || task.StepName != "wait_ready" || task.Attempts != 4 {
		t.Errorf("ClaimTask after the lease = %s step %d %q attempts %d, want tc-running step 2 wait_ready attempts 4",
			task.ID, task.Step, task.StepName, task.Attempts)
	}
}

// testRootHistoryList checks store.RootHistory.ListRootHistory: every
// record with its user and time, ordered by instance id.
func testRootHistoryList(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.ListRootHistory(ctx)
	noErr(t, "ListRootHistory(empty)", err)
	if len(list) != 0 {
		t.Fatalf("ListRootHistory(empty store) = %v", list)
	}
	for _, id := range []string{"inst-r2", "inst-r1", "inst-r3"} {
		mustCreate(t, s, newInstance("tenant-a", id, model.StatusActive), nil)
	}
	noErr(t, "RecordRootEnabled", s.RecordRootEnabled(ctx, "inst-r2", "user-2", t0.Add(time.Hour).In(zone)))
	noErr(t, "RecordRootEnabled", s.RecordRootEnabled(ctx, "inst-r1", "", t0))
	list, err = s.ListRootHistory(ctx)
	noErr(t, "ListRootHistory", err)
	diff(t, "ListRootHistory", list, []store.RootRecord{
		{InstanceID: "inst-r1", Enabled: t0},
		{InstanceID: "inst-r2", UserID: "user-2", Enabled: t0.Add(time.Hour)},
	})
	for _, r := range list {
		checkUTC(t, "root record "+r.InstanceID, r.Enabled)
	}
}

// testParametersCopy checks ListParameters and InsertParameters.
func testParametersCopy(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.ListParameters(ctx)
	noErr(t, "ListParameters(empty)", err)
	if len(list) != 0 {
		t.Fatalf("ListParameters(empty store) = %v", list)
	}
	noErr(t, "PutParameters", s.PutParameters(ctx, "v-b", []byte(`[{"name":"b","min":1}]`)))
	in := store.ParameterSet{VersionID: "v-a", Params: []byte(`[{"name": "a", "type": "integer"}]`), Updated: t0.In(zone)}
	noErr(t, "InsertParameters", s.InsertParameters(ctx, in))
	wantErr(t, "InsertParameters(duplicate)", s.InsertParameters(ctx, store.ParameterSet{VersionID: "v-b", Params: []byte(`[]`)}), store.ErrExists)

	list, err = s.ListParameters(ctx)
	noErr(t, "ListParameters", err)
	if len(list) != 2 || list[0].VersionID != "v-a" || list[1].VersionID != "v-b" {
		t.Fatalf("ListParameters = %v, want v-a then v-b", list)
	}
	if !sameSecond(list[0].Updated, t0) || list[1].Updated.IsZero() {
		t.Errorf("ListParameters times = %v, %v; want %v kept and a time set by PutParameters", list[0].Updated, list[1].Updated, t0)
	}
	checkUTC(t, "parameters", list[0].Updated, list[1].Updated)
	for i, want := range []string{string(in.Params), `[{"name":"b","min":1}]`} {
		if !sameJSON(t, list[i].Params, []byte(want)) {
			t.Errorf("ListParameters[%d].Params = %s, want %s", i, list[i].Params, want)
		}
	}
	p, err := s.GetParameters(ctx, "v-a")
	noErr(t, "GetParameters(inserted)", err)
	if !sameJSON(t, p, in.Params) {
		t.Errorf("GetParameters(inserted) = %s, want %s", p, in.Params)
	}
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("invalid JSON %q: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Errorf("invalid JSON %q: %v", b, err)
		return false
	}
	return cmp.Equal(va, vb)
}

// testInsertBackup checks store.Backups.InsertBackup: no state gate, no
// task, every field kept.
func testInsertBackup(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := newInstance("tenant-a", "inst-ib", model.StatusActive)
	mustCreate(t, s, inst, nil)
	mk := func(id string, i int) *model.Backup {
		return &model.Backup{
			ID: id, TenantID: "tenant-a", Name: "nightly " + id, Description: "kept", InstanceID: inst.ID,
			ParentID: "", Status: model.BackupCompleted, Automated: i%2 == 1,
			Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "dv-1", VolumeSize: 3, FlavorID: 2,
			Size: 1 << 40, Location: fmt.Sprintf("/var/lib/hoard/backups/%s.xb.zst", id), Checksum: "sha256:abc",
			Meta: map[string]string{"gtid": "0-1-42"}, AdminSecret: []byte{9, 8, 7, byte(i)}, Type: "InnoBackupEx",
			Created: t0.Add(time.Duration(i) * time.Minute).In(zone), Updated: t0.Add(time.Hour),
		}
	}
	full := mk("ib-1", 0)
	incr := mk("ib-2", 1)
	incr.ParentID, incr.Meta, incr.Status, incr.Type = "ib-1", nil, model.BackupFailed, "InnoBackupExIncremental"
	incr.Fault = "disk full"
	// The backup of an instance already removed: backups outlive it.
	gone := mk("ib-3", 2)
	// A backup recorded before types were: copied without one.
	gone.InstanceID, gone.Status, gone.Type = "inst-removed", model.BackupDeleteFailed, ""
	for _, b := range []*model.Backup{full, incr, gone} {
		noErr(t, "InsertBackup("+b.ID+")", s.InsertBackup(ctx, b))
	}
	wantErr(t, "InsertBackup(duplicate)", s.InsertBackup(ctx, mk("ib-1", 5)), store.ErrExists)

	for _, want := range []*model.Backup{full, incr, gone} {
		got, err := s.GetBackup(ctx, "", want.ID)
		noErr(t, "GetBackup("+want.ID+")", err)
		diff(t, "GetBackup("+want.ID+")", got, want)
		checkUTC(t, "backup "+want.ID, got.Created, got.Updated)
	}
	list, err := s.ListBackups(ctx, store.BackupFilter{}, 0, 0)
	noErr(t, "ListBackups", err)
	diff(t, "ListBackups", list, []*model.Backup{gone, incr, full})

	// No gate: the instance is untouched and has no task.
	got, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	if got.Status != model.StatusActive {
		t.Errorf("instance status after InsertBackup = %s, want ACTIVE", got.Status)
	}
	_, err = s.ActiveTask(ctx, inst.ID)
	wantErr(t, "ActiveTask after InsertBackup", err, store.ErrNotFound)
}

// testSettingsCopy checks store.SettingsCopy.AllSettings.
func testSettingsCopy(t *testing.T, s store.Store) {
	ctx := t.Context()
	all, err := s.AllSettings(ctx)
	noErr(t, "AllSettings(empty)", err)
	if all == nil || len(all) != 0 {
		t.Fatalf("AllSettings(empty store) = %#v, want an empty map", all)
	}
	for k, v := range map[string]string{"node": "host-a", "empty": ""} {
		_, err := s.InitSetting(ctx, k, v)
		noErr(t, "InitSetting("+k+")", err)
	}
	all, err = s.AllSettings(ctx)
	noErr(t, "AllSettings", err)
	diff(t, "AllSettings", all, map[string]string{"node": "host-a", "empty": ""})
}
