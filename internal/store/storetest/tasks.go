package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// claim claims a task and checks what ClaimTask promises about it.
func claim(t *testing.T, s store.Store, owner string, now time.Time, lease time.Duration) *model.Task {
	t.Helper()
	task, err := s.ClaimTask(t.Context(), owner, now, lease)
	noErr(t, fmt.Sprintf("ClaimTask(%s, %v)", owner, now), err)
	if task.State != model.TaskRunning || task.Owner != owner || !sameSecond(task.LeaseUntil, now.Add(lease)) {
		t.Errorf("ClaimTask(%s) = state %s, owner %q, lease until %v; want running, %q, %v",
			owner, task.State, task.Owner, task.LeaseUntil, owner, now.Add(lease))
	}
	checkTaskUTC(t, task)
	got, err := s.GetTask(t.Context(), task.ID)
	noErr(t, "GetTask", err)
	diff(t, "GetTask after ClaimTask", got, task, ignoreTaskUpdated)
	return task
}

func getTask(t *testing.T, s store.Store, id string) *model.Task {
	t.Helper()
	task, err := s.GetTask(t.Context(), id)
	noErr(t, "GetTask", err)
	checkTaskUTC(t, task)
	return task
}

func testClaimTaskOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created out of order; claimed oldest first.
	for _, c := range []struct {
		id  string
		age time.Duration
	}{{"i-b", 2 * time.Second}, {"i-c", 3 * time.Second}, {"i-a", time.Second}} {
		mustCreate(t, s, newInstance("tenant-a", c.id, model.StatusBuild), newTask("task-"+c.id, c.id, model.TaskCreate, t0.Add(c.age)))
	}
	now := t0.Add(time.Hour)
	for _, want := range []string{"task-i-a", "task-i-b", "task-i-c"} {
		task := claim(t, s, "runner", now, time.Minute)
		if task.ID != want || task.Attempts != 1 {
			t.Errorf("ClaimTask = %s (attempts %d), want %s (attempts 1)", task.ID, task.Attempts, want)
		}
	}
	_, err := s.ClaimTask(ctx, "runner", now, time.Minute)
	wantErr(t, "ClaimTask(none left)", err, store.ErrNotFound)
}

func testTaskLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusBuild), newTask("task-1", "inst-1", model.TaskCreate, t0))
	now := t0.Add(time.Hour)
	task := claim(t, s, "a", now, 30*time.Second)

	// The lease has not ended: nobody else can claim the task.
	_, err := s.ClaimTask(ctx, "b", now.Add(10*time.Second), 30*time.Second)
	wantErr(t, "ClaimTask(lease held)", err, store.ErrNotFound)

	// a renews its lease, which moves the expiry.
	noErr(t, "RenewLease", s.RenewLease(ctx, task.ID, "a", now.Add(60*time.Second)))
	if got := getTask(t, s, task.ID); !sameSecond(got.LeaseUntil, now.Add(60*time.Second)) {
		t.Errorf("after RenewLease: LeaseUntil = %v, want %v", got.LeaseUntil, now.Add(60*time.Second))
	}
	_, err = s.ClaimTask(ctx, "b", now.Add(45*time.Second), 30*time.Second)
	wantErr(t, "ClaimTask(renewed lease held)", err, store.ErrNotFound)

	// The lease ended: b takes over, and a has lost it.
	taken := claim(t, s, "b", now.Add(2*time.Minute), 30*time.Second)
	if taken.ID != task.ID || taken.Attempts != 2 {
		t.Errorf("ClaimTask(expired) = %s attempts %d, want %s attempts 2", taken.ID, taken.Attempts, task.ID)
	}
	wantErr(t, "RenewLease(lost)", s.RenewLease(ctx, task.ID, "a", now.Add(time.Hour)), store.ErrLeaseLost)
	wantErr(t, "AdvanceTask(lost)", s.AdvanceTask(ctx, task.ID, "a", 3, "start", []byte("x")), store.ErrLeaseLost)
	wantErr(t, "FinishTask(lost)", s.FinishTask(ctx, task.ID, "a", model.TaskDone, ""), store.ErrLeaseLost)
	wantErr(t, "ReleaseTask(lost)", s.ReleaseTask(ctx, task.ID, "a"), store.ErrLeaseLost)
	got := getTask(t, s, task.ID)
	if got.Owner != "b" || got.State != model.TaskRunning || got.Step != 0 || got.StepName != "" {
		t.Errorf("after calls by the old owner: owner %q, state %s, step %d %q; want b, running, 0 \"\"",
			got.Owner, got.State, got.Step, got.StepName)
	}
	noErr(t, "RenewLease(new owner)", s.RenewLease(ctx, task.ID, "b", now.Add(time.Hour)))
}

