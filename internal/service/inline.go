package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Inline engine operations (databases, users, root: users.go; applying a
// configuration group: configurations.go) run SQL on the engine while the
// request waits. Actions that take the engine away
// (restart, delete: instances.go) must never interleave with them, on this
// hoard or on another one sharing the store:
//
//   - An inline operation takes the instance's in-process lock, then a
//     lease in the store (store.InlineLeases.AcquireInline), in the same
//     transaction that checks the instance is ready and has no task. The
//     lease ends by itself (inlineLease), so a hoard killed mid-operation
//     wedges nothing for long.
//   - An action takes the same in-process lock, then the store's gate
//     (store.Instances.StartAction), which refuses while a lease lives. It waits
//     (inlineWait at most) for the operations in flight to end, then is
//     refused with 422.
//   - So an action accepted first makes later inline operations 422 (a task
//     exists), and an inline operation that holds the lease makes later
//     actions wait: the engine never goes away under an inline operation
//     started through this gate.
//
// What is left (an engine that crashed, an action that does not use the
// gate) is classified by engineFault: an engine that cannot be reached is
// a retriable 503, never a 500 with internal text.

const (
	// inlineLease is how long an inline operation's lease lasts: its
	// timeout with a margin. A holder that died frees the instance then.
	inlineLease = adminTimeout + 15*time.Second
	// inlineWait is how long an inline operation or an action waits for
	// the inline operations in flight on its instance before it is refused.
	inlineWait = 10 * time.Second
	// inlinePoll is how often a waiter looks again at a lease held by
	// another hoard (on this one, the in-process lock orders them).
	inlinePoll = 100 * time.Millisecond
	// probeTimeout bounds the engine probe of engineFault.
	probeTimeout = 3 * time.Second
)

// instanceLocks serialises, per instance, inline engine operations and the
// actions that take the engine away, within this process. Waiters are
// served in order (a channel's queue), so a stream of inline operations
// cannot starve a restart. The zero value is ready to use.
type instanceLocks struct {
	// wait overrides inlineWait: 0 keeps it, < 0 means do not wait.
	wait time.Duration
	// poll returns the channel a waiter for another hoard's lease wakes on;
	// nil means a timer of inlinePoll.
	poll func() <-chan time.Time

	mu    sync.Mutex
	locks map[string]*lockEntry
}

type lockEntry struct {
	ch   chan struct{} // holds a value while locked
	refs int
}

// entry returns id's entry with a reference taken.
func (l *instanceLocks) entry(id string) *lockEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locks == nil {
		l.locks = map[string]*lockEntry{}
	}
	e := l.locks[id]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		l.locks[id] = e
	}
	e.refs++
	return e
}

func (l *instanceLocks) drop(id string, e *lockEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(l.locks, id)
	}
}

// lockCtx takes id's lock, or returns ctx's error once ctx is done. A free
// lock is taken even if ctx is already done.
func (l *instanceLocks) lockCtx(ctx context.Context, id string) (func(), error) {
	e := l.entry(id)
	select {
	case e.ch <- struct{}{}:
	default:
		select {
		case e.ch <- struct{}{}:
		case <-ctx.Done():
			l.drop(id, e)
			return nil, ctx.Err()
		}
	}
	return func() {
		<-e.ch
		l.drop(id, e)
	}, nil
}

// waitFor returns how long to wait for the inline operations in flight.
func (l *instanceLocks) waitFor() time.Duration {
	switch {
	case l.wait < 0:
		return 0
	case l.wait == 0:
		return inlineWait
	}
	return l.wait
}

