package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func testCreateGetInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := newInstance("tenant-a", "inst-1", model.StatusBuild)
	inst.Address = "10.0.0.1"
	inst.Fault = &model.Fault{Message: "boom", Details: "trace", Created: t0.Add(time.Hour)}
	task := newTask("task-1", inst.ID, model.TaskCreate, t0)
	want := *inst
	mustCreate(t, s, inst, task)

	bare := &model.Instance{ID: "inst-2", TenantID: "tenant-a", Name: "bare", Status: model.StatusActive,
		Created: t0, Updated: t0}
	wantBare := *bare
	mustCreate(t, s, bare, nil)

	for _, tenant := range []string{"tenant-a", ""} {
		got, err := s.GetInstance(ctx, tenant, inst.ID)
		noErr(t, "GetInstance", err)
		diff(t, fmt.Sprintf("GetInstance(%q, %s)", tenant, inst.ID), got, &want)
		checkInstanceUTC(t, got)
	}
	got, err := s.GetInstance(ctx, "tenant-a", bare.ID)
	noErr(t, "GetInstance", err)
	diff(t, "GetInstance(bare)", got, &wantBare)
	if got.Fault != nil || got.Address != "" {
		t.Errorf("GetInstance(bare): Fault = %v, Address = %q, want nil and empty", got.Fault, got.Address)
	}

	_, err = s.GetInstance(ctx, "tenant-b", inst.ID)
	wantErr(t, "GetInstance(other tenant)", err, store.ErrNotFound)
	_, err = s.GetInstance(ctx, "", "no-such-instance")
	wantErr(t, "GetInstance(missing)", err, store.ErrNotFound)

	dup := newInstance("tenant-b", inst.ID, model.StatusBuild)
	wantErr(t, "CreateInstance(duplicate id)", s.CreateInstance(ctx, dup, nil, nil), store.ErrExists)

	gotTask, err := s.GetTask(ctx, task.ID)
	noErr(t, "GetTask", err)
	diff(t, "GetTask", gotTask, task)
	checkTaskUTC(t, gotTask)
	active, err := s.ActiveTask(ctx, inst.ID)
	noErr(t, "ActiveTask", err)
	if active.ID != task.ID {
		t.Errorf("ActiveTask(%s).ID = %s, want %s", inst.ID, active.ID, task.ID)
	}
	_, err = s.ActiveTask(ctx, bare.ID)
	wantErr(t, "ActiveTask(no task)", err, store.ErrNotFound)
	_, err = s.GetTask(ctx, "no-such-task")
	wantErr(t, "GetTask(missing)", err, store.ErrNotFound)
}