func testAdvanceTask(t *testing.T, s store.Store) {
	ctx := t.Context()
	created := newTask("task-1", "inst-1", model.TaskCreate, t0)
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusBuild), created)
	task := claim(t, s, "a", t0, time.Minute)
	if !bytes.Equal(task.Payload, created.Payload) || task.Step != 0 || task.StepName != "" {
		t.Errorf("claimed: step %d %q payload %q, want 0 \"\" %q", task.Step, task.StepName, task.Payload, created.Payload)
	}

	// Each advance records the next step by index and by name.
	for _, adv := range []struct {
		step        int
		name        string
		payload     []byte
		wantPayload string
	}{
		{1, "provision", []byte("p1"), "p1"},
		{2, "start", nil, "p1"}, // a nil payload keeps the stored one
		{3, "", []byte{}, ""},   // an empty name is recorded too
		{4, "wait_ready", nil, ""},
	} {
		what := fmt.Sprintf("AdvanceTask(%d, %q, %q)", adv.step, adv.name, adv.payload)
		noErr(t, what, s.AdvanceTask(ctx, task.ID, "a", adv.step, adv.name, adv.payload))
		got := getTask(t, s, task.ID)
		if got.Step != adv.step || got.StepName != adv.name || string(got.Payload) != adv.wantPayload {
			t.Errorf("after %s: step %d %q payload %q, want %d %q %q",
				what, got.Step, got.StepName, got.Payload, adv.step, adv.name, adv.wantPayload)
		}
	}
	noErr(t, "AdvanceTask", s.AdvanceTask(ctx, task.ID, "a", 2, "start", []byte("p2")))

	// A runner that takes over resumes at the recorded step.
	noErr(t, "ReleaseTask", s.ReleaseTask(ctx, task.ID, "a"))
	again := claim(t, s, "b", t0, time.Minute)
	if again.Step != 2 || again.StepName != "start" || string(again.Payload) != "p2" || again.Attempts != 2 {
		t.Errorf("re-claimed: step %d %q payload %q attempts %d, want 2 start p2 2",
			again.Step, again.StepName, again.Payload, again.Attempts)
	}
	if a, err := s.ActiveTask(ctx, "inst-1"); err != nil || a.StepName != "start" {
		t.Errorf("ActiveTask = %+v, %v; want step name start", a, err)
	}
	wantErr(t, "AdvanceTask(missing)", s.AdvanceTask(ctx, "no-such-task", "b", 1, "x", nil), store.ErrLeaseLost)
}

func testFinishTask(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, st := range []struct {
		id    string
		state model.TaskState
		err   string
	}{
		{"ok", model.TaskDone, ""},
		{"bad", model.TaskFailed, "engine did not start"},
	} {
		t.Run(st.id, func(t *testing.T) {
			mustCreate(t, s, newInstance("tenant-a", st.id, model.StatusBuild), newTask("task-"+st.id, st.id, model.TaskCreate, t0))
			task := claim(t, s, "a", t0, time.Minute)
			noErr(t, "FinishTask", s.FinishTask(ctx, task.ID, "a", st.state, st.err))
			got := getTask(t, s, task.ID)
			if got.State != st.state || got.Error != st.err || len(got.Payload) != 0 {
				t.Errorf("after FinishTask: state %s error %q payload %q; want %s %q none", got.State, got.Error, got.Payload, st.state, st.err)
			}
			_, err := s.ActiveTask(ctx, st.id)
			wantErr(t, "ActiveTask(finished)", err, store.ErrNotFound)
			_, err = s.ClaimTask(ctx, "b", t0.Add(time.Hour), time.Minute)
			wantErr(t, "ClaimTask(finished)", err, store.ErrNotFound)
			wantErr(t, "FinishTask(again)", s.FinishTask(ctx, task.ID, "a", st.state, st.err), store.ErrLeaseLost)
			wantErr(t, "RenewLease(finished)", s.RenewLease(ctx, task.ID, "a", t0.Add(time.Hour)), store.ErrLeaseLost)
			wantErr(t, "ReleaseTask(finished)", s.ReleaseTask(ctx, task.ID, "a"), store.ErrLeaseLost)
		})
	}
}

