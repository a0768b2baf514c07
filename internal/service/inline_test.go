package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// hookEngine is memEngine whose CreateUsers first runs hook (while the
// inline operation is in flight) and fails with hook's error, if any; its
// Ping answers ping.
type hookEngine struct {
	*memEngine
	hook func(ctx context.Context) error
	ping error
}

func (h *hookEngine) CreateUsers(ctx context.Context, c datastore.Conn, us []datastore.User) error {
	if h.hook != nil {
		if err := h.hook(ctx); err != nil {
			return err
		}
	}
	return h.memEngine.CreateUsers(ctx, c, us)
}

func (h *hookEngine) Ping(context.Context, datastore.Conn) error { return h.ping }

// errEngineGone is what a driver says when the engine's socket is gone.
var errEngineGone = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// replica returns another Service over s's store, engines and driver: a
// second hoard sharing the metadata store.
func replica(s *Service) *Service {
	cfg := s.cfg
	cfg.Logger = slog.New(slog.DiscardHandler)
	return New(cfg)
}

// engineAction is an action that takes the engine away.
type engineAction struct {
	name string
	do   func(ctx context.Context, s *Service, id string) error
}

var engineActions = []engineAction{
	{"restart", func(ctx context.Context, s *Service, id string) error { return s.RestartInstance(ctx, "t1", id) }},
	{"delete", func(ctx context.Context, s *Service, id string) error { return s.DeleteInstance(ctx, "t1", id) }},
}

// TestInlineRaceRefused reproduces the race of an inline operation with an
// action that takes the engine down, deterministically: the action is
// asked for while a user create is inside the engine, on this hoard or on
// another one sharing the store, with no waiting allowed. It must be
// refused (422); had it been accepted, the engine would go away under the
// create (the hook fails it as the driver would), which used to be a 500.
func TestInlineRaceRefused(t *testing.T) {
	for _, act := range engineActions {
		for _, via := range []string{"same", "replica"} {
			t.Run(act.name+"/"+via, func(t *testing.T) {
				ctx := t.Context()
				s, mem, ids := newTestService(t, model.StatusActive)
				id := ids["mem"]
				other := s
				if via == "replica" {
					other = replica(s)
				}
				other.inline.wait = -1 // refuse at once instead of waiting
				var actErr error
				s.cfg.Engines["mem"] = &hookEngine{memEngine: mem, hook: func(context.Context) error {
					actErr = act.do(ctx, other, id)
					if actErr == nil {
						return errEngineGone // the engine was taken away under us
					}
					return nil
				}}
				err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "app", Password: "pw-123"}})
				if !fault.Is(actErr, fault.Unprocessable) {
					t.Errorf("%s during a user create = %v, want 422", act.name, actErr)
				}
				if err != nil {
					t.Fatalf("CreateUsers raced by %s = %v (kind %v), want nil", act.name, err, fault.KindOf(err))
				}
				if len(mem.users) != 1 {
					t.Errorf("engine has %d users, want 1", len(mem.users))
				}
				if _, err := s.st.ActiveTask(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("ActiveTask after a refused %s = %v, want none", act.name, err)
				}
				// Once the create is over, the action goes through.
				if err := act.do(ctx, other, id); err != nil {
					t.Errorf("%s after the user create = %v", act.name, err)
				}
			})
		}
	}
}

// gateStore reports every StartAction refusal on busy.
type gateStore struct {
	store.Store
	busy chan struct{}
}

func (g *gateStore) StartAction(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) (*model.Instance, error) {
	inst, err := g.Store.StartAction(ctx, tenantID, id, allowed, newStatus, task, now)
	if errors.Is(err, store.ErrBusy) {
		select {
		case g.busy <- struct{}{}:
		default:
		}
	}
	return inst, err
}

// TestInlineRaceWaits: an action asked for on another hoard while a user
// create is in flight waits for the create to end, then is accepted; the
// create saw no task at any time.
func TestInlineRaceWaits(t *testing.T) {
	for _, act := range engineActions {
		t.Run(act.name, func(t *testing.T) {
			ctx := t.Context()
			s, mem, ids := newTestService(t, model.StatusActive)
			id := ids["mem"]
			gs := &gateStore{Store: s.st, busy: make(chan struct{}, 1)}
			other := replica(s)
			other.cfg.Store, other.st = gs, gs
			ticks := make(chan time.Time) // the waiter's polls, driven by the test
			other.inline.poll = func() <-chan time.Time { return ticks }
			actDone := make(chan error, 1)
			s.cfg.Engines["mem"] = &hookEngine{memEngine: mem, hook: func(hctx context.Context) error {
				go func() { actDone <- act.do(ctx, other, id) }()
				select {
				case <-gs.busy: // the action is waiting for us
				case err := <-actDone:
					t.Errorf("%s during a user create returned %v before the create ended", act.name, err)
					return errEngineGone
				}
				if _, err := s.st.ActiveTask(hctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a task exists while the user create runs: %v", err)
				}
				return nil
			}}
			if err := s.CreateUsers(ctx, "t1", id, []datastore.User{{Name: "app", Password: "pw-123"}}); err != nil {
				t.Fatalf("CreateUsers = %v", err)
			}
			var err error
			select {
			case ticks <- time.Now(): // the waiter looks again, and finds the lease released
				err = <-actDone
			case err = <-actDone:
				t.Errorf("%s returned without a poll after the create", act.name)
			}
			if err != nil {
				t.Fatalf("%s after waiting = %v, want accepted", act.name, err)
			}
			if _, err := s.st.ActiveTask(ctx, id); err != nil {
				t.Errorf("ActiveTask after the %s = %v, want its task", act.name, err)
			}
			if len(mem.users) != 1 {
				t.Errorf("engine has %d users, want 1", len(mem.users))
			}
		})
	}
}

