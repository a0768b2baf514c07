package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// outcome is how the run of a task in this runner ended.
type outcome int

const (
	outNext      outcome = iota // the step is recorded; go on (internal to steps)
	outDone                     // every step is done: finish done
	outFailed                   // failed permanently: finish failed
	outRelease                  // shutting down: hand the task back
	outLeaseLost                // another runner owns the task: write nothing
	outCrashed                  // a hook simulated a crash: write nothing
	outAbandon                  // the store kept failing: leave the lease to expire
)

// errCrashed is returned by writes attempted after a simulated crash.
var errCrashed = errors.New("task: runner crashed")

// run is one task in the hands of this runner.
type run struct {
	r      *Runner
	t      *model.Task // this runner's copy; Step and Payload follow the store
	def    Definition
	log    *slog.Logger
	runCtx context.Context // done when the runner shuts down
	// ctx is what steps run under: done when the shutdown grace ends or the
	// lease is lost (cause store.ErrLeaseLost).
	ctx    context.Context
	cancel context.CancelCauseFunc

	// mu serialises store writes, lease renewals and hook calls, so that
	// once a hook has returned ErrCrash nothing more reaches the store.
	mu         sync.Mutex
	crashed    bool
	leaseUntil time.Time
}

// runTask runs claimed task t to its end in this runner.
func (r *Runner) runTask(runCtx, hard context.Context, t *model.Task) {
	x := &run{
		r:          r,
		t:          t,
		log:        r.log.With("task_id", t.ID, "instance_id", t.InstanceID, "kind", string(t.Kind)),
		runCtx:     runCtx,
		ctx:        hard,
		leaseUntil: t.LeaseUntil,
	}
	def, ok := r.definition(t.Kind)
	if !ok {
		// Without a definition there is no OnFailure to run either.
		err := fmt.Errorf("task: unknown kind %q", t.Kind)
		if t.StepName != "" {
			err = fmt.Errorf("task: unknown kind %q (next step %q)", t.Kind, t.StepName)
		}
		x.log.Error("task: cannot run", "err", err)
		x.finish(model.TaskFailed, err)
		return
	}
	x.def = def
	x.ctx, x.cancel = context.WithCancelCause(hard)
	defer x.cancel(nil)

	renewed := make(chan struct{})
	go x.renewLoop(renewed)
	out, cause := x.steps()
	// Stop renewing before the last write, and for good after a crash.
	x.cancel(errStopped)
	<-renewed

	switch out {
	case outDone:
		x.finish(model.TaskDone, nil)
	case outFailed:
		x.finish(model.TaskFailed, cause)
	case outRelease:
		x.release()
	case outLeaseLost:
		x.log.Warn("task: lease lost, another runner owns the task now", "step", x.t.Step)
	case outCrashed:
		x.log.Warn("task: simulated crash, abandoning the task", "step", x.t.Step)
	case outAbandon:
		x.log.Error("task: store unavailable, abandoning the task until its lease ends", "step", x.t.Step)
	}
}

// errStopped cancels the task context when the task's run here is over.
var errStopped = errors.New("task: run over")

// steps runs the remaining steps, and OnFailure if one fails permanently.
func (x *run) steps() (outcome, error) {
	i, err := x.resume()
	if err != nil {
		return x.fail(Permanent(err))
	}
	if i != x.t.Step {
		x.log.Info("task: resuming by step name, at another index than recorded",
			"step", x.t.StepName, "recorded_index", x.t.Step, "index", i)
		x.t.Step = i
	}
	for x.t.Step < len(x.def.Steps) {
		if x.runCtx.Err() != nil {
			return outRelease, nil
		}
		out, err := x.step(x.def.Steps[x.t.Step])
		switch out {
		case outNext:
			continue
		case outFailed:
			return x.fail(err)
		default:
			return out, nil
		}
	}
	return outDone, nil
}

// resume returns the index in the definition of the task's next step: the
// step named by the task, or its recorded index if it has no name (it was
// recorded before step names, or has run no step yet).
func (x *run) resume() (int, error) {
	switch name := x.t.StepName; name {
	case "":
		if x.t.Step < 0 {
			return 0, fmt.Errorf("task: invalid step index %d", x.t.Step)
		}
		return x.t.Step, nil
	case EndOfSteps:
		return len(x.def.Steps), nil
	default:
		for i, s := range x.def.Steps {
			if s.Name == name {
				return i, nil
			}
		}
		return 0, fmt.Errorf("task: kind %q has no step %q (the task was recorded by a hoard with other steps)",
			x.def.Kind, name)
	}
}

