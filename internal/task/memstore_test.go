package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// memTasks is an in-memory store.Tasks, faithful to the contract in
// internal/store/store.go, that also logs every write for assertions.
type memTasks struct {
	mu    sync.Mutex
	tasks map[string]*model.Task
	order []string // insertion order: "oldest" for ClaimTask
	log   []write
	// claimCalls counts ClaimTask calls, found or not.
	claimCalls int
	// failures[op] makes the next calls of op ("renew", "advance",
	// "finish", "release") fail with errUnavailable; -1 fails them all.
	failures map[string]int
	changed  chan struct{} // closed and replaced on every change
}

// write is one successful write, as logged by memTasks.
type write struct {
	Op    string
	ID    string
	Owner string
	Step  int
	State model.TaskState
}

var _ store.Tasks = (*memTasks)(nil)

func newMemTasks() *memTasks {
	return &memTasks{tasks: make(map[string]*model.Task), changed: make(chan struct{}), failures: map[string]int{}}
}

var errUnavailable = errors.New("memstore: database is locked")

// failNext makes the next n calls of op fail (n = -1: all of them).
func (m *memTasks) failNext(op string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures[op] = n
}

// injected returns the injected failure of op, if any; m.mu must be held.
func (m *memTasks) injected(op string) error {
	switch n := m.failures[op]; {
	case n == 0:
		return nil
	case n > 0:
		m.failures[op] = n - 1
	}
	m.record("failed-"+op, &model.Task{}, "")
	return errUnavailable
}

func clone(t *model.Task) *model.Task {
	c := *t
	c.Payload = bytes.Clone(t.Payload)
	return &c
}

// record logs a write and wakes waiters; m.mu must be held.
func (m *memTasks) record(op string, t *model.Task, owner string) {
	m.log = append(m.log, write{Op: op, ID: t.ID, Owner: owner, Step: t.Step, State: t.State})
	m.wake()
}

// wake wakes waiters; m.mu must be held.
func (m *memTasks) wake() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// add inserts a pending task.
func (m *memTasks) add(t model.Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.State = model.TaskPending
	m.tasks[t.ID] = clone(&t)
	m.order = append(m.order, t.ID)
	m.record("add", &t, "")
}

// steal gives task id's lease to owner, as if another runner had claimed it.
func (m *memTasks) steal(id, owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tasks[id]
	t.Owner = owner
	m.record("steal", t, owner)
}

// writes returns the log of writes from index from on.
func (m *memTasks) writes(from int) []write {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log[min(from, len(m.log)):])
}

func (m *memTasks) logLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

func (m *memTasks) count(op, id string) int {
	n := 0
	for _, w := range m.writes(0) {
		if w.Op == op && w.ID == id {
			n++
		}
	}
	return n
}

// waitFor waits until cond (called with m.mu held) holds, failing the test
// after a deadline. It wakes on every write, so it needs no sleeping.
func (m *memTasks) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		ok := cond()
		ch := m.changed
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitState waits until task id is in state.
func (m *memTasks) waitState(t *testing.T, id string, state model.TaskState) {
	t.Helper()
	m.waitFor(t, fmt.Sprintf("task %s %s", id, state), func() bool {
		return m.tasks[id].State == state
	})
}

func (m *memTasks) task(id string) model.Task {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *clone(m.tasks[id])
}

// ClaimTask implements store.Tasks.
func (m *memTasks) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*model.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claimCalls++
	defer m.wake()
	for _, id := range m.order {
		t := m.tasks[id]
		if t.State == model.TaskPending || t.State == model.TaskRunning && t.LeaseUntil.Before(now) {
			t.State = model.TaskRunning
			t.Owner = owner
			t.LeaseUntil = now.Add(lease)
			t.Attempts++
			t.Updated = now
			m.record("claim", t, owner)
			return clone(t), nil
		}
	}
	return nil, store.ErrNotFound
}

// held returns task id if owner holds its lease; m.mu must be held.
func (m *memTasks) held(id, owner string) (*model.Task, error) {
	t, ok := m.tasks[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	if t.State != model.TaskRunning || t.Owner != owner {
		return nil, fmt.Errorf("task %s: %w", id, store.ErrLeaseLost)
	}
	return t, nil
}

// RenewLease implements store.Tasks.
func (m *memTasks) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.injected("renew"); err != nil {
		return err
	}
	t, err := m.held(id, owner)
	if err != nil {
		return err
	}
	t.LeaseUntil = until
	m.record("renew", t, owner)
	return nil
}

// AdvanceTask implements store.Tasks.
func (m *memTasks) AdvanceTask(ctx context.Context, id, owner string, step int, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.injected("advance"); err != nil {
		return err
	}
	t, err := m.held(id, owner)
	if err != nil {
		return err
	}
	t.Step = step
	if payload != nil {
		t.Payload = bytes.Clone(payload)
	}
	m.record("advance", t, owner)
	return nil
}

