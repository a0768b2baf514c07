package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// definitions returns the task definitions of instance operations (those
// of backups and restores are Backups'). Every step is idempotent.
func (s *Instances) definitions() []task.Definition {
	defs := []task.Definition{
		{
			Kind: model.TaskCreate,
			Steps: []task.Step{
				{Name: "assign_address", Run: s.stepAssignAddress},
				{Name: "provision", Run: s.stepProvision},
				{Name: "start", Run: s.stepStart},
				{Name: "wait_ready", Run: s.stepWaitReady},
				{Name: "bootstrap", Run: s.stepBootstrap},
				{Name: "create_databases_users", Run: s.stepCreateDatabasesUsers},
				{Name: "activate", Run: s.stepActivate(model.StatusBuild)},
			},
			OnFailure: s.failCreate,
		},
		{
			Kind: model.TaskRestart,
			Steps: []task.Step{
				{Name: "restart", Run: s.stepRestart},
				{Name: "wait_ready", Run: s.stepWaitReady},
				{Name: "activate", Run: s.stepActivate(model.StatusReboot)},
			},
			OnFailure: s.failRestart,
		},
		{
			Kind: model.TaskDelete,
			Steps: []task.Step{
				{Name: "destroy", Run: s.stepDestroy},
				{Name: "remove", Run: s.stepRemove},
			},
			OnFailure: s.failDelete,
		},
	}
	defs = append(defs, s.resizeDefinitions()...)  // resize.go
	defs = append(defs, s.replicaDefinitions()...) // replicas.go
	return append(defs, s.switchDefinitions()...)  // switchover.go
}

// load returns the task's instance, its driver spec and engine.
func (s *deps) load(ctx context.Context, t *model.Task) (*model.Instance, driver.Spec, datastore.Engine, error) {
	inst, err := s.st.GetInstance(ctx, "", t.InstanceID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, driver.Spec{}, nil, task.Permanent(err)
		}
		return nil, driver.Spec{}, nil, err
	}
	sp, err := s.spec(ctx, inst)
	if err != nil {
		return nil, driver.Spec{}, nil, err
	}
	e, err := s.engineFor(inst)
	if err != nil {
		return nil, driver.Spec{}, nil, task.Permanent(err)
	}
	return inst, sp, e, nil
}

// stepAssignAddress gives the instance its address: the name its driver
// has for it (driver.Addresser), else the first free one of the pool. Both
// ways it is written once; a repeat finds it in place.
func (s *Instances) stepAssignAddress(ctx context.Context, e *task.Exec) error {
	if a, ok := s.cfg.Driver.(driver.Addresser); ok {
		inst, sp, _, err := s.load(ctx, e.Task)
		if err != nil {
			return err
		}
		if addr := a.Address(sp); addr != "" {
			if inst.Address == addr {
				return nil
			}
			_, err := s.st.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error {
				i.Address = addr
				return nil
			})
			switch {
			case errors.Is(err, store.ErrNotFound):
				return task.Permanent(err)
			case errors.Is(err, store.ErrExists):
				return task.Permanent(fmt.Errorf("address %s is another instance's: %w", addr, err))
			}
			return err
		}
	}
	if _, err := s.st.AssignAddress(ctx, e.Task.InstanceID, s.cfg.Addresses); err != nil {
		if errors.Is(err, store.ErrNoAddress) {
			return task.Permanent(fmt.Errorf("no free instance address in the pool: %w", err))
		}
		return err
	}
	return nil
}

func (s *Instances) stepProvision(ctx context.Context, e *task.Exec) error {
	_, sp, _, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	return s.cfg.Driver.Provision(ctx, sp)
}

func (s *Instances) stepStart(ctx context.Context, e *task.Exec) error {
	_, sp, _, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	return s.cfg.Driver.Start(ctx, sp)
}

// stepWaitReady waits until the engine is ready or ReadyTimeout passes
// (then the task fails: the engine did not come up). A driver with its own
// readiness signal (driver.Readier: the Kubernetes driver's pod readiness)
// is asked; otherwise the engine is pinged at the driver's Conn.
func (s *Instances) stepWaitReady(ctx context.Context, e *task.Exec) error {
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	if r, ok := s.cfg.Driver.(driver.Readier); ok {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
		defer cancel()
		err := r.WaitReady(wctx, sp)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
			return task.Permanent(fmt.Errorf("engine not ready within %s: %w", s.cfg.ReadyTimeout, err))
		}
		return err
	}
	// As the admin account for engines that only tell a client logged in
	// that they cannot serve yet (datastore.AdminPinger: Redis answers
	// LOADING to it, NOAUTH to anyone else); their Ping counts a refused
	// login (before bootstrap) as an answer.
	c := s.cfg.Driver.Conn(sp)
	if ap, ok := eng.(datastore.AdminPinger); ok && ap.PingAsAdmin() {
		if ac, err := s.adminConn(inst, sp, eng); err == nil {
			c = ac
		}
	}
	start := time.Now()
	deadline := start.Add(s.cfg.ReadyTimeout)
	var last error
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = eng.Ping(pctx, c)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return task.Permanent(fmt.Errorf("engine did not answer within %s: %w", s.cfg.ReadyTimeout, last))
		}
		// Poll fast while an engine normally comes up (a restart takes
		// 0.05–0.5 s), then back off. Not faster: PostgreSQL forks a
		// backend to refuse each connection while it starts, and polling
		// every 2 ms made its restarts slower, not faster.
		pause := 5 * time.Millisecond
		if time.Since(start) > time.Second {
			pause = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

func (s *Instances) stepBootstrap(ctx context.Context, e *task.Exec) error {
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return task.Permanent(err)
	}
	return eng.Bootstrap(ctx, c)
}