// TestInlineAfterActionRefused: an inline operation asked for once an
// action was accepted is 422, on this hoard and on another.
func TestInlineAfterActionRefused(t *testing.T) {
	ctx := t.Context()
	s, _, ids := newTestService(t, model.StatusActive)
	if err := s.RestartInstance(ctx, "t1", ids["mem"]); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []*Service{s, replica(s)} {
		err := svc.CreateUsers(ctx, "t1", ids["mem"], []datastore.User{{Name: "app", Password: "pw-123"}})
		if !fault.Is(err, fault.Unprocessable) || fault.Message(err) != "Instance inst-mem is not ready, status: REBOOT." {
			t.Errorf("CreateUsers during a restart = %v, want 422 not ready", err)
		}
	}
}

// TestInlineEngineUnreachable: an engine that cannot be reached is a
// retriable 503 whose message says nothing of the cause; an engine that
// answers with an unexpected error stays a 500.
func TestInlineEngineUnreachable(t *testing.T) {
	tests := []struct {
		name     string
		hookErr  error
		ping     error
		wantKind fault.Kind
	}{
		{"connection refused", errEngineGone, nil, fault.Unavailable},
		{"reset in a chain", fmt.Errorf("mariadb: create user: %w", syscallErr(syscall.ECONNRESET)), nil, fault.Unavailable},
		{"unexpected EOF", fmt.Errorf("mariadb: create user: %w", io.ErrUnexpectedEOF), nil, fault.Unavailable},
		{"timeout", context.DeadlineExceeded, nil, fault.Unavailable},
		{"unknown, ping fails", errors.New("mariadb: invalid connection"), errEngineGone, fault.Unavailable},
		{"unknown, engine answers", errors.New("mariadb: something odd"), nil, fault.Internal},
		{"classified", fault.New(fault.Invalid, "mem", "Bad user."), errEngineGone, fault.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, mem, ids := newTestService(t, model.StatusActive)
			s.cfg.Engines["mem"] = &hookEngine{memEngine: mem, ping: tt.ping,
				hook: func(context.Context) error { return tt.hookErr }}
			err := s.CreateUsers(ctx, "t1", ids["mem"], []datastore.User{{Name: "app", Password: "pw-123"}})
			if got := fault.KindOf(err); got != tt.wantKind {
				t.Fatalf("CreateUsers = %v (kind %v), want kind %v", err, got, tt.wantKind)
			}
			if tt.wantKind == fault.Unavailable {
				msg := fault.Message(err)
				if msg == "" || strings.Contains(msg, "mariadb") || strings.Contains(msg, "refused") {
					t.Errorf("503 message %q: want a public message without internals", msg)
				}
			}
			// The lease was released: the instance can be restarted at once.
			s.inline.wait = -1
			if err := s.RestartInstance(ctx, "t1", ids["mem"]); err != nil {
				t.Errorf("RestartInstance after a failed inline operation = %v", err)
			}
		})
	}
}

func syscallErr(e syscall.Errno) error { return &net.OpError{Op: "read", Net: "unix", Err: e} }

// cfgEngine is memEngine with configuration groups; ApplyDynamic runs hook
// (while the values are being applied) and records what it applied.
type cfgEngine struct {
	*memEngine
	hook    func(ctx context.Context)
	applied []map[string]string
}

func (e *cfgEngine) Parameters(context.Context) ([]datastore.Parameter, error) {
	return testParams, nil
}
func (e *cfgEngine) Defaults(datastore.Spec) map[string]string { return map[string]string{} }
func (e *cfgEngine) ApplyDynamic(ctx context.Context, _ datastore.Conn, v map[string]string) error {
	if e.hook != nil {
		e.hook(ctx)
	}
	e.applied = append(e.applied, v)
	return nil
}

// newGroupService returns a test service whose "mem" engine has
// configuration groups, the id of its "mem" instance (ACTIVE), and a group
// for it setting max_connections to 77.
func newGroupService(t *testing.T) (*Service, *cfgEngine, string, string) {
	t.Helper()
	s, mem, ids := newTestService(t, model.StatusActive)
	eng := &cfgEngine{memEngine: mem}
	s.cfg.Engines["mem"] = eng
	name := "g"
	c, err := s.CreateConfiguration(t.Context(), "t1", ConfigurationRequest{Name: &name,
		DatastoreType: "memdb", DatastoreVersion: "1", Values: map[string]any{"max_connections": json.Number("77")}})
	if err != nil {
		t.Fatal(err)
	}
	return s, eng, ids["mem"], c.ID
}

