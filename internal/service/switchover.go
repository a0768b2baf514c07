package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// Changing a replication set's source (API reference §9.3):
//
//   - promote_to_replica_source on a replica R of source S is a planned
//     switchover with no lost write: S is fenced (it stops taking writes,
//     or is stopped cleanly where the engine can only fence so), R catches
//     up with everything S wrote, R is promoted, and S and the other
//     replicas follow R (TaskPromote, on R; every member shows PROMOTE).
//   - eject_replica_source on a source S whose engine is gone promotes its
//     most advanced replica, which the others then follow; S is stopped
//     for good and detached from the set, as its data may hold writes no
//     replica received (TaskEject, on S; every member shows EJECT). So
//     there are never two writable sources in one set.
//
// Both are one durable task whose steps are idempotent; the engine side is
// datastore.Switchover.

// switchPayload is the payload of a promote or eject task: the set's
// members when it started, and what the steps found.
type switchPayload struct {
	// Source is the old source; Target the replica that becomes the new
	// source (chosen by the choose step of an eject).
	Source string `json:"source"`
	Target string `json:"target,omitempty"`
	// Members are every instance of the set (old source and replicas).
	Members []string `json:"members"`
	// Position is the fenced source's, "" when it was stopped to fence it.
	Position string `json:"position,omitempty"`
	// Stopped is set once the old source was stopped to fence it.
	Stopped bool `json:"stopped,omitempty"`
	// Promoted is set once Target was promoted.
	Promoted bool `json:"promoted,omitempty"`
}

// switchoverAllowed are the statuses a promote may start from: every
// member's engine must run.
var switchoverAllowed = []model.InstanceStatus{model.StatusActive, model.StatusRestartRequired}

// switchover returns the engine of inst if it can change its set's source
// here, else a 501 fault.
func (s *deps) switchover(op string, inst *model.Instance) (datastore.Engine, datastore.Replicator, datastore.Switchover, error) {
	eng, err := s.engineFor(inst)
	if err != nil {
		return nil, nil, nil, err
	}
	rep, ok := eng.(datastore.Replicator)
	sw, ok2 := eng.(datastore.Switchover)
	if !ok || !ok2 {
		return nil, nil, nil, fault.Errorf(fault.NotImplemented, op, "Changing the replica source is not supported for the '%s' datastore.", inst.Datastore)
	}
	return eng, rep, sw, nil
}

// startSwitch records a promote or eject of the set of source src: every
// member goes to status, task kind runs on the instance taskOn.
func (s *Instances) startSwitch(ctx context.Context, op, tenantID, src, target, taskOn string, kind model.TaskKind,
	status model.InstanceStatus, allowed []model.InstanceStatus) error {
	replicas, err := s.st.ListReplicas(ctx, src)
	if err != nil {
		return err
	}
	members := []string{src}
	for _, r := range replicas {
		members = append(members, r.ID)
	}
	p, err := json.Marshal(switchPayload{Source: src, Target: target, Members: members})
	if err != nil {
		return err
	}
	now := s.now()
	tk := &model.Task{ID: uuid.NewString(), InstanceID: taskOn, Kind: kind, State: model.TaskPending, Payload: p, Created: now, Updated: now}
	// Wait (bounded) for inline operations in flight, as actions do.
	wctx, cancel := context.WithTimeout(ctx, s.inline.waitFor())
	defer cancel()
	for {
		err = s.st.StartGroupAction(ctx, tenantID, members, allowed, status, tk, now)
		if !errors.Is(err, store.ErrBusy) {
			break
		}
		if err := s.inline.pause(wctx); err != nil {
			return waitErr(ctx, op, taskOn, err)
		}
	}
	var se *store.StateError
	if errors.As(err, &se) {
		return fault.Errorf(fault.Unprocessable, op,
			"Instance %s is not currently available for an action to be performed (instance status was %s).", se.InstanceID, se.Status)
	}
	if err != nil {
		return mapStoreErr(op, taskOn, err)
	}
	s.cfg.Notify()
	s.log.Info("replica source change accepted", "kind", string(kind), "instance_id", taskOn, "source_id", src, "tenant_id", tenantID, "task_id", tk.ID)
	return nil
}