func (s *Instances) stepCreateDatabasesUsers(ctx context.Context, e *task.Exec) error {
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	plain, err := s.cfg.Sealer.Open(e.Payload())
	if err != nil {
		return task.Permanent(err)
	}
	var p createPayload
	if len(plain) > 0 {
		if err := json.Unmarshal(plain, &p); err != nil {
			return task.Permanent(fmt.Errorf("create payload: %w", err))
		}
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return task.Permanent(err)
	}
	if len(p.Databases) > 0 {
		da, ok := eng.(datastore.DatabaseAdmin)
		if !ok { // refused at create (checkDatabasesUsers)
			return task.Permanent(fmt.Errorf("engine %s has no databases", eng.Name()))
		}
		if err := da.CreateDatabases(ctx, c, p.Databases); err != nil {
			return err
		}
	}
	if len(p.Users) > 0 {
		users := make([]datastore.User, len(p.Users))
		for i, u := range p.Users {
			users[i] = datastore.User{Name: u.Name, Host: u.Host, Password: datastore.Secret(u.Password), Databases: u.Databases}
		}
		if err := eng.CreateUsers(ctx, c, users); err != nil {
			return err
		}
	}
	// The passwords are applied: erase them from the task.
	e.SetPayload(nil)
	return nil
}

// stepActivate marks the instance ACTIVE if it is still in the status the
// operation set (from), and clears an old fault.
func (s *Instances) stepActivate(from model.InstanceStatus) func(context.Context, *task.Exec) error {
	return func(ctx context.Context, e *task.Exec) error {
		_, err := s.st.UpdateInstance(ctx, e.Task.InstanceID, func(i *model.Instance) error {
			if i.Status == from {
				i.Status = model.StatusActive
				i.Fault = nil
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return task.Permanent(err)
		}
		if err == nil {
			s.log.Info("instance active", "instance_id", e.Task.InstanceID, "task_id", e.Task.ID, "kind", string(e.Task.Kind))
		}
		return err
	}
}

func (s *Instances) stepRestart(ctx context.Context, e *task.Exec) error {
	_, sp, _, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	return s.cfg.Driver.Restart(ctx, sp)
}

func (s *Instances) stepDestroy(ctx context.Context, e *task.Exec) error {
	return s.cfg.Driver.Destroy(ctx, e.Task.InstanceID)
}

func (s *Instances) stepRemove(ctx context.Context, e *task.Exec) error {
	err := s.st.DeleteInstance(ctx, e.Task.InstanceID)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err == nil {
		s.usageMu.Lock()
		delete(s.usage, e.Task.InstanceID)
		s.usageMu.Unlock()
		s.log.Info("instance deleted", "instance_id", e.Task.InstanceID, "task_id", e.Task.ID)
	}
	return err
}

// recordFailure sets an instance's status and fault after a failed task.
func (s *deps) recordFailure(ctx context.Context, t *model.Task, status model.InstanceStatus, msg string) error {
	_, err := s.st.UpdateInstance(ctx, t.InstanceID, func(i *model.Instance) error {
		i.Status = status
		i.Fault = &model.Fault{Message: msg, Created: s.now()}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (s *Instances) failCreate(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("instance create failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	// Leave no engine running for an instance that never became ACTIVE.
	if err := s.cfg.Driver.Stop(ctx, t.InstanceID); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.Warn("stop after failed create", "instance_id", t.InstanceID, "err", err)
	}
	return s.recordFailure(ctx, t, model.StatusError, "The instance could not be created: the database service failed to start or to be configured.")
}

func (s *Instances) failRestart(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("instance restart failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	status := model.StatusShutdown
	if st, err := s.cfg.Driver.State(ctx, t.InstanceID); err == nil && st == driver.StateRunning {
		status = model.StatusBlocked
	}
	return s.recordFailure(ctx, t, status, "The database service did not come back after the restart.")
}

func (s *Instances) failDelete(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("instance delete failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	return s.recordFailure(ctx, t, model.StatusError, "The instance could not be deleted; delete it again.")
}