// nextName is the step name recorded once step idx is done.
func (x *run) nextName(idx int) string {
	if idx+1 < len(x.def.Steps) {
		return x.def.Steps[idx+1].Name
	}
	return EndOfSteps
}

// step runs one step, with retries, and records its completion.
func (x *run) step(s Step) (outcome, error) {
	idx := x.t.Step
	for attempt := 1; ; attempt++ {
		log := x.log.With("step", s.Name, "attempt", attempt)
		e := &Exec{Task: x.t, Attempt: attempt, Logger: log, payload: x.t.Payload}
		crashed, err := x.hook(s.Name, PhaseBefore)
		if err == nil {
			err = x.call(s, e, log)
		}
		if err == nil {
			crashed, err = x.hook(s.Name, PhaseAfter)
		}
		if crashed {
			return outCrashed, nil
		}
		if err == nil {
			return x.advance(idx, s.Name, e)
		}
		if out, stop := x.stopped(); stop {
			log.Info("task: step interrupted", "err", err)
			return out, nil
		}
		if IsPermanent(err) || attempt >= x.r.cfg.MaxAttempts {
			log.Error("task: step failed", "err", err)
			return outFailed, fmt.Errorf("step %s: %w", s.Name, err)
		}
		d := x.r.cfg.Backoff(attempt)
		log.Warn("task: step failed, will retry", "err", err, "backoff", d)
		if out, stop := x.wait(d, true); stop {
			return out, nil
		}
	}
}

// call runs a step, turning a panic into a permanent error.
func (x *run) call(s Step, e *Exec, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("panic: %v", p))
			log.Error("task: step panicked", "err", err, "stack", string(debug.Stack()))
		}
	}()
	return s.Run(x.ctx, e)
}

// advance records that step idx is done, with the payload e set: the next
// step by index and by name.
func (x *run) advance(idx int, name string, e *Exec) (outcome, error) {
	var p []byte // nil keeps the stored payload
	if e.dirty {
		p = e.payload
		if p == nil {
			p = []byte{}
		}
	}
	next := x.nextName(idx)
	err := x.write("advance", func(ctx context.Context) error {
		return x.r.st.AdvanceTask(ctx, x.t.ID, x.r.cfg.Owner, idx+1, next, p)
	})
	if err != nil {
		return x.writeFailed(err), nil
	}
	x.t.Step, x.t.StepName = idx+1, next
	if e.dirty {
		x.t.Payload = p
	}
	if crashed, _ := x.hook(name, PhaseRecorded); crashed {
		return outCrashed, nil
	}
	return outNext, nil
}

// fail runs OnFailure (retrying it) for a task that failed permanently.
func (x *run) fail(cause error) (outcome, error) {
	f := x.def.OnFailure
	if f == nil {
		return outFailed, cause
	}
	for attempt := 1; ; attempt++ {
		err := x.callOnFailure(f, cause)
		if err == nil {
			break
		}
		if out, stop := x.stopped(); stop {
			return out, nil
		}
		if attempt >= x.r.cfg.MaxAttempts {
			x.log.Error("task: OnFailure failed, giving up", "attempt", attempt, "err", err)
			break
		}
		d := x.r.cfg.Backoff(attempt)
		x.log.Warn("task: OnFailure failed, will retry", "attempt", attempt, "err", err, "backoff", d)
		if out, stop := x.wait(d, false); stop {
			return out, nil
		}
	}
	return outFailed, cause
}

func (x *run) callOnFailure(f func(context.Context, *model.Task, error) error, cause error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			x.log.Error("task: OnFailure panicked", "err", err, "stack", string(debug.Stack()))
		}
	}()
	t := *x.t
	return f(x.ctx, &t, cause)
}

// stopped reports whether the task context is done, and what that means.
func (x *run) stopped() (outcome, bool) {
	if x.ctx.Err() == nil {
		return 0, false
	}
	if errors.Is(context.Cause(x.ctx), store.ErrLeaseLost) {
		return outLeaseLost, true
	}
	return outRelease, true
}

// wait waits d, or less if the task context is done or (if shutdown) the
// runner shuts down.
func (x *run) wait(d time.Duration, shutdown bool) (outcome, bool) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	var down <-chan struct{}
	if shutdown {
		down = x.runCtx.Done()
	}
	select {
	case <-tm.C:
		return 0, false
	case <-down:
		return outRelease, true
	case <-x.ctx.Done():
		return x.stopped()
	}
}

