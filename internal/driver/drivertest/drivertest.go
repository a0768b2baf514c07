package drivertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// DefaultTimeout bounds each wait of the suite when Harness.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// pollEvery is how often the suite looks again while it waits.
const pollEvery = 20 * time.Millisecond

// Harness is what the suite needs of one driver implementation.
type Harness struct {
	// New returns a new Driver over the backing every call shares (the
	// same root directory, the same cluster, the same in-memory state): a
	// second call stands for hoard restarted. obs must receive the
	// driver's events. The harness closes the driver when t ends; the
	// suite may close it before.
	New func(t *testing.T, obs driver.Observer) driver.Driver
	// Spec returns the spec of a new instance: a new instance id (and,
	// where the driver needs one, a free address and port) at each call.
	Spec func(t *testing.T) driver.Spec

	// Engine is the datastore engine the specs name. Its Ping, at the
	// driver's Conn with the admin account below, tells that the engine
	// answers; once it answers the suite bootstraps it, and from then on
	// its CheckAdmin (datastore.AdminChecker) tells that the engine kept
	// its data. Nil when no engine really runs: NoEngine says why.
	Engine datastore.Engine
	// NoEngine is why no engine answers (e.g. kwok runs no containers);
	// the cases that need an engine are reported not applicable with it.
	NoEngine string
	// AdminUser and AdminPassword are hoard's admin account of the
	// engine: what the driver's credentials source returns.
	AdminUser     string
	AdminPassword datastore.Secret

	// Incarnation names the engine process (or pod) that runs for
	// instance s now, "" when none does, from outside the driver (a pid
	// and its start time, a pod's UID). Each start of the engine gives a
	// new name: the suite tells by it that a repeated step had no second
	// effect and that a restart did restart. Required.
	Incarnation func(ctx context.Context, s driver.Spec) (string, error)
	// Crash kills the engine of instance s behind the driver's back
	// (SIGKILL to the process, the pod deleted). Nil when the driver runs
	// nothing that can crash: NoCrash says why.
	Crash   func(ctx context.Context, s driver.Spec) error
	NoCrash string
	// VolumeBytes reports the size of instance s's volume; nil when it
	// cannot be observed (the resize case then checks the rest).
	VolumeBytes func(ctx context.Context, s driver.Spec) (int64, error)

	// Timeout bounds each wait (for a state, an event, an answer);
	// DefaultTimeout if zero.
	Timeout time.Duration
}

// errBroken marks a violation after which the instance is in no state for
// the following steps of its life.
var errBroken = errors.New("the following steps cannot run")

func broken(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBroken, fmt.Sprintf(format, args...))
}

// A step is one case of the suite: a rule, the reason it exists, and
// whether it applies to a harness and a driver.
type step struct {
	name        string
	explanation string
	// applies returns why the step does not apply ("" if it does).
	applies func(h *Harness, d driver.Driver) string
	run     func(e *env) error
}

func needsEngine(h *Harness, _ driver.Driver) string {
	if h.Engine == nil {
		return "no engine answers: " + h.NoEngine
	}
	return ""
}

func needsCrash(h *Harness, _ driver.Driver) string {
	if h.Crash == nil {
		return "nothing can crash: " + h.NoCrash
	}
	return ""
}

func needsReadier(_ *Harness, d driver.Driver) string {
	if _, ok := d.(driver.Readier); !ok {
		return "the driver has no driver.Readier capability"
	}
	return ""
}

func needsResizer(_ *Harness, d driver.Driver) string {
	if _, ok := d.(driver.VolumeResizer); !ok {
		return "the driver has no driver.VolumeResizer capability"
	}
	return ""
}

