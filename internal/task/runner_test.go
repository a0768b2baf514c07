package task

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

const kindCount model.TaskKind = "count"

// world holds the side effects of idempotent counting steps.
type world struct {
	mu      sync.Mutex
	effects map[string]int      // "task/step" -> times the effect was applied
	runs    map[string]int      // "task/step" -> times the step ran
	seen    map[string][]string // "task/step" -> payload seen by each run
}

func newWorld() *world {
	return &world{effects: map[string]int{}, runs: map[string]int{}, seen: map[string][]string{}}
}

// step returns an idempotent step: it applies its effect only if the effect
// does not exist yet, and appends its name to the payload.
func (w *world) step(name string) Step {
	return Step{Name: name, Run: func(ctx context.Context, e *Exec) error {
		key := e.Task.ID + "/" + name
		w.mu.Lock()
		defer w.mu.Unlock()
		w.runs[key]++
		w.seen[key] = append(w.seen[key], string(e.Payload()))
		if w.effects[key] == 0 { // check whether the effect exists, then act
			w.effects[key]++
		}
		e.SetPayload(append(bytes.Clone(e.Payload()), name+";"...))
		return nil
	}}
}

func (w *world) get(m map[string]int, key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return m[key]
}

func (w *world) definition(names ...string) Definition {
	d := Definition{Kind: kindCount}
	for _, n := range names {
		d.Steps = append(d.Steps, w.step(n))
	}
	return d
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testConfig polls only once an hour: every test must work from the first
// claim and Notify alone. Back-off is zero and leases use the fake clock.
func testConfig(t *testing.T, owner string, clk *fakeClock) Config {
	return Config{
		Owner:         owner,
		Workers:       1,
		Lease:         time.Minute,
		PollInterval:  time.Hour,
		MaxAttempts:   3,
		Backoff:       func(int) time.Duration { return 0 },
		ShutdownGrace: 10 * time.Second,
		Now:           clk.Now,
		Logger:        testLogger(t),
	}
}

// start runs r until the returned stop is called (or the test ends); stop
// cancels Run's context and waits for Run to return.
func start(t *testing.T, r *Runner) (stop func()) {
	t.Helper()
	cancel, wait := startCancel(t, r)
	return func() { cancel(); wait() }
}

// startCancel runs r; cancel cancels Run's context, wait waits for Run to
// return. Both are also called when the test ends.
func startCancel(t *testing.T, r *Runner) (cancel, wait func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	wait = func() {
		once.Do(func() {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run() = %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(func() { cancel(); wait() })
	return cancel, wait
}

// recv waits for a value on ch, failing the test after a deadline.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestStepsRunInOrder(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	var mu sync.Mutex
	var order []string
	step := func(name string) Step {
		return Step{Name: name, Run: func(ctx context.Context, e *Exec) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, fmt.Sprintf("%s@%d", name, e.Task.Step))
			return nil
		}}
	}
	r := New(st, testConfig(t, "a", clk))
	r.Register(Definition{Kind: kindCount, Steps: []Step{step("a"), step("b"), step("c")}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	start(t, r)
	st.waitState(t, "t1", model.TaskDone)

	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"a@0", "b@1", "c@2"}, order); diff != "" {
		t.Errorf("step order (-want +got):\n%s", diff)
	}
	var ops []string
	for _, w := range st.writes(0) {
		if w.Op != "renew" {
			ops = append(ops, fmt.Sprintf("%s:%d:%s", w.Op, w.Step, w.StepName))
		}
	}
	// Each advance records the next step by index and by name.
	want := []string{"add:0:", "claim:0:", "advance:1:b", "advance:2:c", "advance:3:(end)", "finish:3:(end)"}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("store writes (-want +got):\n%s", diff)
	}
	if tk := st.task("t1"); tk.Error != "" || tk.Owner != "" {
		t.Errorf("finished task = %+v, want no error and no owner", tk)
	}
}