// PromoteReplica implements api.Backend (promote_to_replica_source): the
// tenant's replica id becomes the source of its set.
func (s *Instances) PromoteReplica(ctx context.Context, tenantID, id string) error {
	const op = "instance.promote_to_replica_source"
	r, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	if r.ReplicaOf == "" {
		return fault.Errorf(fault.Invalid, op, "Instance %s is not a replica.", id)
	}
	if _, _, _, err := s.switchover(op, r); err != nil {
		return err
	}
	return s.startSwitch(ctx, op, tenantID, r.ReplicaOf, r.ID, r.ID, model.TaskPromote, model.StatusPromote, switchoverAllowed)
}

// EjectReplicaSource implements api.Backend (eject_replica_source): the
// tenant's source id, whose engine does not answer, leaves its set, and
// its most advanced replica becomes the source.
func (s *Instances) EjectReplicaSource(ctx context.Context, tenantID, id string) error {
	const op = "instance.eject_replica_source"
	src, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	replicas, err := s.st.ListReplicas(ctx, id)
	if err != nil {
		return err
	}
	if len(replicas) == 0 {
		return fault.Errorf(fault.Invalid, op, "Instance %s is not a replica source.", id)
	}
	if _, _, _, err := s.switchover(op, src); err != nil {
		return err
	}
	if src.Status != model.StatusShutdown && s.engineAnswers(ctx, src) {
		return fault.Errorf(fault.Invalid, op, "Replica Source %s cannot be ejected as it has a current heartbeat.", id)
	}
	return s.startSwitch(ctx, op, tenantID, id, "", id, model.TaskEject, model.StatusEject, model.ActionAllowedStatuses)
}

// engineAnswers reports whether the engine of src answers a ping now.
func (s *Instances) engineAnswers(ctx context.Context, src *model.Instance) bool {
	t, _, err := s.reach(ctx, src)
	if err != nil {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return t.eng.Ping(pctx, t.conn) == nil
}

// switchState is what a switch step works on.
type switchState struct {
	p   switchPayload
	eng datastore.Engine
	rep datastore.Replicator
	sw  datastore.Switchover
}

// loadSwitch reads a promote or eject task's payload and engine.
func (s *Instances) loadSwitch(ctx context.Context, e *task.Exec) (*switchState, error) {
	var st switchState
	if err := json.Unmarshal(e.Payload(), &st.p); err != nil || st.p.Source == "" {
		return nil, task.Permanent(fmt.Errorf("switch task %s payload: %v", e.Task.ID, err))
	}
	inst, err := s.st.GetInstance(ctx, "", e.Task.InstanceID)
	if err != nil {
		if isNotFound(err) {
			return nil, task.Permanent(err)
		}
		return nil, err
	}
	if st.eng, st.rep, st.sw, err = s.switchover("switch", inst); err != nil {
		return nil, task.Permanent(err)
	}
	return &st, nil
}

// loadSwitchTarget is loadSwitch with the admin connection of the
// replica that becomes the source.
func (s *Instances) loadSwitchTarget(ctx context.Context, e *task.Exec) (*switchState, datastore.Conn, error) {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return nil, datastore.Conn{}, err
	}
	_, _, c, err := s.target(ctx, st.p.Target)
	if err != nil {
		return nil, datastore.Conn{}, err
	}
	return st, c, nil
}

// save records p as the task's payload.
func (st *switchState) save(e *task.Exec) error {
	b, err := json.Marshal(st.p)
	if err != nil {
		return err
	}
	e.SetPayload(b)
	return nil
}

// target returns instance id, its driver spec and admin connection.
func (s *Instances) target(ctx context.Context, id string) (*model.Instance, driver.Spec, datastore.Conn, error) {
	t, sp, err := s.reachID(ctx, id)
	return t.inst, sp, t.conn, err
}