// pause waits until the next look at a lease held by another hoard: a
// poll tick, or ctx done (its error).
func (l *instanceLocks) pause(ctx context.Context) error {
	var tick <-chan time.Time
	if l.poll != nil {
		tick = l.poll()
	} else {
		t := time.NewTimer(inlinePoll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-tick:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// busy is the 422 of an instance that stayed busy with inline operations.
func busy(op, id string) error {
	return fault.Errorf(fault.Unprocessable, op,
		"Instance %s is busy with another operation. Please try again.", id)
}

// withEngine runs fn on the tenant's instance id once it is ready, holding
// the instance's lock and an inline lease (see above), with a bounded
// context. op names the operation in faults. Errors of fn that show the
// engine unreachable become 503 (engineFault).
func (s *deps) withEngine(ctx context.Context, tenantID, id, op string, fn func(ctx context.Context, t adminTarget) error) error {
	// A quick check first, so that a missing instance is 404 before anything.
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil {
		return mapStoreErr(op, id, err)
	}
	holder := uuid.NewString()
	inst, unlock, err := s.acquireInline(ctx, op, tenantID, id, holder, notReady)
	if err != nil {
		return err
	}
	defer unlock()
	t, _, err := s.reach(ctx, inst)
	if err != nil {
		return err
	}
	opCtx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return s.engineFault(ctx, op, t, fn(opCtx, t))
}

// acquireInline takes id's lock and an inline lease for holder, waiting
// (bounded) for the inline operations in flight; unlock releases both. An
// instance not ready (its status, or a task) is refused with refuse's error.
func (s *deps) acquireInline(ctx context.Context, op, tenantID, id, holder string, refuse func(op string, inst *model.Instance) error) (*model.Instance, func(), error) {
	wctx, cancel := context.WithTimeout(ctx, s.inline.waitFor())
	defer cancel()
	unlock, err := s.inline.lockCtx(wctx, id)
	if err != nil {
		return nil, nil, waitErr(ctx, op, id, err)
	}
	for {
		inst, err := s.st.AcquireInline(ctx, tenantID, id, adminAllowed, holder, s.now(), inlineLease)
		var se *store.StateError
		switch {
		case err == nil:
			return inst, func() { s.releaseInline(id, holder); unlock() }, nil
		case errors.As(err, &se) && slices.Contains(adminAllowed, se.Status):
			// Ready but for a task in flight: most often one whose last step
			// just made the instance ACTIVE and that the runner is about to
			// record done. Wait for it (bounded), as for a lease.
			if s.inline.pause(wctx) != nil {
				unlock()
				return nil, nil, refuse(op, &model.Instance{ID: id, Status: se.Status})
			}
			continue
		case errors.As(err, &se):
			unlock()
			return nil, nil, refuse(op, &model.Instance{ID: id, Status: se.Status})
		case !errors.Is(err, store.ErrBusy):
			unlock()
			return nil, nil, mapStoreErr(op, id, err)
		}
		// Another hoard holds the instance.
		if err := s.inline.pause(wctx); err != nil {
			unlock()
			return nil, nil, waitErr(ctx, op, id, err)
		}
	}
}

// releaseInline ends holder's lease on id, even if the request was
// cancelled. A failure is only logged: the lease ends by itself.
func (s *deps) releaseInline(id, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.st.ReleaseInline(ctx, id, holder); err != nil {
		s.log.Warn("inline lease not released; it ends by itself", "instance_id", id, "err", err)
	}
}

// waitErr is the error of a wait for id that ended with err: the request's
// own cancellation as it is, else 422 busy.
func waitErr(ctx context.Context, op, id string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, id, ctx.Err())
	}
	return fmt.Errorf("%s %s: %w", op, id, errors.Join(busy(op, id), err))
}

// startEngineAction is the state gate of an action that takes the engine
// of the tenant's instance id away (store.StartAction's contract): it
// waits (bounded) for the inline operations in flight on the instance,
// then starts the action through StartAction. Still busy after
// the wait is 422.
func (s *deps) startEngineAction(ctx context.Context, op, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task) (*model.Instance, error) {
	return s.startGatedAction(ctx, op, id, func() (*model.Instance, error) {
		return s.st.StartAction(ctx, tenantID, id, allowed, newStatus, task, s.now())
	})
}

// startGatedAction is startEngineAction with the store's gate of another
// kind (store.Instances.StartVolumeResize): gate is called, with the
// instance's lock held, until it is refused neither with store.ErrBusy
// nor for a task that is finishing (see finishing).
func (s *deps) startGatedAction(ctx context.Context, op, id string, gate func() (*model.Instance, error)) (*model.Instance, error) {
	wctx, cancel := context.WithTimeout(ctx, s.inline.waitFor())
	defer cancel()
	unlock, err := s.inline.lockCtx(wctx, id)
	if err != nil {
		return nil, waitErr(ctx, op, id, err)
	}
	defer unlock()
	for {
		inst, err := gate()
		if !errors.Is(err, store.ErrBusy) && !finishing(err) {
			return inst, err
		}
		if perr := s.inline.pause(wctx); perr != nil {
			if finishing(err) {
				return nil, err // the gate's own refusal, as without a wait
			}
			return nil, waitErr(ctx, op, id, perr)
		}
	}
}

// finishing reports whether err is a state gate's refusal of an instance
// that is ACTIVE: its status would allow the action, so what refused it is
// a task not yet recorded done — most often the one whose last step just
// made the instance ACTIVE, which the runner records done a moment later.
// A client that saw ACTIVE and acts at once (Terraform after a create, a
// script after a restart) is served after that moment instead of getting
// 422; a task that really goes on still gets 422 after the bounded wait.
func finishing(err error) bool {
	var se *store.StateError
	return errors.As(err, &se) && se.Status == model.StatusActive
}

// engineFault classifies err, the result of an inline operation on t. A
// classified error is kept. An unclassified one that shows the engine
// unreachable (a connection refused or cut, a timeout, or a probe that
// fails now) is 503 with a public message: the user cannot fix it and may
// retry. Anything else stays internal (500, text only in the log).
func (s *deps) engineFault(ctx context.Context, op string, t adminTarget, err error) error {
	if err == nil || fault.KindOf(err) != fault.Internal {
		return err
	}
	if ctx.Err() != nil {
		return err // the client went away
	}
	if errors.Is(err, datastore.ErrAdminLost) || s.adminLost(ctx, t) {
		return s.blockAdminLost(ctx, op, t.inst.ID, err)
	}
	if !datastore.Unreachable(t.eng, err) && !s.probeFails(ctx, t) {
		return err
	}
	s.log.Warn("inline operation: engine unreachable", "instance_id", t.inst.ID, "op", op, "err", err)
	return fault.Wrap(fault.Unavailable, op, fmt.Sprintf(
		"The database engine of instance %s cannot be reached at the moment. Please try again later.", t.inst.ID), err)
}

// adminLostMessage is the fault of an instance whose engine refuses hoard.
const adminLostMessage = "hoard's administrative account on this instance was changed or removed from inside the instance; restart the instance to repair it."

// adminLost reports whether the engine of t answers but refuses hoard's
// administrative account (datastore.AdminChecker), after an unexplained
// failure of an inline operation.
func (s *deps) adminLost(ctx context.Context, t adminTarget) bool {
	ac, ok := t.eng.(datastore.AdminChecker)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	return errors.Is(ac.CheckAdmin(ctx, t.conn), datastore.ErrAdminLost)
}

// instanceAdminLost reports whether instance id's engine answers but
// refuses hoard's administrative account (false when it cannot tell).
func (s *deps) instanceAdminLost(ctx context.Context, id string) bool {
	inst, err := s.st.GetInstance(ctx, "", id)
	if err != nil {
		return false
	}
	t, _, err := s.reach(ctx, inst)
	if err != nil {
		return false
	}
	return s.adminLost(ctx, t)
}

// blockAdminLost records that instance id's engine refuses hoard (status
// BLOCKED with a fault, unless an action already moved it on) and returns
// the 422 of the operation that found out. A restart repairs the account
// and makes the instance ACTIVE again.
func (s *deps) blockAdminLost(ctx context.Context, op, id string, cause error) error {
	s.log.Warn("engine refuses hoard's administrative account; instance blocked", "instance_id", id, "op", op, "err", cause)
	now := s.now()
	_, err := s.st.UpdateInstance(context.WithoutCancel(ctx), id, func(i *model.Instance) error {
		switch i.Status {
		case model.StatusActive, model.StatusRestartRequired, model.StatusBlocked:
			i.Status = model.StatusBlocked
			i.Fault = &model.Fault{Message: adminLostMessage, Created: now}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("record blocked instance", "instance_id", id, "err", err)
	}
	return fault.Wrap(fault.Unprocessable, op, "Instance "+id+" is BLOCKED: "+adminLostMessage, cause)
}

// probeFails reports whether the engine of t does not answer a ping now.
func (s *deps) probeFails(ctx context.Context, t adminTarget) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	return t.eng.Ping(ctx, t.conn) != nil
}
