package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// testStore is the real SQLite store (opened on a temp dir; the store
// conformance suite, internal/store/storetest, holds it to the store.Tasks
// contract) behind a thin layer for assertions: it logs every successful
// write with the task's state after it, injects failures, and wakes
// waiters on every change. Its writes are serialised, so the log is in
// commit order.
type testStore struct {
	t  *testing.T
	st *sqlite.Store

	mu  sync.Mutex
	log []write
	// claimCalls counts ClaimTask calls, found or not.
	claimCalls int
	// failures[op] makes the next calls of op ("renew", "advance",
	// "finish", "release") fail with errUnavailable; -1 fails them all.
	failures map[string]int
	changed  chan struct{} // closed and replaced on every change
}

// write is one write, as logged by testStore: the task's row after it.
type write struct {
	Op       string
	ID       string
	Owner    string // who wrote
	Step     int
	StepName string
	State    model.TaskState
	Lease    time.Time // the lease end asked for, by renew
}

var _ store.Tasks = (*testStore)(nil)

// template is an empty database at the latest schema, made once by
// TestMain: each test's store starts as a copy of it, which is several
// times faster than migrating a new database.
var template []byte

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hoard-task-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	st, err := sqlite.Open(context.Background(), path)
	if err == nil {
		err = st.Close() // checkpoints the WAL into the file
	}
	if err == nil {
		template, err = os.ReadFile(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "task tests: make the template database:", err)
		return 1
	}
	return m.Run()
}

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hoard.db")
	if err := os.WriteFile(path, template, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testStore{t: t, st: st, changed: make(chan struct{}), failures: map[string]int{}}
}

var errUnavailable = errors.New("teststore: database is locked")

// failNext makes the next n calls of op fail (n = -1: all of them).
func (m *testStore) failNext(op string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures[op] = n
}

// injected returns the injected failure of op, if any; m.mu must be held.
func (m *testStore) injected(op string) error {
	switch n := m.failures[op]; {
	case n == 0:
		return nil
	case n > 0:
		m.failures[op] = n - 1
	}
	m.append(write{Op: "failed-" + op})
	return errUnavailable
}

// append logs w and wakes waiters; m.mu must be held.
func (m *testStore) append(w write) {
	m.log = append(m.log, w)
	m.wake()
}

// wake wakes waiters; m.mu must be held.
func (m *testStore) wake() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// record logs w, a successful write of task w.ID, with the task's row as it
// is now; m.mu must be held.
func (m *testStore) record(w write) {
	if t, err := m.st.GetTask(context.Background(), w.ID); err == nil {
		w.Step, w.StepName, w.State = t.Step, t.StepName, t.State
	} else {
		m.t.Errorf("read task %s after %s: %v", w.ID, w.Op, err)
	}
	m.append(w)
}

// add inserts a pending task as given (step and step name included).
func (m *testStore) add(t model.Task) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.State = model.TaskPending
	if err := m.st.InsertTask(context.Background(), &t); err != nil {
		m.t.Fatalf("add task %s: %v", t.ID, err)
	}
	m.record(write{Op: "add", ID: t.ID})
}

// steal gives task id's lease to owner, as another runner would take it:
// by claiming it at a time after its lease ended (by owner's clock).
func (m *testStore) steal(id, owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx := context.Background()
	t, err := m.st.GetTask(ctx, id)
	if err != nil {
		m.t.Fatalf("steal %s: %v", id, err)
	}
	got, err := m.st.ClaimTask(ctx, owner, t.LeaseUntil.Add(time.Minute), time.Hour)
	if err != nil || got.ID != id {
		m.t.Fatalf("steal %s: claimed %v, %v", id, got, err)
	}
	m.record(write{Op: "steal", ID: id, Owner: owner})
}

// writes returns the log of writes from index from on.
func (m *testStore) writes(from int) []write {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log[min(from, len(m.log)):])
}

func (m *testStore) logLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// count counts the writes op of task id.
func (m *testStore) count(op, id string) int {
	n := 0
	for _, w := range m.writes(0) {
		if w.Op == op && w.ID == id {
			n++
		}
	}
	return n
}

func (m *testStore) claims() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claimCalls
}

// waitFor waits until cond holds, failing the test after a deadline. It
// checks cond again after every write, so it needs no sleeping.
func (m *testStore) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		ch := m.changed // taken before cond: a write during cond closes it
		m.mu.Unlock()
		if cond() {
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
func (m *testStore) waitState(t *testing.T, id string, state model.TaskState) {
	t.Helper()
	m.waitFor(t, fmt.Sprintf("task %s %s", id, state), func() bool {
		return m.task(id).State == state
	})
}

// task returns task id as stored.
func (m *testStore) task(id string) model.Task {
	t, err := m.st.GetTask(context.Background(), id)
	if err != nil {
		m.t.Errorf("get task %s: %v", id, err)
		return model.Task{}
	}
	return *t
}

// ClaimTask implements store.Tasks.
func (m *testStore) ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*model.Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claimCalls++
	t, err := m.st.ClaimTask(ctx, owner, now, lease)
	if err != nil {
		m.wake()
		return nil, err
	}
	m.record(write{Op: "claim", ID: t.ID, Owner: owner})
	return t, nil
}

// leased makes write w of a leased task with fn, unless a failure of w.Op
// is injected, and logs it if it succeeds.
func (m *testStore) leased(w write, fn func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.injected(w.Op); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	m.record(w)
	return nil
}

// RenewLease implements store.Tasks.
func (m *testStore) RenewLease(ctx context.Context, id, owner string, until time.Time) error {
	return m.leased(write{Op: "renew", ID: id, Owner: owner, Lease: until}, func() error {
		return m.st.RenewLease(ctx, id, owner, until)
	})
}

// AdvanceTask implements store.Tasks.
func (m *testStore) AdvanceTask(ctx context.Context, id, owner string, step int, stepName string, payload []byte) error {
	return m.leased(write{Op: "advance", ID: id, Owner: owner}, func() error {
		return m.st.AdvanceTask(ctx, id, owner, step, stepName, payload)
	})
}

// FinishTask implements store.Tasks.
func (m *testStore) FinishTask(ctx context.Context, id, owner string, state model.TaskState, errText string) error {
	return m.leased(write{Op: "finish", ID: id, Owner: owner}, func() error {
		return m.st.FinishTask(ctx, id, owner, state, errText)
	})
}

// ReleaseTask implements store.Tasks.
func (m *testStore) ReleaseTask(ctx context.Context, id, owner string) error {
	return m.leased(write{Op: "release", ID: id, Owner: owner}, func() error {
		return m.st.ReleaseTask(ctx, id, owner)
	})
}

// ReleaseLeases implements store.Tasks.
func (m *testStore) ReleaseLeases(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.st.ReleaseLeases(ctx); err != nil {
		return err
	}
	m.append(write{Op: "releaseLeases"})
	return nil
}

// GetTask implements store.Tasks.
func (m *testStore) GetTask(ctx context.Context, id string) (*model.Task, error) {
	return m.st.GetTask(ctx, id)
}

// ActiveTask implements store.Tasks.
func (m *testStore) ActiveTask(ctx context.Context, instanceID string) (*model.Task, error) {
	return m.st.ActiveTask(ctx, instanceID)
}

// fakeClock is the injected clock for leases. It starts on a whole second:
// the store keeps lease ends at second precision.
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