// stepFence makes the old source stop taking writes and records its
// position; an engine that fences by stopping is stopped.
func (s *Instances) stepFence(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	if st.p.Stopped {
		return nil
	}
	_, _, c, err := s.target(ctx, st.p.Source)
	if err != nil {
		return err
	}
	pos, err := st.sw.Fence(ctx, c)
	if errors.Is(err, datastore.ErrStopToFence) {
		if err := s.cfg.Driver.Stop(ctx, st.p.Source); err != nil && !errors.Is(err, driver.ErrNotFound) {
			return err
		}
		st.p.Position, st.p.Stopped = "", true
		return st.save(e)
	}
	if err != nil {
		return err
	}
	st.p.Position = pos
	return st.save(e)
}

// stepCatchUp waits until the target has applied everything the fenced
// source wrote.
func (s *Instances) stepCatchUp(ctx context.Context, e *task.Exec) error {
	st, c, err := s.loadSwitchTarget(ctx, e)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	if err := st.sw.WaitCaughtUp(wctx, c, st.p.Position); err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			return task.Permanent(fmt.Errorf("replica %s did not catch up with its source within %s: %w", st.p.Target, s.cfg.ReadyTimeout, err))
		}
		return err
	}
	return nil
}

// stepStopSource stops an ejected source's engine for good (it must not
// come back as a second writable source).
func (s *Instances) stepStopSource(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	if err := s.cfg.Driver.Stop(ctx, st.p.Source); err != nil && !errors.Is(err, driver.ErrNotFound) {
		return err
	}
	st.p.Stopped = true
	return st.save(e)
}

// stepChoose picks the replica that received the most of the ejected
// source's writes.
func (s *Instances) stepChoose(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	if st.p.Target != "" {
		return nil
	}
	best, bestPos := "", ""
	for _, id := range st.p.Members {
		if id == st.p.Source {
			continue
		}
		_, _, c, err := s.target(ctx, id)
		if err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		pos, err := st.sw.ReplicaPosition(pctx, c)
		cancel()
		if err != nil {
			e.Logger.Warn("replica position unreadable: not a candidate", "instance_id", id, "err", err)
			continue
		}
		if best == "" {
			best, bestPos = id, pos
			continue
		}
		cmp, err := st.sw.ComparePositions(pos, bestPos)
		if err != nil {
			return task.Permanent(fmt.Errorf("replicas %s and %s cannot be compared: %w", id, best, err))
		}
		if cmp > 0 {
			best, bestPos = id, pos
		}
	}
	if best == "" {
		return task.Permanent(errors.New("no replica answers: none can become the source"))
	}
	st.p.Target = best
	return st.save(e)
}

// stepPromoteTarget promotes the chosen replica.
func (s *Instances) stepPromoteTarget(ctx context.Context, e *task.Exec) error {
	st, c, err := s.loadSwitchTarget(ctx, e)
	if err != nil {
		return err
	}
	if err := st.rep.Promote(ctx, c); err != nil {
		return err
	}
	st.p.Promoted = true
	return st.save(e)
}

