package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Defaults of [Config].
const (
	DefaultWorkers       = 4
	DefaultLease         = 15 * time.Second
	DefaultPollInterval  = 500 * time.Millisecond
	DefaultMaxAttempts   = 5
	DefaultShutdownGrace = 10 * time.Second
)

// storeTimeout bounds one store write made on the way out (advance, finish,
// release), which runs even after the runner's context is done.
const storeTimeout = 10 * time.Second

// errShutdown is the cancellation cause of step contexts when the shutdown
// grace period ends.
var errShutdown = errors.New("task: runner shut down")

// Config configures a [Runner]. The zero value of every field means its
// default.
type Config struct {
	// Owner names this runner in task leases; it must be unique per
	// process. Default: host name, pid and a random suffix.
	Owner string
	// Workers is how many tasks run at once. Default 4.
	Workers int
	// Lease is how long a claim lasts; it is renewed every Lease/3 while a
	// task runs. Default 15s.
	Lease time.Duration
	// PollInterval is how often an idle worker looks for tasks; Notify
	// wakes one at once. Default 500ms.
	PollInterval time.Duration
	// MaxAttempts is how many times a step is tried before its task fails.
	// Default 5.
	MaxAttempts int
	// Backoff is the wait after the attempt-th failed attempt (from 1).
	// Default 200ms·2^(attempt-1), capped at 5s.
	Backoff func(attempt int) time.Duration
	// ShutdownGrace is how long, once Run's context is done, a running step
	// may take to finish before its context is cancelled. Default 10s.
	ShutdownGrace time.Duration
	// Now is the clock used for leases (claim time and lease ends).
	// Waits (poll, back-off, renewal period, grace) use real timers.
	// Default time.Now.
	Now func() time.Time
	// Logger receives the runner's logs. Default slog.Default().
	Logger *slog.Logger
	// Hook, if set, is called before and after every step (see [Phase]);
	// tests use it to simulate a crash at each step boundary by returning
	// [ErrCrash]. Another error returned at PhaseBefore or PhaseAfter is
	// treated as the step's error; at PhaseRecorded it is ignored.
	Hook func(t *model.Task, step string, phase Phase) error
	// OnFinish, if set, is called after a task's final state was recorded
	// (metrics use it). It must not block.
	OnFinish func(t *model.Task, state model.TaskState)
}

// DefaultBackoff is the default [Config.Backoff]: 200ms·2^(attempt-1),
// capped at 5s.
func DefaultBackoff(attempt int) time.Duration {
	const base, limit = 200 * time.Millisecond, 5 * time.Second
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 {
		return limit
	}
	return min(base<<(attempt-1), limit)
}

func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = randomOwner()
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func randomOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hoard"
	}
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Runner claims tasks from the store and runs their steps. Its methods are
// safe for concurrent use.
type Runner struct {
	st   store.Tasks
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu   sync.RWMutex
	defs map[model.TaskKind]Definition

	running atomic.Bool
}

// New returns a runner over st. It panics if st is nil.
func New(st store.Tasks, cfg Config) *Runner {
	if st == nil {
		panic("task: New with nil store")
	}
	cfg.setDefaults()
	return &Runner{
		st:   st,
		cfg:  cfg,
		log:  cfg.Logger.With("owner", cfg.Owner),
		wake: make(chan struct{}, 1),
		defs: make(map[model.TaskKind]Definition),
	}
}

// Owner returns the name this runner uses in task leases.
func (r *Runner) Owner() string { return r.cfg.Owner }

// Register adds (or replaces) the definition of a kind of task. It panics
// on a definition without a kind, with a step without a name or Run, or
// with two steps of one name or a step named [EndOfSteps] (programmer
// errors).
func (r *Runner) Register(d Definition) {
	if d.Kind == "" {
		panic("task: Register with empty kind")
	}
	names := make(map[string]bool, len(d.Steps))
	for i, s := range d.Steps {
		if s.Name == "" || s.Run == nil {
			panic(fmt.Sprintf("task: kind %s: step %d has no name or no Run", d.Kind, i))
		}
		if names[s.Name] || s.Name == EndOfSteps {
			panic(fmt.Sprintf("task: kind %s: step %d: name %q is taken", d.Kind, i, s.Name))
		}
		names[s.Name] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defs[d.Kind] = d
}

func (r *Runner) definition(k model.TaskKind) (Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.defs[k]
	return d, ok
}

// Notify tells the runner that a new task was written: an idle worker looks
// for it at once instead of at its next poll. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run runs Config.Workers workers until ctx is done. Then it claims no more
// tasks and starts no more steps; a step still running gets
// Config.ShutdownGrace to finish (its completion is recorded), after which
// its context is cancelled. Every task still in hand is handed back to the
// store (store.Tasks.ReleaseTask) so another runner resumes it at once, and
// Run returns nil. Run returns an error only if the runner is already
// running.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("task: runner is already running")
	}
	defer r.running.Store(false)

	// Steps run under hard, which outlives ctx by the shutdown grace.
	hard, hardCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hardCancel(nil)

	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Go(func() { r.worker(ctx, hard) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	<-ctx.Done()
	grace := time.NewTimer(r.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		r.log.Info("task: shutdown grace period over, cancelling running steps")
		hardCancel(errShutdown)
		<-done
	}
	return nil
}

// worker claims and runs tasks until ctx is done.
func (r *Runner) worker(ctx, hard context.Context) {
	for ctx.Err() == nil {
		t, err := r.claim(ctx)
		switch {
		case err == nil:
			// Another idle worker may find more work: pass the wake-up on.
			r.Notify()
			r.runTask(ctx, hard, t)
			continue
		case errors.Is(err, store.ErrNotFound):
		default:
			r.log.Error("task: claim failed", "err", err)
		}
		poll := time.NewTimer(r.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-poll.C:
		}
		poll.Stop()
	}
}

// claim claims one task. It does not use ctx for the store call: a claim
// that commits while ctx is being cancelled must not be lost (runTask then
// hands the task back at once).
func (r *Runner) claim(ctx context.Context) (*model.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	t, err := r.st.ClaimTask(cctx, r.cfg.Owner, r.cfg.Now(), r.cfg.Lease)
	if err != nil {
		return nil, fmt.Errorf("claim task: %w", err)
	}
	return t, nil
}