// lifecycle is the life of one instance, in order: each step starts from
// the state the one before left.
var lifecycle = []step{
	{"Provision", "Provision makes an instance that is then observed stopped, with no engine running; " +
		"a second Provision succeeds and changes nothing", nil, testProvision},
	{"Start", "Start starts the engine, observed running; a second Start succeeds and starts nothing more", nil, testStart},
	{"WaitReady", "a Readier's WaitReady returns once the started engine is ready, at once when called again, and changes nothing",
		needsReadier, testWaitReady},
	{"Ready", "the started engine answers its Ping at the driver's Conn, and can be bootstrapped", needsEngine, testReady},
	{"ProvisionRunning", "Provision of a running instance is harmless: the engine keeps running and keeps its data", nil, testProvisionRunning},
	{"Restart", "Restart starts a new engine process with the data kept, and reports no event; " +
		"each Restart restarts (the one step whose repeat has an effect)", nil, testRestart},
	{"Crash", "an engine killed behind the driver's back is reported (EventExited), started again by the driver " +
		"itself and reported again (EventRecovered), with its data", needsCrash, testCrash},
	{"Reattach", "a new Driver over the same backing (hoard restarted) observes the running instance, and its Recover " +
		"re-attaches to the engine without restarting it (twice, as well)", nil, testReattach},
	{"CrashAfterReattach", "a crash of a re-attached engine is noticed and repaired by the new Driver", needsCrash, testCrash},
	{"ResizeVolume", "ResizeVolume grows the volume keeping the data and leaves the engine started; a repeat, " +
		"or a smaller size, changes nothing", needsResizer, testResizeVolume},
	{"Stop", "Stop returns with the engine stopped, and reports no event; a second Stop succeeds", nil, testStop},
	{"StartAfterStop", "Start after Stop starts the engine again, with its data", nil, testStartAfterStop},
	{"RestartStopped", "Restart of a stopped instance starts it", nil, testRestartStopped},
	{"ResizeVolumeStopped", "ResizeVolume of a stopped instance (its volume large enough) leaves the engine started, " +
		"as its contract says of every ResizeVolume that returns nil", needsResizer, testResizeVolumeStopped},
	{"Destroy", "Destroy of a running instance removes it (observed absent, its engine gone) and reports no event; " +
		"Destroy and Stop of the destroyed instance succeed", nil, testDestroy},
}

// Run runs the suite against the implementation h describes: the life of
// one instance, step by step (a step that leaves the instance broken skips
// the rest), then the cases that need instances of their own. Each case is
// a subtest that reports every violation it finds; a case that does not
// apply is skipped with the reason.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Spec == nil || h.Incarnation == nil {
		t.Fatal("drivertest: Harness.New, Spec and Incarnation are required")
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultTimeout
	}
	if h.Engine == nil {
		t.Logf("drivertest: no engine answers (%s): no check that the engine answers or keeps its data is made", h.NoEngine)
	}
	t.Run("Unknown", func(t *testing.T) {
		report(t, "State, Stop and Destroy of an instance never provisioned succeed: absent, no-op, no-op", testUnknown(newEnv(t, &h)))
	})
	t.Run("Lifecycle", func(t *testing.T) {
		e := newEnv(t, &h)
		e.s = e.spec()
		var stopped string
		for _, st := range lifecycle {
			t.Run(st.name, func(t *testing.T) {
				if stopped != "" {
					t.Skipf("not run: step %s left the instance broken", stopped)
				}
				if st.applies != nil {
					if why := st.applies(&h, e.d); why != "" {
						t.Skipf("not applicable: %s", why)
					}
				}
				e.t = t
				err := st.run(e)
				if errors.Is(err, errBroken) {
					stopped = st.name
				}
				report(t, st.explanation, err)
			})
		}
	})
	t.Run("Orphans", func(t *testing.T) {
		report(t, "Recover removes the instances it is not given (orphans) and keeps the others", testOrphans(newEnv(t, &h)))
	})
}

// report fails t with every violation in err, after the rule they break.
func report(t *testing.T, explanation string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s:\n%v", explanation, err)
	}
}

// env is the state a case works on.
type env struct {
	// t is the running case; root the test that owns the instance and
	// its drivers (the lifecycle's steps share them).
	t, root *testing.T
	h       *Harness
	ev      *recorder
	d       driver.Driver
	s       driver.Spec
	ctx     context.Context
	ids     []string // instances made, destroyed at the end
	// boot is set once the engine is bootstrapped: from then on it must
	// keep hoard's admin account (its data).
	boot bool
}