// stepSwap records the new topology: the target standalone with the set's
// replication secret, the other members its replicas; an ejected source
// leaves the set.
func (s *Instances) stepSwap(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	src, err := s.st.GetInstance(ctx, "", st.p.Source)
	if err != nil {
		return task.Permanent(err)
	}
	secret := src.ReplicationSecret
	if _, err := s.st.UpdateInstance(ctx, st.p.Target, func(i *model.Instance) error {
		i.ReplicaOf = ""
		if len(i.ReplicationSecret) == 0 {
			i.ReplicationSecret = secret
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range st.p.Members {
		if id == st.p.Target {
			continue
		}
		ejected := id == st.p.Source && e.Task.Kind == model.TaskEject
		if _, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
			if ejected {
				i.ReplicaOf = ""
				return nil
			}
			i.ReplicaOf = st.p.Target
			return nil
		}); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// stepPrepareTarget makes the new source ready to be followed (its
// replication account, which engines that do not replicate accounts lack)
// and renders it standalone.
func (s *Instances) stepPrepareTarget(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	inst, sp, c, err := s.target(ctx, st.p.Target)
	if err != nil {
		return err
	}
	pw, err := s.cfg.Sealer.Open(inst.ReplicationSecret)
	if err != nil || len(pw) == 0 {
		return task.Permanent(fmt.Errorf("the replication secret of %s is unreadable: %v", inst.ID, err))
	}
	if err := st.rep.PrepareSource(ctx, c, datastore.Secret(pw)); err != nil {
		return err
	}
	if r, ok := s.cfg.Driver.(reconfigurer); ok {
		return r.Reconfigure(ctx, sp)
	}
	return nil
}

// stepFollow makes the other members follow the new source: each is
// rendered as its replica (started again if the fence stopped it) and told
// to follow.
func (s *Instances) stepFollow(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	for _, id := range st.p.Members {
		if id == st.p.Target || (id == st.p.Source && e.Task.Kind == model.TaskEject) {
			continue
		}
		_, sp, c, err := s.target(ctx, id)
		if err != nil {
			if isNotFound(err) {
				continue // deleted meanwhile
			}
			return err
		}
		if sp.ReplicaOf == nil {
			return task.Permanent(fmt.Errorf("instance %s has no readable source to follow", id))
		}
		if id == st.p.Source && st.p.Stopped {
			if err := s.cfg.Driver.Start(ctx, sp); err != nil {
				return err
			}
			if err := s.waitAnswers(ctx, st.eng, c); err != nil {
				return err
			}
		} else if r, ok := s.cfg.Driver.(reconfigurer); ok {
			if err := r.Reconfigure(ctx, sp); err != nil {
				return err
			}
		}
		if err := st.sw.Follow(ctx, c, *sp.ReplicaOf); err != nil {
			return fmt.Errorf("instance %s following %s: %w", id, st.p.Target, err)
		}
	}
	return nil
}

// waitAnswers pings an engine until it answers, within ReadyTimeout.
func (s *Instances) waitAnswers(ctx context.Context, eng datastore.Engine, c datastore.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(wctx, probeTimeout)
		err := eng.Ping(pctx, c)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return task.Permanent(fmt.Errorf("engine not ready within %s: %w", s.cfg.ReadyTimeout, err))
		}
	}
}

// stepActivateSet ends the change: every member ACTIVE again; an ejected
// source stays stopped, SHUTDOWN, with a fault that says why.
func (s *Instances) stepActivateSet(ctx context.Context, e *task.Exec) error {
	st, err := s.loadSwitch(ctx, e)
	if err != nil {
		return err
	}
	from := []model.InstanceStatus{model.StatusPromote, model.StatusEject}
	for _, id := range st.p.Members {
		ejected := id == st.p.Source && e.Task.Kind == model.TaskEject
		_, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
			if !slices.Contains(from, i.Status) {
				return nil
			}
			if ejected {
				i.Status = model.StatusShutdown
				i.Fault = &model.Fault{Created: s.now(), Message: "This instance was ejected as the source of its replicas (it did not answer); " +
					st.p.Target + " is their source now. It stays stopped, since it may hold writes no replica received: delete it, or restart it to use it on its own."}
				return nil
			}
			i.Status = model.StatusActive
			return nil
		})
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	s.log.Info("replica source changed", "kind", string(e.Task.Kind), "source_id", st.p.Target, "old_source_id", st.p.Source)
	return nil
}

// failSwitch records a promote or eject that failed. Before the target
// was promoted the old source keeps its role (its fence is undone, or it
// is started again); after, the new topology stands as far as it got. Every
// member leaves PROMOTE/EJECT; the task's instance carries the fault.
func (s *Instances) failSwitch(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("replica source change failed", "kind", string(t.Kind), "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	var p switchPayload
	_ = json.Unmarshal(t.Payload, &p)
	msg := "The replica source could not be changed: the source keeps its role."
	if p.Promoted {
		msg = "The replica source could not be changed completely: " + p.Target + " is promoted, but not every member follows it; check the replicas."
	}
	if !p.Promoted && t.Kind == model.TaskPromote && p.Source != "" {
		if inst, err := s.st.GetInstance(ctx, "", p.Source); err == nil {
			if _, _, sw, err := s.switchover("switch", inst); err == nil {
				if t, sp, err := s.reach(ctx, inst); err == nil {
					if p.Stopped {
						if err := s.cfg.Driver.Start(ctx, sp); err != nil {
							s.log.Warn("old source not started again", "instance_id", p.Source, "err", err)
						}
					} else if err := sw.Unfence(ctx, t.conn); err != nil {
						s.log.Warn("old source not unfenced", "instance_id", p.Source, "err", err)
					}
				}
			}
		}
	}
	for _, id := range p.Members {
		if id == t.InstanceID {
			continue
		}
		_, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
			if i.Status == model.StatusPromote || i.Status == model.StatusEject {
				i.Status = model.StatusActive
			}
			return nil
		})
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	status := model.StatusActive
	if t.Kind == model.TaskEject && t.InstanceID == p.Source {
		status = model.StatusShutdown
	}
	return s.recordFailure(ctx, t, status, msg)
}