// TestConfigurationRaceRefused: applying a configuration group to an
// engine (attach, or a group update pushed to its instances) is an inline
// operation: a restart or delete asked for meanwhile, on this hoard or on
// another, is refused (422) instead of taking the engine away under it, and
// goes through once the values are applied.
func TestConfigurationRaceRefused(t *testing.T) {
	steps := []struct {
		name string
		do   func(ctx context.Context, s *Service, id, cfgID string) error
	}{
		{"attach", func(ctx context.Context, s *Service, id, cfgID string) error {
			return s.AttachConfiguration(ctx, "t1", id, cfgID)
		}},
		{"update", func(ctx context.Context, s *Service, id, cfgID string) error {
			return s.UpdateConfiguration(ctx, "t1", cfgID, ConfigurationRequest{Values: map[string]any{"max_connections": json.Number("88")}}, false)
		}},
	}
	for _, act := range engineActions {
		for _, step := range steps {
			for _, via := range []string{"same", "replica"} {
				t.Run(act.name+"/"+step.name+"/"+via, func(t *testing.T) {
					ctx := t.Context()
					s, eng, id, cfgID := newGroupService(t)
					if step.name == "update" {
						if err := s.AttachConfiguration(ctx, "t1", id, cfgID); err != nil {
							t.Fatal(err)
						}
					}
					other := s
					if via == "replica" {
						other = replica(s)
					}
					other.inline.wait = -1
					var actErr error
					eng.hook = func(context.Context) { actErr = act.do(ctx, other, id) }
					if err := step.do(ctx, s, id, cfgID); err != nil {
						t.Fatalf("%s = %v", step.name, err)
					}
					if !fault.Is(actErr, fault.Unprocessable) {
						t.Errorf("%s during a configuration %s = %v, want 422", act.name, step.name, actErr)
					}
					want := "77"
					if step.name == "update" {
						want = "88"
					}
					if n := len(eng.applied); n == 0 || eng.applied[n-1]["max_connections"] != want {
						t.Errorf("values applied = %v, want max_connections=%s last", eng.applied, want)
					}
					eng.hook = nil
					if err := act.do(ctx, other, id); err != nil {
						t.Errorf("%s after the configuration %s = %v", act.name, step.name, err)
					}
				})
			}
		}
	}
}

// TestConfigurationPushWhileBusy: a group update that cannot reach an
// instance now (another hoard holds it) leaves it RESTART_REQUIRED, so that
// the user knows the new values are not in effect yet.
func TestConfigurationPushWhileBusy(t *testing.T) {
	ctx := t.Context()
	s, eng, id, cfgID := newGroupService(t)
	if err := s.AttachConfiguration(ctx, "t1", id, cfgID); err != nil {
		t.Fatal(err)
	}
	// Another hoard is inside the engine.
	if _, err := s.st.AcquireInline(ctx, "t1", id, adminAllowed, "other-hoard", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	s.inline.wait = -1
	applied := len(eng.applied)
	if err := s.UpdateConfiguration(ctx, "t1", cfgID, ConfigurationRequest{Values: map[string]any{"max_connections": json.Number("88")}}, false); err != nil {
		t.Fatalf("UpdateConfiguration = %v", err)
	}
	if len(eng.applied) != applied {
		t.Errorf("values applied while another hoard held the instance: %v", eng.applied[applied:])
	}
	inst, err := s.st.GetInstance(ctx, "t1", id)
	if err != nil {
		t.Fatal(err)
	}
	if inst.Status != model.StatusRestartRequired {
		t.Errorf("status after a push that could not reach the engine = %s, want RESTART_REQUIRED", inst.Status)
	}
}

// TestAttachWithTaskIs400: attaching a group to an instance that is ACTIVE
// but has a task under way is Trove's InvalidInstanceState (400), as for
// any other status (reference section 8.5), not the 422 of inline calls.
func TestAttachWithTaskIs400(t *testing.T) {
	ctx := t.Context()
	s, _, id, cfgID := newGroupService(t)
	now := time.Now()
	task := &model.Task{ID: "task-1", InstanceID: id, Kind: model.TaskRestart, State: model.TaskPending, Created: now, Updated: now}
	if _, err := s.st.StartAction(ctx, "t1", id, []model.InstanceStatus{model.StatusActive}, model.StatusActive, task, now); err != nil {
		t.Fatal(err)
	}
	err := s.AttachConfiguration(ctx, "t1", id, cfgID)
	const want = "The operation you have requested cannot be executed because the instance status is currently: ACTIVE."
	if !fault.Is(err, fault.Invalid) || fault.Message(err) != want {
		t.Errorf("attach with a task under way = %v (kind %v), want 400 %q", err, fault.KindOf(err), want)
	}
}