func testListInstances(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created in an order that is not the id order.
	var wantA []string
	for _, i := range []int{7, 3, 24, 0, 11, 19, 5, 1, 22, 9, 14, 2, 17, 8, 20, 4, 13, 23, 6, 16, 10, 21, 12, 18, 15} {
		inst := newInstance("tenant-a", fmt.Sprintf("a-%02d", i), model.StatusActive)
		// Summaries must show what differs from instance to instance.
		if i%3 == 0 {
			inst.Address = fmt.Sprintf("10.0.0.%d", i)
		}
		if i%4 == 0 {
			inst.Status, inst.FlavorID, inst.VolumeSize = model.StatusError, i, 100+i
			inst.Datastore, inst.DatastoreVersion, inst.Name = "postgresql", "15", fmt.Sprintf("ü \"%d\" 3:x", i)
			inst.Fault = &model.Fault{Message: "boom", Details: "trace", Created: t0}
		}
		mustCreate(t, s, inst, nil)
	}
	for i := range 25 {
		wantA = append(wantA, fmt.Sprintf("a-%02d", i))
	}
	for i := range 5 {
		mustCreate(t, s, newInstance("tenant-b", fmt.Sprintf("b-%02d", i), model.StatusActive), nil)
	}

	list := func(tenant string, page store.Page) []string {
		t.Helper()
		insts, err := s.ListInstances(ctx, tenant, page)
		noErr(t, "ListInstances", err)
		// ListInstanceSummaries lists the same page, with only the summary
		// fields set.
		sums, err := s.ListInstanceSummaries(ctx, tenant, page)
		noErr(t, "ListInstanceSummaries", err)
		wantSums := []*model.Instance{}
		for _, in := range insts {
			wantSums = append(wantSums, summaryOf(in))
		}
		diff(t, fmt.Sprintf("ListInstanceSummaries(%q, %+v)", tenant, page), append([]*model.Instance{}, sums...), wantSums)
		var ids []string
		for _, inst := range insts {
			if tenant != "" && inst.TenantID != tenant {
				t.Errorf("ListInstances(%q) returned instance %s of tenant %s", tenant, inst.ID, inst.TenantID)
			}
			checkInstanceUTC(t, inst)
			ids = append(ids, inst.ID)
		}
		return ids
	}

	var got []string
	marker := ""
	for range 10 {
		page := list("tenant-a", store.Page{Marker: marker, Limit: 10})
		if len(page) > 10 {
			t.Fatalf("ListInstances(limit 10) returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		marker = page[len(page)-1]
	}
	diff(t, "tenant-a pages", got, wantA)

	diff(t, "marker between ids", list("tenant-a", store.Page{Marker: "a-09x", Limit: 3}), []string{"a-10", "a-11", "a-12"})
	diff(t, "marker past end", list("tenant-a", store.Page{Marker: "a-24", Limit: 3}), []string{})
	diff(t, "tenant-b", list("tenant-b", store.Page{Limit: 100}), []string{"b-00", "b-01", "b-02", "b-03", "b-04"})
	diff(t, "no tenant", list("", store.Page{Limit: 100}), append(append([]string{}, wantA...), "b-00", "b-01", "b-02", "b-03", "b-04"))
	diff(t, "unknown tenant", list("tenant-c", store.Page{Limit: 10}), []string{})

	for tenant, want := range map[string]int{"tenant-a": 25, "tenant-b": 5, "tenant-c": 0} {
		n, err := s.CountInstances(ctx, tenant)
		noErr(t, "CountInstances", err)
		if n != want {
			t.Errorf("CountInstances(%s) = %d, want %d", tenant, n, want)
		}
	}
}

// summaryOf is in with only the fields ListInstanceSummaries sets.
func summaryOf(in *model.Instance) *model.Instance {
	return &model.Instance{ID: in.ID, TenantID: in.TenantID, Name: in.Name, Status: in.Status,
		FlavorID: in.FlavorID, VolumeSize: in.VolumeSize, Datastore: in.Datastore,
		DatastoreVersion: in.DatastoreVersion, Address: in.Address}
}

func testUpdateInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := newInstance("tenant-a", "inst-1", model.StatusBuild)
	mustCreate(t, s, inst, nil)
	before, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)

	fault := &model.Fault{Message: "engine died", Details: "exit 1", Created: t0.Add(2 * time.Hour)}
	got, err := s.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error {
		if i.Name != inst.Name {
			t.Errorf("UpdateInstance fn got Name %q, want %q", i.Name, inst.Name)
		}
		i.Name = "renamed"
		i.Status = model.StatusError
		i.Fault = fault
		i.VolumeSize = 10
		i.Logs = []string{"general", "slow_query"}
		i.AllowedCIDRs = []string{"10.0.0.0/8", "2001:db8::/32", "127.0.0.2/32"}
		return nil
	})
	noErr(t, "UpdateInstance", err)
	want := *before
	want.Name, want.Status, want.Fault, want.VolumeSize = "renamed", model.StatusError, fault, 10
	want.Logs = []string{"general", "slow_query"}
	want.AllowedCIDRs = []string{"10.0.0.0/8", "2001:db8::/32", "127.0.0.2/32"}
	diff(t, "UpdateInstance result", got, &want, ignoreUpdated)
	if got.Updated.Before(before.Updated) {
		t.Errorf("UpdateInstance: Updated = %v, before %v", got.Updated, before.Updated)
	}
	reread, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	diff(t, "GetInstance after update", reread, got)
	checkInstanceUTC(t, reread)

	// fn fails: nothing is written, even what fn changed.
	errStop := errors.New("stop")
	_, err = s.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error {
		i.Name = "not written"
		i.Status = model.StatusActive
		return errStop
	})
	wantErr(t, "UpdateInstance(fn fails)", err, errStop)
	after, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	diff(t, "GetInstance after failed update", after, reread)

	// Clearing optional fields.
	got, err = s.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error {
		i.Fault = nil
		i.AdminSecret = nil
		i.Logs = nil
		i.AllowedCIDRs = nil
		return nil
	})
	noErr(t, "UpdateInstance(clear)", err)
	reread, err = s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	if reread.Fault != nil || len(reread.AdminSecret) != 0 || reread.Logs != nil || reread.AllowedCIDRs != nil {
		t.Errorf("after clearing: Fault = %v, AdminSecret = %q, Logs = %q, AllowedCIDRs = %q, want none",
			reread.Fault, reread.AdminSecret, reread.Logs, reread.AllowedCIDRs)
	}
	diff(t, "UpdateInstance(clear) result", got, reread)

	_, err = s.UpdateInstance(ctx, "no-such-instance", func(*model.Instance) error { return nil })
	wantErr(t, "UpdateInstance(missing)", err, store.ErrNotFound)
}