func newEnv(t *testing.T, h *Harness) *env {
	e := &env{t: t, root: t, h: h, ev: &recorder{}, ctx: context.Background()}
	e.newDriver()
	return e
}

// newDriver makes e.d a new Driver. Whatever fails, the instances of e
// are destroyed when the test ends, by the Driver made last (the harness
// closes it after that: cleanups run last first).
func (e *env) newDriver() {
	d := e.h.New(e.root, e.ev.observe)
	e.d = d
	e.root.Cleanup(func() {
		if e.d != d {
			return
		}
		for _, id := range e.ids {
			if err := d.Destroy(context.Background(), id); err != nil {
				e.root.Errorf("cleanup: Destroy %s: %v", id, err)
			}
		}
	})
}

// spec returns the spec of a new instance, destroyed when the test ends.
func (e *env) spec() driver.Spec {
	s := e.h.Spec(e.root)
	e.ids = append(e.ids, s.InstanceID)
	return s
}

// recorder records the events a driver reports.
type recorder struct {
	mu  sync.Mutex
	evs []driver.Event
}

func (r *recorder) observe(ev driver.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

// mark is the number of events so far: what came after it is since(mark).
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

func (r *recorder) since(n int) []driver.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]driver.Event(nil), r.evs[n:]...)
}

// silent returns a violation if events were reported since mark.
func (e *env) silent(mark int, what string) error {
	if evs := e.ev.since(mark); len(evs) > 0 {
		return fmt.Errorf("%s reported events %s, want none (only what happens outside explicit calls is an event)", what, describe(evs))
	}
	return nil
}

func describe(evs []driver.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "[%s %s: %s]", ev.InstanceID, ev.Kind, ev.Detail)
	}
	return b.String()
}

// waitEvent waits for an event of kind for instance id after event number
// from, and returns the number of the event that follows it.
func (e *env) waitEvent(from int, id string, kind driver.EventKind) (int, error) {
	var found int
	err := e.poll(fmt.Sprintf("event %s of instance %s", kind, id), func() (bool, string) {
		evs := e.ev.since(from)
		for i, ev := range evs {
			if ev.InstanceID == id && ev.Kind == kind {
				found = from + i + 1
				return true, ""
			}
		}
		return false, "events so far: " + describe(evs)
	})
	return found, err
}

// poll calls cond until it holds or the harness timeout passes; then the
// error says what cond last reported.
func (e *env) poll(what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(e.h.Timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s (%s)", e.h.Timeout, what, last)
		}
		<-tick.C
	}
}

// state returns what the driver observes of the instance.
func (e *env) state() (driver.State, error) { return e.d.State(e.ctx, e.s.InstanceID) }

// wantState returns a violation unless the driver observes want now.
func (e *env) wantState(what string, want driver.State) error {
	st, err := e.state()
	if err != nil {
		return fmt.Errorf("%s: State: %v", what, err)
	}
	if st != want {
		return fmt.Errorf("%s: State = %s, want %s", what, st, want)
	}
	return nil
}

// waitState waits until the driver observes want.
func (e *env) waitState(want driver.State) error {
	return e.poll("state "+string(want), func() (bool, string) {
		st, err := e.state()
		if err != nil {
			return false, "State: " + err.Error()
		}
		return st == want, "State = " + string(st)
	})
}

// incarnation names the engine running now ("" if none).
func (e *env) incarnation() (string, error) {
	inc, err := e.h.Incarnation(e.ctx, e.s)
	if err != nil {
		return "", fmt.Errorf("observing which engine runs: %w", err)
	}
	return inc, nil
}

// conn is how the suite reaches the engine: the driver's Conn with the
// admin account filled in, as the service does.
func (e *env) conn() datastore.Conn {
	c := e.d.Conn(e.s)
	c.User, c.Password = e.h.AdminUser, e.h.AdminPassword
	return c
}