// switchDefinitions are the task definitions of promote and eject.
func (s *Instances) switchDefinitions() []task.Definition {
	return []task.Definition{
		{
			Kind: model.TaskPromote,
			Steps: []task.Step{
				{Name: "fence", Run: s.stepFence},
				{Name: "catch_up", Run: s.stepCatchUp},
				{Name: "promote", Run: s.stepPromoteTarget},
				{Name: "swap", Run: s.stepSwap},
				{Name: "prepare_source", Run: s.stepPrepareTarget},
				{Name: "follow", Run: s.stepFollow},
				{Name: "activate", Run: s.stepActivateSet},
			},
			OnFailure: s.failSwitch,
		},
		{
			Kind: model.TaskEject,
			Steps: []task.Step{
				{Name: "stop_source", Run: s.stepStopSource},
				{Name: "choose", Run: s.stepChoose},
				{Name: "promote", Run: s.stepPromoteTarget},
				{Name: "swap", Run: s.stepSwap},
				{Name: "prepare_source", Run: s.stepPrepareTarget},
				{Name: "follow", Run: s.stepFollow},
				{Name: "activate", Run: s.stepActivateSet},
			},
			OnFailure: s.failSwitch,
		},
	}
}

// RunFailover is automatic failover (Config.FailoverAfter): every interval
// until ctx ends, each source with replicas whose engine has shown
// SHUTDOWN for FailoverAfter and does not answer now is ejected
// (eject_replica_source, as if its owner had asked). It returns at once
// when failover is off.
func (s *Instances) RunFailover(ctx context.Context, interval time.Duration) {
	if s.cfg.FailoverAfter <= 0 && !s.haOn() {
		return
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.FailoverOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("automatic failover", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FailoverOnce ejects every source that is due (see RunFailover).
func (s *Instances) FailoverOnce(ctx context.Context) error {
	const op = "instance.failover"
	marker := ""
	for {
		page, err := s.st.ListInstances(ctx, "", store.Page{Marker: marker, Limit: 500})
		if err != nil {
			return err
		}
		for _, src := range page {
			after := s.cfg.FailoverAfter
			if src.HAID != "" {
				after = s.cfg.HAFailoverAfter // always on in HA groups
			}
			if after <= 0 || src.Status != model.StatusShutdown || src.Deleting || src.ReplicaOf != "" || src.Updated.After(s.now().Add(-after)) {
				continue
			}
			replicas, err := s.st.ListReplicas(ctx, src.ID)
			if err != nil {
				return err
			}
			if len(replicas) == 0 {
				continue
			}
			if _, _, _, err := s.switchover(op, src); err != nil || s.engineAnswers(ctx, src) {
				continue
			}
			s.log.Warn("automatic failover: the source's engine is down", "instance_id", src.ID, "tenant_id", src.TenantID,
				"down_since", src.Updated.Format(time.RFC3339), "after", after.String())
			if err := s.startSwitch(ctx, op, src.TenantID, src.ID, "", src.ID, model.TaskEject, model.StatusEject, model.ActionAllowedStatuses); err != nil {
				s.log.Warn("automatic failover not started", "instance_id", src.ID, "err", err)
			}
		}
		if len(page) < 500 {
			return nil
		}
		marker = page[len(page)-1].ID
	}
}
