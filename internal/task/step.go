package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hoard-db/hoard/internal/model"
)

// Step is one idempotent step of a task. Run must check whether its effect
// already exists before acting: a step may run again after a crash, after a
// lost lease or after a retryable error, and it must then complete without
// applying its effect twice.
//
// Run must return promptly once ctx is done. A nil error means the effect
// exists; a [Permanent] error fails the task at once; any other error is
// retried with back-off.
type Step struct {
	Name string
	Run  func(ctx context.Context, e *Exec) error
}

// Exec is what a step sees of its task. It gives the step its task and lets
// it replace the task's payload; the new payload is persisted together with
// the step's completion, so the next step (in this runner or another one)
// sees it. A payload set by a failed attempt is discarded.
type Exec struct {
	// Task is the task being run. It is read-only for steps.
	Task *model.Task
	// Attempt counts the runs of this step in this runner, from 1.
	Attempt int
	// Logger carries the task_id, instance_id, step and attempt attributes.
	Logger *slog.Logger

	payload []byte
	dirty   bool
}

// Payload returns the task's current payload. The caller must not modify it.
func (e *Exec) Payload() []byte { return e.payload }

// SetPayload replaces the task's payload; it is persisted when the step
// completes successfully.
func (e *Exec) SetPayload(p []byte) {
	e.payload = p
	e.dirty = true
}

// EndOfSteps is the step name a task records once all its steps are done
// (the runner then finishes it). No step may have this name.
const EndOfSteps = "(end)"

// Definition is how to run one kind of task.
type Definition struct {
	Kind model.TaskKind
	// Steps run in order. A task records the name of its next step, so
	// names are unique within a definition and a step keeps its name from
	// one release to the next (see "Crash semantics" in the package doc).
	Steps []Step
	// OnFailure, if set, runs once when the task fails permanently (a
	// permanent error, or a step that failed Config.MaxAttempts times),
	// before the task is marked failed. It records the failure on the
	// instance (for example status ERROR and a fault). An error it returns is
	// logged and it is called again with the same back-off, up to
	// Config.MaxAttempts times in all; then the task is marked failed anyway.
	// Like a step, it must be idempotent: a crash can make it run again.
	OnFailure func(ctx context.Context, t *model.Task, cause error) error
}

// Phase says where a [Config.Hook] is called relative to a step.
type Phase int

// Hook phases. Values are only ever appended.
const (
	// PhaseBefore is before the step runs (each attempt).
	PhaseBefore Phase = iota
	// PhaseAfter is after the step returned nil and before its completion
	// is recorded in the store.
	PhaseAfter
	// PhaseRecorded is after the step's completion was recorded.
	PhaseRecorded
)

var phaseNames = [...]string{
	PhaseBefore:   "before",
	PhaseAfter:    "after",
	PhaseRecorded: "recorded",
}

// String returns the phase's lower-case name.
func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// ErrCrash is returned by a [Config.Hook] to simulate kill -9: the runner
// stops that task at once without writing anything more to the store (no
// advance, no finish, no release, no lease renewal), exactly as if the
// process had died. The task's lease then runs out and another runner
// resumes it.
var ErrCrash = errors.New("task: simulated crash")

// permanentError marks an error as not retryable.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable: a step that returns it fails its
// task at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error in its chain, was marked
// with [Permanent].
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