func TestPayloadPersistsBetweenSteps(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	cfg := testConfig(t, "a", clk)
	stored := map[string]string{}
	cfg.Hook = func(tk *model.Task, step string, ph Phase) error {
		if ph == PhaseRecorded {
			stored[step] = string(st.task(tk.ID).Payload)
		}
		return nil
	}
	var seen []string
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{
		{Name: "set", Run: func(ctx context.Context, e *Exec) error {
			seen = append(seen, string(e.Payload()))
			e.SetPayload([]byte("vol-1"))
			return nil
		}},
		{Name: "keep", Run: func(ctx context.Context, e *Exec) error {
			seen = append(seen, string(e.Payload()))
			return nil // no SetPayload: the stored payload stays
		}},
		{Name: "replace", Run: func(ctx context.Context, e *Exec) error {
			seen = append(seen, string(e.Payload()))
			if e.Attempt == 1 {
				e.SetPayload([]byte("lost")) // a failed attempt's payload is discarded
				return errors.New("transient")
			}
			e.SetPayload(append(bytes.Clone(e.Payload()), "+addr"...))
			return nil
		}},
	}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount, Payload: []byte("init")})
	start(t, r)
	st.waitState(t, "t1", model.TaskDone)

	if diff := cmp.Diff([]string{"init", "vol-1", "vol-1", "vol-1"}, seen); diff != "" {
		t.Errorf("payloads seen by steps (-want +got):\n%s", diff)
	}
	want := map[string]string{"set": "vol-1", "keep": "vol-1", "replace": "vol-1+addr"}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("payload stored after each step (-want +got):\n%s", diff)
	}
	if p := st.task("t1").Payload; p != nil {
		t.Errorf("payload after finish = %q, want nil", p)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	cfg := testConfig(t, "a", clk)
	cfg.MaxAttempts = 5
	var backoffs []int
	cfg.Backoff = func(n int) time.Duration { backoffs = append(backoffs, n); return time.Millisecond }
	runs := 0
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "flaky", Run: func(ctx context.Context, e *Exec) error {
		runs++
		if e.Attempt != runs {
			t.Errorf("Exec.Attempt = %d, want %d", e.Attempt, runs)
		}
		if runs < 3 {
			return fmt.Errorf("engine not ready: %w", errors.New("connection refused"))
		}
		return nil
	}}}, OnFailure: func(context.Context, *model.Task, error) error {
		t.Error("OnFailure called for a task that succeeded")
		return nil
	}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	start(t, r)
	st.waitState(t, "t1", model.TaskDone)
	if runs != 3 {
		t.Errorf("step ran %d times, want 3", runs)
	}
	if diff := cmp.Diff([]int{1, 2}, backoffs); diff != "" {
		t.Errorf("Backoff calls (-want +got):\n%s", diff)
	}
}

var errBoom = errors.New("boom")

func TestFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		run      func() error
		wantRuns int
		wantText string
	}{
		{"permanent", func() error { return Permanent(fmt.Errorf("bad flavor: %w", errBoom)) }, 1, "step fail: bad flavor: boom"},
		{"retries exhausted", func() error { return fmt.Errorf("disk full: %w", errBoom) }, 3, "step fail: disk full: boom"},
		{"panic", func() error { panic("nil map") }, 1, "step fail: panic: nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clk := newTestStore(t), newFakeClock()
			w := newWorld()
			runs := 0
			var causes []error
			r := New(st, testConfig(t, "a", clk))
			r.Register(Definition{
				Kind: kindCount,
				Steps: []Step{w.step("first"), {Name: "fail", Run: func(context.Context, *Exec) error {
					runs++
					return tt.run()
				}}, w.step("never")},
				OnFailure: func(ctx context.Context, tk *model.Task, cause error) error {
					if got := st.task(tk.ID); got.State != model.TaskRunning {
						t.Errorf("task state during OnFailure = %s, want running", got.State)
					}
					causes = append(causes, cause)
					return nil
				},
			})
			st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
			start(t, r)
			st.waitState(t, "t1", model.TaskFailed)

			if runs != tt.wantRuns {
				t.Errorf("failing step ran %d times, want %d", runs, tt.wantRuns)
			}
			if len(causes) != 1 {
				t.Fatalf("OnFailure called %d times, want 1", len(causes))
			}
			if got := causes[0].Error(); got != tt.wantText {
				t.Errorf("OnFailure cause = %q, want %q", got, tt.wantText)
			}
			if tt.name != "panic" && !errors.Is(causes[0], errBoom) {
				t.Errorf("OnFailure cause %v does not wrap the step's error", causes[0])
			}
			if got := st.task("t1"); got.Error != tt.wantText || got.Step != 1 {
				t.Errorf("failed task: step %d error %q, want step 1 error %q", got.Step, got.Error, tt.wantText)
			}
			if n := w.get(w.runs, "t1/never"); n != 0 {
				t.Errorf("step after the failure ran %d times", n)
			}
			if n := st.count("finish", "t1"); n != 1 {
				t.Errorf("FinishTask called %d times, want 1", n)
			}
		})
	}
}

func TestOnFailureRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failures  int // OnFailure fails this many times first
		wantCalls int
	}{
		{"succeeds on third call", 2, 3},
		{"always fails", 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clk := newTestStore(t), newFakeClock()
			calls := 0
			r := New(st, testConfig(t, "a", clk))
			r.Register(Definition{
				Kind:  kindCount,
				Steps: []Step{{Name: "fail", Run: func(context.Context, *Exec) error { return Permanent(errBoom) }}},
				OnFailure: func(context.Context, *model.Task, error) error {
					calls++
					if calls <= tt.failures {
						return errors.New("store busy")
					}
					return nil
				},
			})
			st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
			start(t, r)
			st.waitState(t, "t1", model.TaskFailed)
			if calls != tt.wantCalls {
				t.Errorf("OnFailure called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestUnknownKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stepName string
		want     string
	}{
		{"new task", "", `task: unknown kind "resize-cluster"`},
		{"under way", "grow", `task: unknown kind "resize-cluster" (next step "grow")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clk := newTestStore(t), newFakeClock()
			r := New(st, testConfig(t, "a", clk))
			st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: "resize-cluster", Step: 1, StepName: tt.stepName})
			start(t, r)
			st.waitState(t, "t1", model.TaskFailed)
			if got := st.task("t1").Error; got != tt.want {
				t.Errorf("error text = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestResumeByStepName resumes tasks recorded by another definition of
// their kind (an older or newer hoard): at the step of the recorded name
// wherever it is now, or at the recorded index for a task recorded before
// step names.
func TestResumeByStepName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		step     int    // recorded index
		stepName string // recorded name
		steps    []string
		wantRuns []string
	}{
		{"step inserted before", 1, "b", []string{"a", "x", "b", "c"}, []string{"b", "c"}},
		{"step inserted after", 1, "b", []string{"a", "b", "x", "c"}, []string{"b", "x", "c"}},
		{"step removed before", 2, "c", []string{"b", "c"}, []string{"c"}},
		{"steps reordered", 1, "b", []string{"c", "b", "a"}, []string{"b", "a"}},
		{"unchanged", 1, "b", []string{"a", "b", "c"}, []string{"b", "c"}},
		{"every step done", 3, EndOfSteps, []string{"a", "x", "b", "c"}, nil},
		{"recorded before step names", 1, "", []string{"a", "b", "c"}, []string{"b", "c"}},
		{"new task", 0, "", []string{"a", "b", "c"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clk := newTestStore(t), newFakeClock()
			var mu sync.Mutex
			var runs []string
			def := Definition{Kind: kindCount, OnFailure: func(_ context.Context, _ *model.Task, cause error) error {
				t.Errorf("OnFailure(%v) called", cause)
				return nil
			}}
			for _, n := range tt.steps {
				def.Steps = append(def.Steps, Step{Name: n, Run: func(ctx context.Context, e *Exec) error {
					mu.Lock()
					defer mu.Unlock()
					if e.Task.StepName != "" && e.Task.StepName != n {
						t.Errorf("step %s runs with task at step %q", n, e.Task.StepName)
					}
					runs = append(runs, n)
					return nil
				}})
			}
			r := New(st, testConfig(t, "a", clk))
			r.Register(def)
			st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount, Step: tt.step, StepName: tt.stepName})
			start(t, r)
			st.waitState(t, "t1", model.TaskDone)
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(tt.wantRuns, runs); diff != "" {
				t.Errorf("steps run (-want +got):\n%s", diff)
			}
			wantStep := len(tt.steps)
			if len(tt.wantRuns) == 0 {
				wantStep = tt.step // nothing more recorded
			}
			if got := st.task("t1"); got.Step != wantStep || got.StepName != EndOfSteps || got.Error != "" {
				t.Errorf("done task at step %d %q error %q, want %d %q no error",
					got.Step, got.StepName, got.Error, wantStep, EndOfSteps)
			}
		})
	}
}

// TestResumeAfterStepInserted crashes a runner of definition [a, b, c] once
// step a is recorded, and resumes the task on a runner of a new definition
// that inserted step x before b: it runs b and c, not x nor a again.
func TestResumeAfterStepInserted(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	cfgA := testConfig(t, "a", clk)
	cfgA.Hook = func(tk *model.Task, step string, p Phase) error {
		if step == "a" && p == PhaseRecorded {
			return ErrCrash
		}
		return nil
	}
	a := New(st, cfgA)
	a.Register(w.definition("a", "b", "c"))
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	stopA := start(t, a)
	st.waitFor(t, "step a recorded", func() bool { return st.count("advance", "t1") == 1 })
	stopA()
	if got := st.task("t1"); got.Step != 1 || got.StepName != "b" {
		t.Fatalf("task after step a = step %d %q, want 1 b", got.Step, got.StepName)
	}

	clk.Advance(time.Hour) // a's lease runs out
	b := New(st, testConfig(t, "b", clk))
	b.Register(w.definition("a", "x", "b", "c"))
	start(t, b)
	st.waitState(t, "t1", model.TaskDone)
	for step, want := range map[string]int{"a": 1, "x": 0, "b": 1, "c": 1} {
		if got := w.get(w.runs, "t1/"+step); got != want {
			t.Errorf("step %s ran %d times, want %d", step, got, want)
		}
	}
	// Runner b records its own indexes: b is its step 2.
	var advances []string
	for _, wr := range st.writes(0) {
		if wr.Op == "advance" {
			advances = append(advances, fmt.Sprintf("%s:%d:%s", wr.Owner, wr.Step, wr.StepName))
		}
	}
	if diff := cmp.Diff([]string{"a:1:b", "b:3:c", "b:4:(end)"}, advances); diff != "" {
		t.Errorf("advances (-want +got):\n%s", diff)
	}
	if got := w.get(w.effects, "t1/b"); got != 1 {
		t.Errorf("effect of b applied %d times, want 1", got)
	}
}

// TestUnknownStep fails a task whose recorded next step is not in its
// kind's definition: the runner cannot tell where it is, so it runs no step,
// and OnFailure records the failure on the instance.
func TestUnknownStep(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	var causes []string
	def := w.definition("a", "b")
	def.OnFailure = func(_ context.Context, tk *model.Task, cause error) error {
		causes = append(causes, cause.Error())
		return nil
	}
	r := New(st, testConfig(t, "a", clk))
	r.Register(def)
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount, Step: 1, StepName: "grow"})
	start(t, r)
	st.waitState(t, "t1", model.TaskFailed)

	want := `task: kind "count" has no step "grow" (the task was recorded by a hoard with other steps)`
	if got := st.task("t1"); got.Error != want || got.Step != 1 || got.StepName != "grow" {
		t.Errorf("failed task = step %d %q error %q, want step 1 grow error %q", got.Step, got.StepName, got.Error, want)
	}
	if diff := cmp.Diff([]string{want}, causes); diff != "" {
		t.Errorf("OnFailure causes (-want +got):\n%s", diff)
	}
	for _, n := range []string{"a", "b"} {
		if got := w.get(w.runs, "t1/"+n); got != 0 {
			t.Errorf("step %s ran %d times, want 0", n, got)
		}
	}
}

func TestRegisterRefuses(t *testing.T) {
	t.Parallel()
	run := func(context.Context, *Exec) error { return nil }
	tests := []struct {
		name string
		def  Definition
	}{
		{"no kind", Definition{Steps: []Step{{Name: "a", Run: run}}}},
		{"no step name", Definition{Kind: kindCount, Steps: []Step{{Run: run}}}},
		{"no Run", Definition{Kind: kindCount, Steps: []Step{{Name: "a"}}}},
		{"two steps of one name", Definition{Kind: kindCount, Steps: []Step{{Name: "a", Run: run}, {Name: "a", Run: run}}}},
		{"reserved name", Definition{Kind: kindCount, Steps: []Step{{Name: EndOfSteps, Run: run}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s) did not panic", tt.name)
				}
			}()
			New(newTestStore(t), Config{}).Register(tt.def)
		})
	}
}

// TestCrashAtEveryStepBoundary kills the runner (Hook returns ErrCrash) at
// each step and phase, checks that nothing more was written, and lets a
// second runner resume after the lease expires or after ReleaseLeases.
func TestCrashAtEveryStepBoundary(t *testing.T) {
	t.Parallel()
	names := []string{"alloc", "init", "start"}
	for idx := range names {
		for _, ph := range []Phase{PhaseBefore, PhaseAfter, PhaseRecorded} {
			for _, resume := range []string{"lease expiry", "release leases"} {
				t.Run(fmt.Sprintf("%s/%s/%s", names[idx], ph, resume), func(t *testing.T) {
					t.Parallel()
					testCrash(t, names, idx, ph, resume)
				})
			}
		}
	}
}

func testCrash(t *testing.T, names []string, idx int, ph Phase, resume string) {
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	cfgA := testConfig(t, "a", clk)
	// A short real lease period: renewals tick every 10ms, so a runner
	// that kept renewing after the crash would be caught.
	cfgA.Lease = 30 * time.Millisecond
	crashed := make(chan int, 1)
	cfgA.Hook = func(tk *model.Task, step string, p Phase) error {
		if step == names[idx] && p == ph {
			crashed <- st.logLen()
			return ErrCrash
		}
		return nil
	}
	a := New(st, cfgA)
	a.Register(w.definition(names...))
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount, Payload: []byte("p:")})
	stopA := start(t, a)
	mark := recv(t, crashed, "the crash")
	// Give runner A's renewal ticker time to misbehave: run a second task
	// until it has been renewed twice (at least 20ms of real time).
	probeDone := make(chan struct{})
	a.Register(Definition{Kind: "probe", Steps: []Step{{Name: "wait", Run: func(ctx context.Context, e *Exec) error {
		select {
		case <-probeDone:
		case <-ctx.Done():
		}
		return nil
	}}}})
	st.add(model.Task{ID: "probe", InstanceID: "i2", Kind: "probe"})
	a.Notify()
	st.waitFor(t, "probe renewals", func() bool { return st.count("renew", "probe") >= 2 })
	close(probeDone)
	st.waitState(t, "probe", model.TaskDone)
	stopA()

	for _, wr := range st.writes(mark) {
		if wr.ID == "t1" {
			t.Errorf("write after the crash: %+v", wr)
		}
	}
	wantStep := idx
	if ph == PhaseRecorded {
		wantStep = idx + 1
	}
	wantName := EndOfSteps
	switch {
	case wantStep == 0:
		wantName = "" // no step recorded yet
	case wantStep < len(names):
		wantName = names[wantStep]
	}
	if got := st.task("t1"); got.State != model.TaskRunning || got.Owner != "a" || got.Step != wantStep || got.StepName != wantName {
		t.Fatalf("task after crash: state %s owner %q step %d %q, want running a %d %q",
			got.State, got.Owner, got.Step, got.StepName, wantStep, wantName)
	}

	switch resume {
	case "lease expiry":
		clk.Advance(time.Minute)
	case "release leases":
		if err := st.ReleaseLeases(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	b := New(st, testConfig(t, "b", clk))
	b.Register(w.definition(names...))
	start(t, b)
	st.waitState(t, "t1", model.TaskDone)

	for i, n := range names {
		key := "t1/" + n
		if got := w.get(w.effects, key); got != 1 {
			t.Errorf("effect of %s applied %d times, want 1", n, got)
		}
		wantRuns := 1
		if i == idx && ph == PhaseAfter {
			wantRuns = 2 // ran, crashed before being recorded, ran again
		}
		if got := w.get(w.runs, key); got != wantRuns {
			t.Errorf("step %s ran %d times, want %d", n, got, wantRuns)
		}
		wantSeen := "p:" + strings.Join(names[:i], ";")
		if i > 0 {
			wantSeen += ";"
		}
		w.mu.Lock()
		for _, s := range w.seen[key] {
			if s != wantSeen {
				t.Errorf("step %s saw payload %q, want %q", n, s, wantSeen)
			}
		}
		w.mu.Unlock()
	}
	if n := st.count("finish", "t1"); n != 1 {
		t.Errorf("FinishTask called %d times, want 1", n)
	}
	var owners []string
	for _, wr := range st.writes(0) {
		if wr.ID == "t1" && wr.Op == "finish" {
			owners = append(owners, wr.Owner)
		}
	}
	if diff := cmp.Diff([]string{"b"}, owners); diff != "" {
		t.Errorf("finished by (-want +got):\n%s", diff)
	}
}

func TestLeaseLostMidStep(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	cfg := testConfig(t, "a", clk)
	cfg.Lease = 30 * time.Millisecond // renew every 10ms (real time)
	started := make(chan struct{})
	cause := make(chan error, 1)
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "long", Run: func(ctx context.Context, e *Exec) error {
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return fmt.Errorf("wait for engine: %w", ctx.Err())
	}}}, OnFailure: func(context.Context, *model.Task, error) error {
		t.Error("OnFailure called after a lost lease")
		return nil
	}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	stop := start(t, r)
	recv(t, started, "the step to start")
	mark := st.logLen()
	st.steal("t1", "thief")
	if err := recv(t, cause, "the step's context to be cancelled"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("step context cause = %v, want ErrLeaseLost", err)
	}
	stop()
	steal := false
	for _, wr := range st.writes(mark) {
		steal = steal || wr.Op == "steal"
		if steal && wr.Owner == "a" {
			t.Errorf("runner a wrote after losing its lease: %+v", wr)
		}
	}
	if got := st.task("t1"); got.State != model.TaskRunning || got.Owner != "thief" || got.Step != 0 {
		t.Errorf("task = %+v, want still running under thief at step 0", got)
	}
}

func TestShutdownHandsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		grace    time.Duration
		finishes bool // the blocked step finishes within the grace period
		wantStep int  // where the task is handed back
		wantRuns int  // runs of the blocked step in total
	}{
		{"step cancelled after grace", time.Millisecond, false, 1, 2},
		{"step finishes within grace", time.Minute, true, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, clk := newTestStore(t), newFakeClock()
			w := newWorld()
			cfg := testConfig(t, "a", clk)
			cfg.ShutdownGrace = tt.grace
			started := make(chan struct{})
			release := make(chan struct{})
			var mu sync.Mutex
			runs := 0
			blocking := Step{Name: "block", Run: func(ctx context.Context, e *Exec) error {
				mu.Lock()
				runs++
				first := runs == 1
				mu.Unlock()
				if !first {
					return nil
				}
				close(started)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-release:
					return nil
				}
			}}
			def := Definition{Kind: kindCount, Steps: []Step{w.step("one"), blocking, w.step("three")},
				OnFailure: func(context.Context, *model.Task, error) error {
					t.Error("OnFailure called at shutdown")
					return nil
				}}
			a := New(st, cfg)
			a.Register(def)
			st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
			cancelA, waitA := startCancel(t, a)
			recv(t, started, "the blocking step")
			cancelA()
			if tt.finishes {
				close(release)
			}
			waitA()

			got := st.task("t1")
			if got.State != model.TaskPending || got.Owner != "" || got.Step != tt.wantStep || got.Error != "" {
				t.Fatalf("task after shutdown = state %s owner %q step %d error %q, want pending, no owner, step %d",
					got.State, got.Owner, got.Step, got.Error, tt.wantStep)
			}
			if n := st.count("release", "t1"); n != 1 {
				t.Errorf("ReleaseTask called %d times, want 1", n)
			}
			// No clock advance: the task is claimable at once.
			b := New(st, testConfig(t, "b", clk))
			b.Register(def)
			start(t, b)
			st.waitState(t, "t1", model.TaskDone)
			mu.Lock()
			defer mu.Unlock()
			if runs != tt.wantRuns {
				t.Errorf("blocking step ran %d times, want %d", runs, tt.wantRuns)
			}
			if n := w.get(w.runs, "t1/one"); n != 1 {
				t.Errorf("first step ran %d times, want 1", n)
			}
		})
	}
}

func TestNotifyWakesWorker(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	r := New(st, testConfig(t, "a", clk)) // polls once an hour
	r.Register(w.definition("x"))
	start(t, r)
	st.waitFor(t, "the worker's first claim", func() bool { return st.claims() > 0 })
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	r.Notify()
	st.waitState(t, "t1", model.TaskDone)
}

func TestLeaseRenewed(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	cfg := testConfig(t, "a", clk)
	cfg.Lease = 30 * time.Millisecond // renew every 10ms (real time)
	started, finish := make(chan struct{}), make(chan struct{})
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "slow", Run: func(ctx context.Context, e *Exec) error {
		close(started)
		select {
		case <-finish:
		case <-ctx.Done():
		}
		return ctx.Err()
	}}}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	start(t, r)
	recv(t, started, "the step")
	clk.Advance(time.Hour)
	// Renewals must compute the lease end on the injected clock.
	st.waitFor(t, "a renewal on the injected clock", func() bool {
		ws := st.writes(0)
		for i := len(ws) - 1; i >= 0; i-- {
			if ws[i].Op == "renew" {
				return ws[i].Lease.Equal(clk.Now().Add(30 * time.Millisecond))
			}
		}
		return false
	})
	close(finish)
	st.waitState(t, "t1", model.TaskDone)
}

// TestManyTasksTwoRunners runs 50 tasks on two runners: each task finishes
// exactly once and each step's effect is applied once.
func TestManyTasksTwoRunners(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	names := []string{"s1", "s2", "s3"}
	var runners []*Runner
	for _, owner := range []string{"a", "b"} {
		cfg := testConfig(t, owner, clk)
		cfg.Workers = 4
		r := New(st, cfg)
		r.Register(w.definition(names...))
		start(t, r)
		runners = append(runners, r)
	}
	const n = 50
	for i := range n {
		st.add(model.Task{ID: fmt.Sprintf("t%02d", i), InstanceID: fmt.Sprintf("i%02d", i), Kind: kindCount})
		runners[i%2].Notify()
	}
	st.waitFor(t, "all tasks finished", func() bool {
		finished := 0
		for _, wr := range st.writes(0) {
			if wr.Op == "finish" {
				finished++
			}
		}
		return finished >= n
	})
	finishes := map[string]int{}
	owners := map[string]int{}
	for _, wr := range st.writes(0) {
		if wr.Op == "finish" {
			finishes[wr.ID]++
			owners[wr.Owner]++
		}
	}
	for i := range n {
		id := fmt.Sprintf("t%02d", i)
		if finishes[id] != 1 {
			t.Errorf("task %s finished %d times, want 1", id, finishes[id])
		}
		if got := st.task(id); got.State != model.TaskDone {
			t.Errorf("task %s is %s, want done", id, got.State)
		}
		for _, s := range names {
			if got := w.get(w.runs, id+"/"+s); got != 1 {
				t.Errorf("step %s/%s ran %d times, want 1", id, s, got)
			}
		}
	}
	t.Logf("tasks finished per runner: %v", owners)
}

func TestLogAttributes(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	var buf syncBuffer
	cfg := testConfig(t, "a", clk)
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	r := New(st, cfg)
	fails := 0
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "flaky", Run: func(context.Context, *Exec) error {
		fails++
		if fails == 1 {
			return errBoom
		}
		return nil
	}}}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	stop := start(t, r)
	st.waitState(t, "t1", model.TaskDone)
	stop()
	var retry map[string]any
	for line := range strings.Lines(buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "task: step failed, will retry" {
			retry = m
		}
	}
	if retry == nil {
		t.Fatalf("no retry log in:\n%s", buf.String())
	}
	want := map[string]any{"task_id": "t1", "instance_id": "i1", "step": "flaky", "attempt": 1.0, "err": "boom"}
	for k, v := range want {
		if retry[k] != v {
			t.Errorf("retry log %s = %v, want %v", k, retry[k], v)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	err := fmt.Errorf("create volume: %w", Permanent(errBoom))
	if !IsPermanent(err) || !errors.Is(err, errBoom) {
		t.Errorf("IsPermanent(%v) = %v, errors.Is boom = %v; want true, true", err, IsPermanent(err), errors.Is(err, errBoom))
	}
	if IsPermanent(errBoom) || IsPermanent(nil) {
		t.Error("IsPermanent of an unmarked error = true")
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 200 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{5, 3200 * time.Millisecond},
		{6, 5 * time.Second},
		{100, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := DefaultBackoff(tt.attempt); got != tt.want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestPhaseString(t *testing.T) {
	t.Parallel()
	for p, want := range map[Phase]string{PhaseBefore: "before", PhaseAfter: "after", PhaseRecorded: "recorded", Phase(9): "phase(9)"} {
		if got := p.String(); got != want {
			t.Errorf("Phase(%d).String() = %q, want %q", int(p), got, want)
		}
	}
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	started := make(chan struct{})
	cfg := testConfig(t, "a", clk)
	cfg.ShutdownGrace = time.Millisecond
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "block", Run: func(ctx context.Context, e *Exec) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}}}})
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	start(t, r)
	recv(t, started, "the step")
	if err := r.Run(context.Background()); err == nil {
		t.Error("second Run() = nil, want an error")
	}
}

func TestStoreWriteRetried(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	r := New(st, testConfig(t, "a", clk)) // MaxAttempts 3
	r.Register(w.definition("x", "y"))
	st.failNext("advance", 2)
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	start(t, r)
	st.waitState(t, "t1", model.TaskDone)
	for _, n := range []string{"x", "y"} {
		if got := w.get(w.runs, "t1/"+n); got != 1 {
			t.Errorf("step %s ran %d times, want 1 (only the store write is retried)", n, got)
		}
	}
}

func TestStoreWriteGivesUp(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	w := newWorld()
	r := New(st, testConfig(t, "a", clk))
	r.Register(w.definition("x"))
	st.failNext("advance", -1)
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	stop := start(t, r)
	st.waitFor(t, "three failed advances", func() bool { return st.count("failed-advance", "") == 3 })
	stop()
	// The task is abandoned, not failed: its lease runs out and another
	// runner repeats the (idempotent) step.
	if got := st.task("t1"); got.State != model.TaskRunning || got.Step != 0 {
		t.Errorf("task = state %s step %d, want running at step 0", got.State, got.Step)
	}
	st.failNext("advance", 0)
	clk.Advance(time.Hour)
	b := New(st, testConfig(t, "b", clk))
	b.Register(w.definition("x"))
	start(t, b)
	st.waitState(t, "t1", model.TaskDone)
	if got := w.get(w.effects, "t1/x"); got != 1 {
		t.Errorf("effect applied %d times, want 1", got)
	}
}

// TestRenewalFailsUntilLeaseEnds checks self-fencing: when renewals keep
// failing and the lease has run out (by the injected clock), the runner
// cancels the step and drops the task, since another runner may own it.
func TestRenewalFailsUntilLeaseEnds(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t), newFakeClock()
	cfg := testConfig(t, "a", clk)
	cfg.Lease = 30 * time.Millisecond
	cfg.ShutdownGrace = time.Millisecond
	started := make(chan struct{})
	cause := make(chan error, 1)
	var once sync.Once
	r := New(st, cfg)
	r.Register(Definition{Kind: kindCount, Steps: []Step{{Name: "long", Run: func(ctx context.Context, e *Exec) error {
		once.Do(func() {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
		})
		// Once the lease ran out the task is claimable again (here by the
		// same runner); later runs just wait for shutdown.
		<-ctx.Done()
		return ctx.Err()
	}}}})
	st.failNext("renew", -1)
	st.add(model.Task{ID: "t1", InstanceID: "i1", Kind: kindCount})
	stop := start(t, r)
	recv(t, started, "the step")
	st.waitFor(t, "a failed renewal", func() bool { return st.count("failed-renew", "") > 0 })
	clk.Advance(time.Minute)
	if err := recv(t, cause, "the step's context to be cancelled"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("step context cause = %v, want ErrLeaseLost", err)
	}
	stop()
	claims := 0
	for _, wr := range st.writes(0) {
		if wr.Op == "claim" {
			claims++
		}
		if claims == 1 && (wr.Op == "advance" || wr.Op == "finish" || wr.Op == "release") {
			t.Errorf("write after the lease ran out: %+v", wr)
		}
	}
}
