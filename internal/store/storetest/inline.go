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

// RunInline runs the conformance tests of [store.InlineLeases] against the
// stores made by newStore (as [Run] does).
func RunInline(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InlineGate", testInlineGate},
		{"InlineExpiry", testInlineExpiry},
		{"InlineConcurrent", testInlineConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

var adminStatuses = []model.InstanceStatus{model.StatusActive, model.StatusRestartRequired}

func testInlineGate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusActive), nil)
	mustCreate(t, s, newInstance("tenant-a", "inst-build", model.StatusBuild), nil)

	_, err := s.AcquireInline(ctx, "tenant-a", "no-such", adminStatuses, "h1", t0, time.Minute)
	wantErr(t, "AcquireInline(missing)", err, store.ErrNotFound)
	_, err = s.AcquireInline(ctx, "tenant-b", "inst-1", adminStatuses, "h1", t0, time.Minute)
	wantErr(t, "AcquireInline(other tenant)", err, store.ErrNotFound)
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-build", adminStatuses, "h1", t0, time.Minute)
	wantStateError(t, "AcquireInline(BUILD)", err, model.StatusBuild)

	inst, err := s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, "h1", t0, time.Minute)
	noErr(t, "AcquireInline", err)
	if inst.ID != "inst-1" || inst.Status != model.StatusActive {
		t.Errorf("AcquireInline = %s %s, want inst-1 ACTIVE", inst.ID, inst.Status)
	}
	// The holder may take it again (renew); nobody else may.
	_, err = s.AcquireInline(ctx, "", "inst-1", adminStatuses, "h1", t0.Add(time.Second), time.Minute)
	noErr(t, "AcquireInline(same holder)", err)
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, "h2", t0.Add(time.Second), time.Minute)
	wantErr(t, "AcquireInline(other holder)", err, store.ErrBusy)

	// An action that takes the engine away is refused while the lease
	// lives, and writes nothing.
	restart := newTask("task-1", "inst-1", model.TaskRestart, t0)
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(2*time.Second))
	wantErr(t, "StartAction(leased)", err, store.ErrBusy)
	if got, err := s.GetInstance(ctx, "", "inst-1"); err != nil || got.Status != model.StatusActive {
		t.Errorf("after a refused StartAction: status %v, %v; want ACTIVE", got, err)
	}
	_, err = s.ActiveTask(ctx, "inst-1")
	wantErr(t, "ActiveTask after a refused StartAction", err, store.ErrNotFound)

	// Another holder's release does not free it; its own does.
	noErr(t, "ReleaseInline(other holder)", s.ReleaseInline(ctx, "inst-1", "h2"))
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(2*time.Second))
	wantErr(t, "StartAction(still leased)", err, store.ErrBusy)
	noErr(t, "ReleaseInline", s.ReleaseInline(ctx, "inst-1", "h1"))
	noErr(t, "ReleaseInline(again)", s.ReleaseInline(ctx, "inst-1", "h1"))

	_, err = s.StartAction(ctx, "tenant-b", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(2*time.Second))
	wantErr(t, "StartAction(other tenant)", err, store.ErrNotFound)
	_, err = s.StartAction(ctx, "tenant-a", "inst-build", model.ActionAllowedStatuses, model.StatusReboot, newTask("task-b", "inst-build", model.TaskRestart, t0), t0)
	wantStateError(t, "StartAction(BUILD)", err, model.StatusBuild)
	got, err := s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(2*time.Second))
	noErr(t, "StartAction", err)
	if got.Status != model.StatusReboot || got.Deleting {
		t.Errorf("StartAction = %s deleting=%v, want REBOOT", got.Status, got.Deleting)
	}
	if at, err := s.ActiveTask(ctx, "inst-1"); err != nil || at.ID != "task-1" {
		t.Errorf("ActiveTask = %v, %v; want task-1", at, err)
	}

	// Once an action is accepted, inline operations are refused (the task
	// check, even in an allowed status) and so is a second action.
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-1", append(adminStatuses, model.StatusReboot), "h3", t0.Add(3*time.Second), time.Minute)
	wantStateError(t, "AcquireInline(task running)", err, model.StatusReboot)
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", []model.InstanceStatus{model.StatusReboot}, model.StatusShutdown, newTask("task-2", "inst-1", model.TaskDelete, t0), t0)
	wantStateError(t, "StartAction(task running)", err, model.StatusReboot)

	// A delete goes through the same gate and sets Deleting.
	mustCreate(t, s, newInstance("tenant-a", "inst-2", model.StatusActive), nil)
	got, err = s.StartAction(ctx, "tenant-a", "inst-2", []model.InstanceStatus{model.StatusActive}, model.StatusShutdown, newTask("task-3", "inst-2", model.TaskDelete, t0), t0)
	noErr(t, "StartAction(delete)", err)
	if !got.Deleting {
		t.Errorf("StartAction(delete): Deleting = false")
	}

	// A lease goes with its instance.
	mustCreate(t, s, newInstance("tenant-a", "inst-3", model.StatusActive), nil)
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-3", adminStatuses, "h4", t0, time.Hour)
	noErr(t, "AcquireInline(inst-3)", err)
	noErr(t, "DeleteInstance(leased)", s.DeleteInstance(ctx, "inst-3"))
	noErr(t, "ReleaseInline(deleted instance)", s.ReleaseInline(ctx, "inst-3", "h4"))
	mustCreate(t, s, newInstance("tenant-a", "inst-3", model.StatusActive), nil)
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-3", adminStatuses, "h5", t0, time.Hour)
	noErr(t, "AcquireInline(inst-3 again)", err)
}

// testInlineExpiry: a holder that died (never released) wedges nothing
// once its lease has ended.
func testInlineExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusActive), nil)
	_, err := s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, "dead", t0, time.Minute)
	noErr(t, "AcquireInline(dead)", err)

	_, err = s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, "h2", t0.Add(59*time.Second), time.Minute)
	wantErr(t, "AcquireInline(before the end)", err, store.ErrBusy)
	_, err = s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, "h2", t0.Add(2*time.Minute), time.Minute)
	noErr(t, "AcquireInline(after the end)", err)
	// The dead holder's late release must not free h2's lease.
	noErr(t, "ReleaseInline(dead)", s.ReleaseInline(ctx, "inst-1", "dead"))
	restart := newTask("task-1", "inst-1", model.TaskRestart, t0)
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(2*time.Minute))
	wantErr(t, "StartAction(h2 holds)", err, store.ErrBusy)
	_, err = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, restart, t0.Add(4*time.Minute))
	noErr(t, "StartAction(h2's lease ended)", err)
}

// testInlineConcurrent: leases and actions raced from many goroutines are
// granted to exactly one of them.
func testInlineConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newInstance("tenant-a", "inst-1", model.StatusActive), nil)
	const n = 10
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, 2*n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = s.AcquireInline(ctx, "tenant-a", "inst-1", adminStatuses, fmt.Sprintf("h%d", i), t0, time.Minute)
		})
		wg.Go(func() {
			<-start
			task := newTask(fmt.Sprintf("task-%02d", i), "inst-1", model.TaskRestart, t0)
			_, errs[n+i] = s.StartAction(ctx, "tenant-a", "inst-1", model.ActionAllowedStatuses, model.StatusReboot, task, t0)
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
		case errors.As(err, &se), errors.Is(err, store.ErrBusy):
		default:
			t.Errorf("call %d: unexpected error %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent leases and actions were granted, want exactly 1", won, len(errs))
	}
}