func testStartAction(t *testing.T, s store.Store) {
	ctx := t.Context()
	allowed := model.ActionAllowedStatuses

	mustCreate(t, s, newInstance("tenant-a", "building", model.StatusBuild), newTask("create-1", "building", model.TaskCreate, t0))
	mustCreate(t, s, newInstance("tenant-a", "failed", model.StatusFailed), nil)
	mustCreate(t, s, newInstance("tenant-a", "active", model.StatusActive), nil)

	t.Run("status not allowed", func(t *testing.T) {
		_, err := s.StartAction(ctx, "tenant-a", "failed", allowed, model.StatusReboot, newTask("r-0", "failed", model.TaskRestart, t0), t0)
		wantStateError(t, "StartAction(FAILED)", err, model.StatusFailed)
		got, err := s.GetInstance(ctx, "", "failed")
		noErr(t, "GetInstance", err)
		if got.Status != model.StatusFailed {
			t.Errorf("status after refused action = %s, want FAILED", got.Status)
		}
		_, err = s.GetTask(ctx, "r-0")
		wantErr(t, "GetTask(refused task)", err, store.ErrNotFound)
	})

	t.Run("unfinished task blocks", func(t *testing.T) {
		// BUILD is allowed here, but the create task is not finished.
		_, err := s.StartAction(ctx, "tenant-a", "building", []model.InstanceStatus{model.StatusBuild},
			model.StatusReboot, newTask("r-1", "building", model.TaskRestart, t0), t0)
		wantStateError(t, "StartAction(with create task)", err, model.StatusBuild)
		_, err = s.GetTask(ctx, "r-1")
		wantErr(t, "GetTask(refused task)", err, store.ErrNotFound)
	})

	t.Run("other tenant and missing", func(t *testing.T) {
		_, err := s.StartAction(ctx, "tenant-b", "active", allowed, model.StatusReboot, newTask("r-2", "active", model.TaskRestart, t0), t0)
		wantErr(t, "StartAction(other tenant)", err, store.ErrNotFound)
		_, err = s.StartAction(ctx, "tenant-a", "missing", allowed, model.StatusReboot, newTask("r-3", "missing", model.TaskRestart, t0), t0)
		wantErr(t, "StartAction(missing)", err, store.ErrNotFound)
	})

	t.Run("accepted then blocked then accepted", func(t *testing.T) {
		task := newTask("r-4", "active", model.TaskRestart, t0.Add(-time.Hour)) // the oldest task
		got, err := s.StartAction(ctx, "tenant-a", "active", allowed, model.StatusReboot, task, t0)
		noErr(t, "StartAction", err)
		if got.Status != model.StatusReboot || got.Deleting {
			t.Errorf("StartAction: Status %s, Deleting %v; want REBOOT, false", got.Status, got.Deleting)
		}
		reread, err := s.GetInstance(ctx, "tenant-a", "active")
		noErr(t, "GetInstance", err)
		diff(t, "GetInstance after StartAction", reread, got)
		active, err := s.ActiveTask(ctx, "active")
		noErr(t, "ActiveTask", err)
		if active.ID != task.ID || active.State != model.TaskPending || active.Kind != model.TaskRestart {
			t.Errorf("ActiveTask = %s %s %s, want %s pending restart", active.ID, active.State, active.Kind, task.ID)
		}

		// A second action, even one allowed from REBOOT, is refused.
		_, err = s.StartAction(ctx, "tenant-a", "active", []model.InstanceStatus{model.StatusReboot},
			model.StatusReboot, newTask("r-5", "active", model.TaskRestart, t0), t0)
		wantStateError(t, "second StartAction", err, model.StatusReboot)

		// Still refused while the task runs.
		claimed, err := s.ClaimTask(ctx, "runner", t0, time.Minute)
		noErr(t, "ClaimTask", err)
		if claimed.ID != task.ID {
			t.Fatalf("ClaimTask = %s, want the oldest task %s", claimed.ID, task.ID)
		}
		_, err = s.StartAction(ctx, "tenant-a", "active", []model.InstanceStatus{model.StatusReboot},
			model.StatusReboot, newTask("r-6", "active", model.TaskRestart, t0), t0)
		wantStateError(t, "StartAction during running task", err, model.StatusReboot)

		// Finish every claimed task (the create task may have come first).
		for {
			noErr(t, "FinishTask", s.FinishTask(ctx, claimed.ID, "runner", model.TaskDone, ""))
			if claimed, err = s.ClaimTask(ctx, "runner", t0, time.Minute); errors.Is(err, store.ErrNotFound) {
				break
			}
			noErr(t, "ClaimTask", err)
		}
		_, err = s.UpdateInstance(ctx, "active", func(i *model.Instance) error {
			i.Status = model.StatusActive
			return nil
		})
		noErr(t, "UpdateInstance", err)

		// A delete sets Deleting.
		got, err = s.StartAction(ctx, "tenant-a", "active", allowed, model.StatusShutdown, newTask("d-1", "active", model.TaskDelete, t0), t0)
		noErr(t, "StartAction(delete)", err)
		if got.Status != model.StatusShutdown || !got.Deleting {
			t.Errorf("StartAction(delete): Status %s, Deleting %v; want SHUTDOWN, true", got.Status, got.Deleting)
		}
		reread, err = s.GetInstance(ctx, "", "active")
		noErr(t, "GetInstance", err)
		if !reread.Deleting {
			t.Error("GetInstance after delete action: Deleting = false")
		}
	})
}

func testStartActionConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusActive), nil)

	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			task := newTask(fmt.Sprintf("task-%02d", i), "inst-1", model.TaskRestart, t0)
			_, errs[i] = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, task, t0)
		})
	}
	close(start)
	wg.Wait()

	won := 0
	for i, err := range errs {
		var se *store.StateError
		switch {
		case err == nil:
			won++
		case errors.As(err, &se):
		default:
			t.Errorf("StartAction %d: unexpected error %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent StartAction calls succeeded, want exactly 1", won)
	}
	if _, err := s.ActiveTask(ctx, "inst-1"); err != nil {
		t.Errorf("ActiveTask: %v", err)
	}
	// Exactly one task was written: claim it, then there is none.
	_, err := s.ClaimTask(ctx, "runner", t0, time.Minute)
	noErr(t, "ClaimTask", err)
	_, err = s.ClaimTask(ctx, "runner", t0, time.Minute)
	wantErr(t, "second ClaimTask", err, store.ErrNotFound)
}

func testSetObservedStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "idle", model.StatusActive), nil)
	mustCreate(t, s, newInstance("tenant-a", "busy", model.StatusActive), newTask("task-1", "busy", model.TaskRestart, t0))

	steps := []struct {
		id     string
		from   []model.InstanceStatus
		to     model.InstanceStatus
		change bool
		want   model.InstanceStatus
	}{
		{"idle", []model.InstanceStatus{model.StatusActive}, model.StatusShutdown, true, model.StatusShutdown},
		{"idle", []model.InstanceStatus{model.StatusActive}, model.StatusBlocked, false, model.StatusShutdown},
		{"idle", []model.InstanceStatus{model.StatusBlocked, model.StatusShutdown}, model.StatusActive, true, model.StatusActive},
		{"idle", nil, model.StatusError, false, model.StatusActive},
		{"busy", []model.InstanceStatus{model.StatusActive}, model.StatusShutdown, false, model.StatusActive},
	}
	for _, st := range steps {
		changed, err := s.SetObservedStatus(ctx, st.id, st.from, st.to)
		noErr(t, "SetObservedStatus", err)
		if changed != st.change {
			t.Errorf("SetObservedStatus(%s, %v, %s) = %v, want %v", st.id, st.from, st.to, changed, st.change)
		}
		got, err := s.GetInstance(ctx, "", st.id)
		noErr(t, "GetInstance", err)
		if got.Status != st.want {
			t.Errorf("after SetObservedStatus(%s, %v, %s): status %s, want %s", st.id, st.from, st.to, got.Status, st.want)
		}
	}
	_, err := s.SetObservedStatus(ctx, "missing", []model.InstanceStatus{model.StatusActive}, model.StatusShutdown)
	wantErr(t, "SetObservedStatus(missing)", err, store.ErrNotFound)
}