// answers waits until the engine answers at the driver's Conn and, once
// bootstrapped, still has hoard's admin account. It is nil at once when no
// engine runs.
func (e *env) answers(what string) error {
	if e.h.Engine == nil {
		return nil
	}
	checker, _ := e.h.Engine.(datastore.AdminChecker)
	err := e.poll("the engine to answer", func() (bool, string) {
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		defer cancel()
		if err := e.h.Engine.Ping(ctx, e.conn()); err != nil {
			return false, "Ping: " + err.Error()
		}
		if e.boot && checker != nil {
			if err := checker.CheckAdmin(ctx, e.conn()); err != nil {
				return false, "CheckAdmin: " + err.Error()
			}
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// silentEngine returns a violation if the engine still answers at the
// driver's Conn (after Stop or Destroy).
func (e *env) silentEngine(what string) error {
	if e.h.Engine == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
	defer cancel()
	if err := e.h.Engine.Ping(ctx, e.conn()); err == nil {
		return fmt.Errorf("%s: the engine still answers its Ping", what)
	}
	return nil
}

// usedBytes calls UsedBytes; ok is false when the driver cannot observe it
// (errors.ErrUnsupported).
func (e *env) usedBytes(id string) (n int64, ok bool, err error) {
	n, err = e.d.UsedBytes(e.ctx, id)
	if errors.Is(err, errors.ErrUnsupported) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// notFound returns a violation unless UsedBytes of instance id fails with
// driver.ErrNotFound (or errors.ErrUnsupported: not observable at all).
func (e *env) notFound(what, id string) error {
	n, err := e.d.UsedBytes(e.ctx, id)
	if err == nil {
		return fmt.Errorf("UsedBytes of %s = %d, want driver.ErrNotFound", what, n)
	}
	if !errors.Is(err, driver.ErrNotFound) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("UsedBytes of %s = %v, want driver.ErrNotFound", what, err)
	}
	return nil
}

func testUnknown(e *env) error {
	var errs []error
	id := e.h.Spec(e.root).InstanceID
	if st, err := e.d.State(e.ctx, id); err != nil || st != driver.StateAbsent {
		errs = append(errs, fmt.Errorf("an unknown instance: State = %q, %v; want absent", st, err))
	}
	if err := e.d.Stop(e.ctx, id); err != nil {
		errs = append(errs, fmt.Errorf("an unknown instance: Stop: %w", err))
	}
	for i := range 2 {
		if err := e.d.Destroy(e.ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("an unknown instance: Destroy %d: %w", i+1, err))
		}
	}
	if err := e.notFound("an unknown instance", id); err != nil {
		errs = append(errs, err)
	}
	if st, err := e.d.State(e.ctx, id); err != nil || st != driver.StateAbsent {
		errs = append(errs, fmt.Errorf("an unknown instance after Stop and Destroy: State = %q, %v; want absent", st, err))
	}
	return errors.Join(errs...)
}

func testProvision(e *env) error {
	if err := e.d.Provision(e.ctx, e.s); err != nil {
		return broken("Provision: %v", err)
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(e.wantState("after Provision", driver.StateStopped))
	if inc, err := e.incarnation(); err != nil || inc != "" {
		add(fmt.Errorf("after Provision an engine runs (%q, %v); want none before Start", inc, err))
	}
	used, usedOK, err := e.usedBytes(e.s.InstanceID)
	if err != nil {
		add(fmt.Errorf("UsedBytes after Provision: %w", err))
	}
	if err := e.d.Provision(e.ctx, e.s); err != nil {
		add(fmt.Errorf("second Provision: %w", err))
	}
	add(e.wantState("after a second Provision", driver.StateStopped))
	if inc, err := e.incarnation(); err != nil || inc != "" {
		add(fmt.Errorf("after a second Provision an engine runs (%q, %v); want none", inc, err))
	}
	if usedOK {
		if again, _, err := e.usedBytes(e.s.InstanceID); err != nil || again != used {
			add(fmt.Errorf("UsedBytes after a second Provision = %d, %v; want %d as before (the data initialised again?)", again, err, used))
		}
	}
	return errors.Join(errs...)
}

func testStart(e *env) error {
	mark := e.ev.mark()
	if err := e.d.Start(e.ctx, e.s); err != nil {
		return broken("Start: %v", err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("after Start: %v", err)
	}
	var errs []error
	inc, err := e.incarnation()
	if err != nil || inc == "" {
		errs = append(errs, fmt.Errorf("after Start no engine runs (%q, %v)", inc, err))
	}
	if err := e.d.Start(e.ctx, e.s); err != nil {
		errs = append(errs, fmt.Errorf("second Start: %w", err))
	}
	if err := e.wantState("after a second Start", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	if again, err := e.incarnation(); err != nil || again != inc {
		errs = append(errs, fmt.Errorf("a second Start replaced the engine %q by %q (%v); want it left running", inc, again, err))
	}
	if err := e.silent(mark, "Start"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func testWaitReady(e *env) error {
	r := e.d.(driver.Readier)
	inc, err := e.incarnation()
	if err != nil {
		return err
	}
	var errs []error
	for i := range 2 {
		ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
		err := r.WaitReady(ctx, e.s)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("WaitReady %d: %w", i+1, err))
		}
	}
	if again, err := e.incarnation(); err != nil || again != inc {
		errs = append(errs, fmt.Errorf("WaitReady replaced the engine %q by %q (%v)", inc, again, err))
	}
	if err := e.wantState("after WaitReady", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func testReady(e *env) error {
	if err := e.answers("after Start"); err != nil {
		return broken("%v", err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.h.Timeout)
	defer cancel()
	if err := e.h.Engine.Bootstrap(ctx, e.conn()); err != nil {
		return broken("Bootstrap at the driver's Conn: %v", err)
	}
	e.boot = true
	if err := e.answers("after Bootstrap"); err != nil {
		return broken("%v", err)
	}
	return nil
}

func testProvisionRunning(e *env) error {
	inc, err := e.incarnation()
	if err != nil {
		return err
	}
	mark := e.ev.mark()
	if err := e.d.Provision(e.ctx, e.s); err != nil {
		return broken("Provision of a running instance: %v", err)
	}
	var errs []error
	if err := e.wantState("after Provision of a running instance", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	if again, err := e.incarnation(); err != nil || again != inc {
		errs = append(errs, fmt.Errorf("a Provision of the running instance replaced the engine %q by %q (%v)", inc, again, err))
	}
	if err := e.answers("after Provision of a running instance"); err != nil {
		errs = append(errs, err)
	}
	if err := e.silent(mark, "Provision"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// restartOnce restarts the instance and checks that a new engine runs.
func (e *env) restartOnce(what string) error {
	old, err := e.incarnation()
	if err != nil {
		return err
	}
	if err := e.d.Restart(e.ctx, e.s); err != nil {
		return broken("%s: Restart: %v", what, err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("%s: %v", what, err)
	}
	var errs []error
	if inc, err := e.incarnation(); err != nil || inc == "" || inc == old {
		errs = append(errs, fmt.Errorf("%s: the engine after Restart is %q (%v), before %q; want a new one", what, inc, err, old))
	}
	if err := e.answers(what); err != nil {
		return broken("%v", err)
	}
	return errors.Join(errs...)
}

func testRestart(e *env) error {
	mark := e.ev.mark()
	err := e.restartOnce("first Restart")
	if errors.Is(err, errBroken) {
		return err
	}
	errs := []error{err, e.restartOnce("second Restart")}
	errs = append(errs, e.silent(mark, "Restart"))
	return errors.Join(errs...)
}

func testCrash(e *env) error {
	old, err := e.incarnation()
	if err != nil {
		return err
	}
	mark := e.ev.mark()
	if err := e.h.Crash(e.ctx, e.s); err != nil {
		return broken("crashing the engine: %v", err)
	}
	var errs []error
	next, err := e.waitEvent(mark, e.s.InstanceID, driver.EventExited)
	if err != nil {
		errs = append(errs, fmt.Errorf("after the crash: %w", err))
		next = mark
	}
	if _, err := e.waitEvent(next, e.s.InstanceID, driver.EventRecovered); err != nil {
		errs = append(errs, fmt.Errorf("after the crash and %s: %w", driver.EventExited, err))
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return errors.Join(append(errs, broken("after the crash: %v", err))...)
	}
	if inc, err := e.incarnation(); err != nil || inc == "" || inc == old {
		errs = append(errs, fmt.Errorf("after the crash the engine is %q (%v), before %q; want a new one started by the driver", inc, err, old))
	}
	if err := e.answers("after the crash"); err != nil {
		return errors.Join(append(errs, broken("%v", err))...)
	}
	for _, ev := range e.ev.since(mark) {
		if ev.InstanceID != e.s.InstanceID || (ev.Kind != driver.EventExited && ev.Kind != driver.EventRecovered) {
			errs = append(errs, fmt.Errorf("unexpected event %s after the crash", describe([]driver.Event{ev})))
		}
	}
	return errors.Join(errs...)
}

func testReattach(e *env) error {
	inc, err := e.incarnation()
	if err != nil {
		return err
	}
	var errs []error
	if err := e.d.Close(); err != nil {
		errs = append(errs, fmt.Errorf("first Close: %w", err))
	}
	if err := e.d.Close(); err != nil {
		errs = append(errs, fmt.Errorf("second Close: %w", err))
	}
	if again, err := e.incarnation(); err != nil || again != inc {
		errs = append(errs, fmt.Errorf("after Close the engine is %q (%v), before %q; want it left running", again, err, inc))
	}
	mark := e.ev.mark()
	e.newDriver()
	if err := e.wantState("a new Driver, before Recover", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	for i := range 2 {
		if err := e.d.Recover(e.ctx, []driver.Spec{e.s}); err != nil {
			return errors.Join(append(errs, broken("Recover %d: %v", i+1, err))...)
		}
	}
	if err := e.wantState("after Recover", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	if again, err := e.incarnation(); err != nil || again != inc {
		errs = append(errs, fmt.Errorf("after Recover the engine is %q (%v), before %q; want the one that ran, re-attached", again, err, inc))
	}
	if err := e.answers("after Recover"); err != nil {
		return errors.Join(append(errs, broken("%v", err))...)
	}
	return errors.Join(append(errs, e.silent(mark, "Recover"))...)
}

func testResizeVolume(e *env) error {
	r := e.d.(driver.VolumeResizer)
	mark := e.ev.mark()
	e.s.VolumeGB++
	want := int64(e.s.VolumeGB) << 30
	if err := r.ResizeVolume(e.ctx, e.s); err != nil {
		return broken("ResizeVolume to %d GB: %v", e.s.VolumeGB, err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("after ResizeVolume: %v", err)
	}
	if err := e.answers("after ResizeVolume"); err != nil {
		return broken("%v", err)
	}
	var errs []error
	size := func(what string) int64 {
		if e.h.VolumeBytes == nil {
			return 0
		}
		n, err := e.h.VolumeBytes(e.ctx, e.s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: observing the volume size: %w", what, err))
		}
		return n
	}
	grown := size("after ResizeVolume")
	if e.h.VolumeBytes != nil && grown < want {
		errs = append(errs, fmt.Errorf("after ResizeVolume to %d GB the volume has %d bytes, want at least %d", e.s.VolumeGB, grown, want))
	}
	inc, err := e.incarnation()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	smaller := e.s
	smaller.VolumeGB = 1
	for _, tt := range []struct {
		what string
		s    driver.Spec
	}{{"a repeated ResizeVolume", e.s}, {"ResizeVolume to a smaller size", smaller}} {
		if err := r.ResizeVolume(e.ctx, tt.s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", tt.what, err))
		}
		if again, err := e.incarnation(); err != nil || again != inc {
			errs = append(errs, fmt.Errorf("%s replaced the engine %q by %q (%v); want the volume and the engine left alone", tt.what, inc, again, err))
		}
		if n := size(tt.what); n < grown {
			errs = append(errs, fmt.Errorf("%s: the volume has %d bytes, before %d; want it never shrunk", tt.what, n, grown))
		}
	}
	if err := e.wantState("after the repeated resizes", driver.StateRunning); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, e.silent(mark, "ResizeVolume"))
	return errors.Join(errs...)
}

// stopTwice stops the instance twice and checks it is stopped.
func (e *env) stopTwice() error {
	mark := e.ev.mark()
	if err := e.d.Stop(e.ctx, e.s.InstanceID); err != nil {
		return broken("Stop: %v", err)
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(e.wantState("when Stop returns", driver.StateStopped))
	if inc, err := e.incarnation(); err != nil || inc != "" {
		add(fmt.Errorf("when Stop returns the engine %q runs (%v); want none", inc, err))
	}
	add(e.silentEngine("when Stop returns"))
	if err := e.d.Stop(e.ctx, e.s.InstanceID); err != nil {
		add(fmt.Errorf("second Stop: %w", err))
	}
	add(e.wantState("after a second Stop", driver.StateStopped))
	add(e.silent(mark, "Stop"))
	return errors.Join(errs...)
}

func testStop(e *env) error { return e.stopTwice() }

func testStartAfterStop(e *env) error {
	mark := e.ev.mark()
	if err := e.d.Start(e.ctx, e.s); err != nil {
		return broken("Start after Stop: %v", err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("Start after Stop: %v", err)
	}
	if err := e.answers("Start after Stop"); err != nil {
		return broken("%v", err)
	}
	return e.silent(mark, "Start after Stop")
}

func testRestartStopped(e *env) error {
	if err := e.stopTwice(); err != nil {
		return err
	}
	mark := e.ev.mark()
	if err := e.d.Restart(e.ctx, e.s); err != nil {
		return broken("Restart of a stopped instance: %v", err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("Restart of a stopped instance: %v", err)
	}
	if inc, err := e.incarnation(); err != nil || inc == "" {
		return broken("Restart of a stopped instance: no engine runs (%q, %v)", inc, err)
	}
	if err := e.answers("Restart of a stopped instance"); err != nil {
		return broken("%v", err)
	}
	return e.silent(mark, "Restart of a stopped instance")
}

func testResizeVolumeStopped(e *env) error {
	if err := e.stopTwice(); err != nil {
		return err
	}
	mark := e.ev.mark()
	if err := e.d.(driver.VolumeResizer).ResizeVolume(e.ctx, e.s); err != nil {
		return broken("ResizeVolume of a stopped instance: %v", err)
	}
	if err := e.waitState(driver.StateRunning); err != nil {
		return broken("ResizeVolume of a stopped instance: %v", err)
	}
	if err := e.answers("ResizeVolume of a stopped instance"); err != nil {
		return broken("%v", err)
	}
	return e.silent(mark, "ResizeVolume of a stopped instance")
}

func testDestroy(e *env) error {
	mark := e.ev.mark()
	if err := e.d.Destroy(e.ctx, e.s.InstanceID); err != nil {
		return broken("Destroy: %v", err)
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(e.wantState("when Destroy returns", driver.StateAbsent))
	if inc, err := e.incarnation(); err != nil || inc != "" {
		add(fmt.Errorf("when Destroy returns the engine %q runs (%v); want none", inc, err))
	}
	add(e.silentEngine("when Destroy returns"))
	if err := e.d.Destroy(e.ctx, e.s.InstanceID); err != nil {
		add(fmt.Errorf("second Destroy: %w", err))
	}
	if err := e.d.Stop(e.ctx, e.s.InstanceID); err != nil {
		add(fmt.Errorf("a destroyed instance: Stop: %w", err))
	}
	add(e.wantState("after a second Destroy", driver.StateAbsent))
	add(e.notFound("a destroyed instance", e.s.InstanceID))
	add(e.silent(mark, "Destroy"))
	return errors.Join(errs...)
}

func testOrphans(e *env) error {
	keep, orphan := e.spec(), e.spec()
	for _, s := range []driver.Spec{keep, orphan} {
		if err := e.d.Provision(e.ctx, s); err != nil {
			return fmt.Errorf("provisioning: %w", err)
		}
	}
	if err := e.d.Recover(e.ctx, []driver.Spec{keep}); err != nil {
		return fmt.Errorf("recovering: %w", err)
	}
	var errs []error
	e.s = orphan
	if err := e.waitState(driver.StateAbsent); err != nil {
		errs = append(errs, fmt.Errorf("the orphan after Recover: %w", err))
	}
	e.s = keep
	if err := e.wantState("the known instance after Recover", driver.StateStopped); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
