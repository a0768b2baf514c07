package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/driver"
)

// replica is one Driver of several sharing a harness root, as hoard
// replicas on one data directory do, with its own events.
type replica struct {
	*Driver
	events chan driver.Event
}

func (h *harness) replica() *replica {
	h.t.Helper()
	events := make(chan driver.Event, 100)
	d := h.driver(func(c *Config) {
		c.Observer = func(ev driver.Event) { events <- ev }
		c.AdoptEvery = 20 * time.Millisecond
	})
	return &replica{Driver: d, events: events}
}

// event waits for the next event of r, which must be of kind k.
func (r *replica) event(t *testing.T, k driver.EventKind) {
	t.Helper()
	select {
	case ev := <-r.events:
		if ev.Kind != k {
			t.Fatalf("event %+v, want kind %s", ev, k)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s event", k)
	}
}

// quiet fails if r has reported an event.
func (r *replica) quiet(t *testing.T, who string) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Errorf("%s reported %+v, want no event", who, ev)
	default:
	}
}

// supervising reports whether r runs a supervisor for instance id.
func (r *replica) supervising(id string) bool {
	r.mu.Lock()
	inst := r.insts[id]
	r.mu.Unlock()
	if inst == nil {
		return false
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.sup != nil && !inst.sup.finished()
}

// enginePIDs lists the live fake engines of instance id under root.
func enginePIDs(t *testing.T, root, id string) []int {
	t.Helper()
	mark := filepath.Join(root, id) + "/"
	var pids []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(string(b), fakeBin+"\x00") || !strings.Contains(string(b), mark) {
			continue
		}
		if st, err := readStat(pid); err != nil || st.dead() {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// oneEngine checks that exactly the engine the handle records runs.
func (h *harness) oneEngine(id string) *handle {
	h.t.Helper()
	hd := h.handle(id)
	eventually(h.t, "one engine runs", func() bool {
		pids := enginePIDs(h.t, h.root, id)
		return len(pids) == 1 && pids[0] == hd.PID
	})
	return hd
}

// TestSharedRestartIsFollowed: B restarts an engine that A supervises; A's
// supervisor follows the new process instead of starting one of its own,
// and reports nothing; a later crash is A's to repair.
func TestSharedRestartIsFollowed(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a, b := h.replica(), h.replica()
	s := h.spec("fol")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	old := h.oneEngine("fol")
	if !a.supervising("fol") {
		t.Fatal("A started the engine but does not supervise it")
	}
	for i := range 3 {
		if err := b.Restart(ctx, s); err != nil {
			t.Fatal(err)
		}
		hd := h.oneEngine("fol")
		if hd.PID == old.PID || !hd.Want {
			t.Fatalf("restart %d: handle %+v, old pid %d", i, hd, old.PID)
		}
		if !gone(old.PID, old.StartTime) {
			t.Fatalf("restart %d: old engine %d still runs", i, old.PID)
		}
		waitReady(t, s)
		old = hd
	}
	if b.supervising("fol") {
		t.Error("B supervises although A does")
	}
	if !a.supervising("fol") {
		t.Fatal("A's supervisor ended after B's restarts")
	}
	a.quiet(t, "A")
	b.quiet(t, "B")

	// A follows the new process: it notices its crash and repairs it.
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.event(t, driver.EventExited)
	a.event(t, driver.EventRecovered)
	b.quiet(t, "B")
	hd := h.oneEngine("fol")
	if hd.PID == old.PID {
		t.Fatal("no new pid after the crash")
	}
	if err := a.Stop(ctx, "fol"); err != nil {
		t.Fatal(err)
	}
	if n := len(enginePIDs(t, h.root, "fol")); n != 0 {
		t.Errorf("%d engines after Stop", n)
	}
}

// TestSharedStopEndsSupervision: B stops an engine that A supervises; A's
// supervisor ends without starting it again.
func TestSharedStopEndsSupervision(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a, b := h.replica(), h.replica()
	s := h.spec("stp")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.oneEngine("stp")
	if err := b.Stop(ctx, "stp"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Fatal("engine still runs after B's Stop")
	}
	eventually(t, "A's supervisor ends", func() bool { return !a.supervising("stp") })
	if got := h.handle("stp"); got.Want || got.PID != 0 {
		t.Errorf("handle after Stop = %+v", got)
	}
	if n := len(enginePIDs(t, h.root, "stp")); n != 0 {
		t.Errorf("%d engines after Stop", n)
	}
	a.quiet(t, "A")
	// Nobody adopts a stopped engine; B can start it again.
	if b.supervising("stp") {
		t.Error("B supervises a stopped engine")
	}
	if err := b.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	h.oneEngine("stp")
	if !b.supervising("stp") {
		t.Error("B started the engine but does not supervise it")
	}
	if err := a.Destroy(ctx, "stp"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B's supervisor ends", func() bool { return !b.supervising("stp") })
	if exists(filepath.Join(h.root, "stp")) || exists(filepath.Join(h.root, locksName, "stp"+opSuffix)) {
		t.Error("instance directory or lock left after Destroy")
	}
	if n := len(enginePIDs(t, h.root, "stp")); n != 0 {
		t.Errorf("%d engines after Destroy", n)
	}
}

// TestSharedAdoption: the replica that supervised an engine goes away (its
// locks with it); another adopts the engine and repairs its crash.
func TestSharedAdoption(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a, b := h.replica(), h.replica()
	s := h.spec("adp")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	hd := h.oneEngine("adp")
	if b.supervising("adp") {
		t.Fatal("B adopted an engine A supervises")
	}
	if err := a.Close(); err != nil { // as if A died: the kernel drops its locks
		t.Fatal(err)
	}
	eventually(t, "B adopts the engine", func() bool { return b.supervising("adp") })
	if got := h.handle("adp"); got.PID != hd.PID {
		t.Fatalf("adoption replaced pid %d with %d", hd.PID, got.PID)
	}
	if err := syscall.Kill(hd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.event(t, driver.EventExited)
	b.event(t, driver.EventRecovered)
	hd2 := h.oneEngine("adp")
	if hd2.PID == hd.PID {
		t.Fatal("no new pid after the crash")
	}
	waitReady(t, s)

	// A new replica finds the engine supervised and leaves it alone.
	c := h.replica()
	if err := c.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	if c.supervising("adp") {
		t.Error("C supervises an engine B supervises")
	}
	if err := b.Stop(ctx, "adp"); err != nil {
		t.Fatal(err)
	}
	if n := len(enginePIDs(t, h.root, "adp")); n != 0 {
		t.Errorf("%d engines after Stop", n)
	}
}

// TestSharedAdoptionOfDeadEngine: the engine and its supervisor died
// together; another replica starts it again.
func TestSharedAdoptionOfDeadEngine(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a := h.replica()
	s := h.spec("dead")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.oneEngine("dead")
	a.Close()
	if err := syscall.Kill(hd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "engine is dead", func() bool { return gone(hd.PID, hd.StartTime) })
	b := h.replica()
	eventually(t, "B starts the engine again", func() bool {
		got := h.handle("dead")
		return got.PID != hd.PID && got.PID != 0 && b.supervising("dead")
	})
	h.oneEngine("dead")
	waitReady(t, s)
	if err := b.Stop(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
}

// TestSharedConcurrentOperations: starts and restarts from two replicas at
// once are serialised: one engine runs afterwards, supervised once.
func TestSharedConcurrentOperations(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a, b := h.replica(), h.replica()
	s := h.spec("conc")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		op   func(*replica) error
	}{
		{"start", func(r *replica) error { return r.Start(ctx, s) }},
		{"restart", func(r *replica) error { return r.Restart(ctx, s) }},
		{"restart again", func(r *replica) error { return r.Restart(ctx, s) }},
	}
	for _, tt := range tests {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, r := range []*replica{a, b} {
			wg.Go(func() { errs[i] = tt.op(r) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s by replica %d: %v", tt.name, i, err)
			}
		}
		h.oneEngine("conc")
		eventually(t, "exactly one replica supervises after "+tt.name, func() bool {
			return a.supervising("conc") != b.supervising("conc")
		})
		waitReady(t, s)
	}
	a.quiet(t, "A")
	b.quiet(t, "B")
	if err := b.Destroy(ctx, "conc"); err != nil {
		t.Fatal(err)
	}
	if n := len(enginePIDs(t, h.root, "conc")); n != 0 {
		t.Errorf("%d engines after Destroy", n)
	}
}

// TestSharedRecoverKeepsOthersInstances: a replica's Recover never reaps the
// instances of another replica, which its list from the store may lack
// (created since); once it is alone on the root, unknown ones go.
func TestSharedRecoverKeepsOthersInstances(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	a, b := h.replica(), h.replica()
	s := h.spec("new")
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.oneEngine("new")
	if err := b.Recover(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(h.root, "new")) || gone(hd.PID, hd.StartTime) {
		t.Fatal("B's Recover removed an instance of A")
	}
	a.Close()
	if err := b.Recover(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(h.root, "new")) || !gone(hd.PID, hd.StartTime) {
		t.Error("an orphan survived Recover with the root to itself")
	}
}