// hook calls Config.Hook. crashed reports a simulated crash, after which
// nothing more is written.
func (x *run) hook(step string, ph Phase) (crashed bool, err error) {
	h := x.r.cfg.Hook
	if h == nil {
		return false, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	err = h(x.t, step, ph)
	if errors.Is(err, ErrCrash) {
		x.crashed = true
		return true, err
	}
	if err != nil && ph == PhaseRecorded {
		x.log.Warn("task: hook failed", "step", step, "err", err)
		return false, nil
	}
	return false, err
}

// write makes one store write about the task, retrying errors other than
// store.ErrLeaseLost. It runs even when the task context is done: it is how
// progress and hand-backs are recorded during shutdown.
func (x *run) write(op string, f func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := x.writeOnce(f)
		if err == nil || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, errCrashed) ||
			attempt >= x.r.cfg.MaxAttempts {
			return err
		}
		d := x.r.cfg.Backoff(attempt)
		x.log.Warn("task: store write failed, will retry", "op", op, "attempt", attempt, "err", err, "backoff", d)
		tm := time.NewTimer(d)
		<-tm.C
	}
}

func (x *run) writeOnce(f func(context.Context) error) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.crashed {
		return errCrashed
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), storeTimeout)
	defer cancel()
	return f(ctx)
}

// writeFailed maps a failed write to an outcome.
func (x *run) writeFailed(err error) outcome {
	switch {
	case errors.Is(err, errCrashed):
		return outCrashed
	case errors.Is(err, store.ErrLeaseLost):
		return outLeaseLost
	default:
		x.log.Error("task: store write failed", "step", x.t.Step, "err", err)
		return outAbandon
	}
}

// finish records the task's final state.
func (x *run) finish(state model.TaskState, cause error) {
	text := ""
	if cause != nil {
		text = cause.Error()
	}
	err := x.write("finish", func(ctx context.Context) error {
		return x.r.st.FinishTask(ctx, x.t.ID, x.r.cfg.Owner, state, text)
	})
	if err != nil {
		x.writeFailed(err)
		return
	}
	if state == model.TaskDone {
		x.log.Info("task: done")
	} else {
		x.log.Error("task: failed", "err", cause)
	}
	if x.r.cfg.OnFinish != nil {
		x.r.cfg.OnFinish(x.t, state)
	}
}

// release hands the task back so that another runner resumes it at once.
func (x *run) release() {
	err := x.write("release", func(ctx context.Context) error {
		return x.r.st.ReleaseTask(ctx, x.t.ID, x.r.cfg.Owner)
	})
	if err != nil {
		x.writeFailed(err)
		return
	}
	x.log.Info("task: handed back at shutdown", "step", x.t.Step)
}

// renewLoop renews the lease every Lease/3 until the task context is done.
func (x *run) renewLoop(done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(max(x.r.cfg.Lease/3, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-x.ctx.Done():
			return
		case <-tick.C:
		}
		if !x.renew() {
			return
		}
	}
}

// renew renews the lease once; false stops renewing. A lost lease cancels
// the task context with cause store.ErrLeaseLost. So does a lease that ran
// out while renewals were failing: another runner may own the task by now.
func (x *run) renew() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.crashed || x.ctx.Err() != nil {
		return false
	}
	now := x.r.cfg.Now()
	until := now.Add(x.r.cfg.Lease)
	ctx, cancel := context.WithTimeout(x.ctx, storeTimeout)
	defer cancel()
	err := x.r.st.RenewLease(ctx, x.t.ID, x.r.cfg.Owner, until)
	switch {
	case err == nil:
		x.leaseUntil = until
		return true
	case x.ctx.Err() != nil:
		return false
	case errors.Is(err, store.ErrLeaseLost):
		x.log.Warn("task: lease lost, cancelling the step", "err", err)
		x.cancel(store.ErrLeaseLost)
		return false
	case !now.Before(x.leaseUntil):
		x.log.Error("task: lease ran out while renewals failed, cancelling the step", "err", err)
		x.cancel(fmt.Errorf("lease ran out: %w", store.ErrLeaseLost))
		return false
	default:
		x.log.Warn("task: lease renewal failed, will retry", "err", err)
		return true
	}
}