func testAssignAddress(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"i1", "i2", "i3"} {
		mustCreate(t, s, newInstance("tenant-a", id, model.StatusBuild), nil)
	}
	steps := []struct {
		id         string
		candidates []string
		want       string
		err        error
	}{
		{"i1", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, "10.0.0.1", nil},
		{"i1", []string{"10.0.0.2", "10.0.0.3"}, "10.0.0.1", nil}, // idempotent
		{"i2", []string{"10.0.0.1", "10.0.0.2"}, "10.0.0.2", nil},
		{"i3", []string{"10.0.0.1", "10.0.0.2"}, "", store.ErrNoAddress},
		{"i3", nil, "", store.ErrNoAddress},
		{"missing", []string{"10.0.0.9"}, "", store.ErrNotFound},
	}
	for _, st := range steps {
		got, err := s.AssignAddress(ctx, st.id, st.candidates)
		if st.err != nil {
			wantErr(t, fmt.Sprintf("AssignAddress(%s, %v)", st.id, st.candidates), err, st.err)
			continue
		}
		noErr(t, "AssignAddress", err)
		if got != st.want {
			t.Errorf("AssignAddress(%s, %v) = %q, want %q", st.id, st.candidates, got, st.want)
		}
		inst, err := s.GetInstance(ctx, "", st.id)
		noErr(t, "GetInstance", err)
		if inst.Address != st.want {
			t.Errorf("after AssignAddress(%s): Address = %q, want %q", st.id, inst.Address, st.want)
		}
	}

	// An address in use cannot be given to another instance by other means.
	dup := newInstance("tenant-b", "i4", model.StatusBuild)
	dup.Address = "10.0.0.1"
	wantErr(t, "CreateInstance(address in use)", s.CreateInstance(ctx, dup, nil, nil), store.ErrExists)
	_, err := s.UpdateInstance(ctx, "i3", func(i *model.Instance) error {
		i.Address = "10.0.0.2"
		return nil
	})
	wantErr(t, "UpdateInstance(address in use)", err, store.ErrExists)

	// A deleted instance's address is free again.
	noErr(t, "DeleteInstance", s.DeleteInstance(ctx, "i1"))
	got, err := s.AssignAddress(ctx, "i3", []string{"10.0.0.1", "10.0.0.2"})
	noErr(t, "AssignAddress after delete", err)
	if got != "10.0.0.1" {
		t.Errorf("AssignAddress after delete = %q, want 10.0.0.1", got)
	}
}

func testAssignAddressConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const instances, addresses = 12, 10
	var candidates []string
	for i := range addresses {
		candidates = append(candidates, fmt.Sprintf("10.1.0.%d", i+1))
	}
	for i := range instances {
		mustCreate(t, s, newInstance("tenant-a", fmt.Sprintf("inst-%02d", i), model.StatusBuild), nil)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   = make([]string, instances)
		errs  = make([]error, instances)
	)
	for i := range instances {
		wg.Go(func() {
			<-start
			got[i], errs[i] = s.AssignAddress(ctx, fmt.Sprintf("inst-%02d", i), candidates)
		})
	}
	close(start)
	wg.Wait()

	seen := map[string]int{}
	none := 0
	for i := range instances {
		switch {
		case errors.Is(errs[i], store.ErrNoAddress):
			none++
		case errs[i] != nil:
			t.Errorf("AssignAddress(inst-%02d): %v", i, errs[i])
		default:
			if j, dup := seen[got[i]]; dup {
				t.Errorf("address %s given to inst-%02d and inst-%02d", got[i], j, i)
			}
			seen[got[i]] = i
		}
	}
	if len(seen) != addresses || none != instances-addresses {
		t.Errorf("%d addresses assigned and %d ErrNoAddress, want %d and %d", len(seen), none, addresses, instances-addresses)
	}
}

func testDeleteInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusBuild), newTask("create-1", "inst-1", model.TaskCreate, t0))
	task, err := s.ClaimTask(ctx, "runner", t0, time.Minute)
	noErr(t, "ClaimTask", err)
	noErr(t, "FinishTask", s.FinishTask(ctx, task.ID, "runner", model.TaskDone, ""))
	_, err = s.UpdateInstance(ctx, "inst-1", func(i *model.Instance) error {
		i.Status = model.StatusActive
		return nil
	})
	noErr(t, "UpdateInstance", err)

	// The delete task deletes the instance, then finishes.
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusShutdown,
		newTask("delete-1", "inst-1", model.TaskDelete, t0.Add(time.Second)), t0)
	noErr(t, "StartAction(delete)", err)
	del, err := s.ClaimTask(ctx, "runner", t0, time.Minute)
	noErr(t, "ClaimTask(delete)", err)
	if del.ID != "delete-1" {
		t.Fatalf("ClaimTask = %s, want delete-1", del.ID)
	}
	noErr(t, "DeleteInstance", s.DeleteInstance(ctx, "inst-1"))

	_, err = s.GetInstance(ctx, "", "inst-1")
	wantErr(t, "GetInstance(deleted)", err, store.ErrNotFound)
	_, err = s.GetTask(ctx, "create-1")
	wantErr(t, "GetTask(finished task of deleted instance)", err, store.ErrNotFound)
	noErr(t, "FinishTask(delete)", s.FinishTask(ctx, del.ID, "runner", model.TaskDone, ""))
	got, err := s.GetTask(ctx, del.ID)
	noErr(t, "GetTask(delete)", err)
	if got.State != model.TaskDone {
		t.Errorf("delete task state = %s, want done", got.State)
	}
	n, err := s.CountInstances(ctx, "tenant-a")
	noErr(t, "CountInstances", err)
	if n != 0 {
		t.Errorf("CountInstances after delete = %d, want 0", n)
	}
	wantErr(t, "DeleteInstance(again)", s.DeleteInstance(ctx, "inst-1"), store.ErrNotFound)
}