func testReleaseTask(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusBuild), newTask("task-1", "inst-1", model.TaskCreate, t0))
	task := claim(t, s, "a", t0, time.Hour)
	wantErr(t, "ReleaseTask(wrong owner)", s.ReleaseTask(ctx, task.ID, "b"), store.ErrLeaseLost)
	noErr(t, "ReleaseTask", s.ReleaseTask(ctx, task.ID, "a"))
	got := getTask(t, s, task.ID)
	if got.State != model.TaskPending || got.Owner != "" {
		t.Errorf("after ReleaseTask: state %s owner %q, want pending and none", got.State, got.Owner)
	}
	if a, err := s.ActiveTask(ctx, "inst-1"); err != nil || a.ID != task.ID {
		t.Errorf("ActiveTask after ReleaseTask = %v, %v; want %s", a, err, task.ID)
	}
	// Claimable at once, long before the old lease would have ended.
	again := claim(t, s, "b", t0, time.Minute)
	if again.ID != task.ID || again.Attempts != 2 {
		t.Errorf("ClaimTask after release = %s attempts %d, want %s attempts 2", again.ID, again.Attempts, task.ID)
	}
}

func testReleaseLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		id := fmt.Sprintf("inst-%d", i)
		mustCreate(t, s, newInstance("tenant-a", id, model.StatusBuild), newTask("task-"+id, id, model.TaskCreate, t0.Add(time.Duration(i)*time.Second)))
	}
	a := claim(t, s, "a", t0, time.Hour)
	b := claim(t, s, "b", t0, time.Hour)
	c := claim(t, s, "c", t0, time.Hour)
	noErr(t, "FinishTask", s.FinishTask(ctx, c.ID, "c", model.TaskDone, ""))

	noErr(t, "ReleaseLeases", s.ReleaseLeases(ctx))
	for _, id := range []string{a.ID, b.ID} {
		if got := getTask(t, s, id); got.State != model.TaskPending || got.Owner != "" {
			t.Errorf("task %s after ReleaseLeases: state %s owner %q, want pending and none", id, got.State, got.Owner)
		}
	}
	if got := getTask(t, s, c.ID); got.State != model.TaskDone {
		t.Errorf("finished task %s after ReleaseLeases: state %s, want done", c.ID, got.State)
	}
	claimed := map[string]bool{}
	for range 2 {
		claimed[claim(t, s, "d", t0, time.Hour).ID] = true
	}
	if !claimed[a.ID] || !claimed[b.ID] {
		t.Errorf("claimed %v after ReleaseLeases, want %s and %s", claimed, a.ID, b.ID)
	}
}

func testCountTasks(t *testing.T, s store.Store) {
	c, ok := s.(store.TaskCounter)
	if !ok {
		t.Skip("not a store.TaskCounter")
	}
	count := func(wantPending, wantRunning int) {
		t.Helper()
		p, r, err := c.CountTasks(t.Context())
		noErr(t, "CountTasks", err)
		if p != wantPending || r != wantRunning {
			t.Errorf("CountTasks = %d pending, %d running; want %d, %d", p, r, wantPending, wantRunning)
		}
	}
	count(0, 0)
	for i, id := range []string{"cnt-a", "cnt-b", "cnt-c"} {
		mustCreate(t, s, newInstance("tenant-a", id, model.StatusBuild), newTask("task-"+id, id, model.TaskCreate, t0.Add(time.Duration(i)*time.Second)))
	}
	count(3, 0)
	now := t0.Add(time.Hour)
	a := claim(t, s, "runner", now, time.Minute)
	claim(t, s, "runner", now, time.Minute)
	count(1, 2)
	noErr(t, "FinishTask", s.FinishTask(t.Context(), a.ID, "runner", model.TaskDone, ""))
	count(1, 1)
}