// FinishTask implements store.Tasks.
func (m *memTasks) FinishTask(ctx context.Context, id, owner string, state model.TaskState, errText string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if state != model.TaskDone && state != model.TaskFailed {
		return fmt.Errorf("finish task %s: bad state %q", id, state)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.injected("finish"); err != nil {
		return err
	}
	t, err := m.held(id, owner)
	if err != nil {
		return err
	}
	t.State = state
	t.Error = errText
	t.Payload = nil
	t.Owner = ""
	t.LeaseUntil = time.Time{}
	m.record("finish", t, owner)
	return nil
}

// ReleaseTask implements store.Tasks.
func (m *memTasks) ReleaseTask(ctx context.Context, id, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.injected("release"); err != nil {
		return err
	}
	t, err := m.held(id, owner)
	if err != nil {
		return err
	}
	t.State = model.TaskPending
	t.Owner = ""
	t.LeaseUntil = time.Time{}
	m.record("release", t, owner)
	return nil
}

// ReleaseLeases implements store.Tasks.
func (m *memTasks) ReleaseLeases(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.order {
		t := m.tasks[id]
		if t.State == model.TaskRunning {
			t.State = model.TaskPending
			t.Owner = ""
			t.LeaseUntil = time.Time{}
			m.record("releaseLeases", t, "")
		}
	}
	return nil
}

// GetTask implements store.Tasks.
func (m *memTasks) GetTask(ctx context.Context, id string) (*model.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(t), nil
}

// ActiveTask implements store.Tasks.
func (m *memTasks) ActiveTask(ctx context.Context, instanceID string) (*model.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.order {
		t := m.tasks[id]
		if t.InstanceID == instanceID && (t.State == model.TaskPending || t.State == model.TaskRunning) {
			return clone(t), nil
		}
	}
	return nil, store.ErrNotFound
}

// fakeClock is the injected clock for leases.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestMemTasksContract checks the fake against the store.Tasks contract the
// runner relies on: claim order, lease expiry, ErrLeaseLost, release.
func TestMemTasksContract(t *testing.T) {
	ctx := context.Background()
	m := newMemTasks()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m.add(model.Task{ID: "t1", InstanceID: "i1", Kind: "k"})
	m.add(model.Task{ID: "t2", InstanceID: "i2", Kind: "k"})

	got, err := m.ClaimTask(ctx, "a", now, time.Minute)
	if err != nil || got.ID != "t1" || got.Attempts != 1 || got.Owner != "a" {
		t.Fatalf("ClaimTask(a) = %+v, %v; want t1, attempt 1", got, err)
	}
	if got, err := m.ClaimTask(ctx, "b", now, time.Minute); err != nil || got.ID != "t2" {
		t.Fatalf("ClaimTask(b) = %+v, %v; want t2", got, err)
	}
	if _, err := m.ClaimTask(ctx, "c", now.Add(time.Minute), time.Minute); err != store.ErrNotFound {
		t.Fatalf("ClaimTask at lease end = %v, want ErrNotFound (lease ends strictly before now)", err)
	}
	got, err = m.ClaimTask(ctx, "c", now.Add(time.Minute+1), time.Minute)
	if err != nil || got.ID != "t1" || got.Attempts != 2 {
		t.Fatalf("ClaimTask after expiry = %+v, %v; want t1 attempt 2", got, err)
	}
	for name, err := range map[string]error{
		"renew":   m.RenewLease(ctx, "t1", "a", now),
		"advance": m.AdvanceTask(ctx, "t1", "a", 1, nil),
		"finish":  m.FinishTask(ctx, "t1", "a", model.TaskDone, ""),
		"release": m.ReleaseTask(ctx, "t1", "a"),
	} {
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("%s by the old owner = %v, want ErrLeaseLost", name, err)
		}
	}
	if err := m.AdvanceTask(ctx, "t1", "c", 1, []byte("p")); err != nil {
		t.Fatal(err)
	}
	if err := m.AdvanceTask(ctx, "t1", "c", 2, nil); err != nil {
		t.Fatal(err)
	}
	if tk := m.task("t1"); tk.Step != 2 || string(tk.Payload) != "p" {
		t.Errorf("after advances: step %d payload %q, want 2 %q", tk.Step, tk.Payload, "p")
	}
	if err := m.ReleaseTask(ctx, "t1", "c"); err != nil {
		t.Fatal(err)
	}
	if got, err := m.ClaimTask(ctx, "d", now, time.Minute); err != nil || got.ID != "t1" || got.Step != 2 {
		t.Fatalf("ClaimTask after release = %+v, %v; want t1 at step 2", got, err)
	}
	if err := m.FinishTask(ctx, "t1", "d", model.TaskDone, ""); err != nil {
		t.Fatal(err)
	}
	if tk := m.task("t1"); tk.State != model.TaskDone || tk.Payload != nil || tk.Owner != "" {
		t.Errorf("after finish: %+v", tk)
	}
	if err := m.ReleaseLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if tk := m.task("t2"); tk.State != model.TaskPending || tk.Owner != "" {
		t.Errorf("after ReleaseLeases: t2 %+v, want pending without owner", tk)
	}
	if _, err := m.ActiveTask(ctx, "i1"); err != store.ErrNotFound {
		t.Errorf("ActiveTask(i1) = %v, want ErrNotFound", err)
	}
}
