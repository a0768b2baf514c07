package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// resizePayload is what a resize task applies.
type resizePayload struct {
	FlavorID   int `json:"flavor_id,omitempty"`
	VolumeSize int `json:"volume_size,omitempty"`
}

// ResizeFlavor starts a flavor resize (reference §9.3): the gate first
// (422), then same flavor or unknown flavor → 400, then a flavor with less
// RAM than the attached configuration group's values need → 422. The
// engine restarts with the new flavor's memory settings; RESIZE → ACTIVE.
func (s *Instances) ResizeFlavor(ctx context.Context, tenantID, id, flavorRef string) error {
	const op = "instance.resize"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	if !inst.Status.ActionAllowed() {
		return mapStoreErr(op, id, &store.StateError{InstanceID: id, Status: inst.Status})
	}
	f, err := s.resolveFlavor(ctx, flavorRef)
	if err != nil {
		return fault.Errorf(fault.Invalid, op, "Resource %s cannot be found.", truncate(flavorRef, 64))
	}
	if f.ID == inst.FlavorID {
		return fault.Errorf(fault.Invalid, op, "The new flavor id must be different than the current flavor id of '%d'.", inst.FlavorID)
	}
	if err := s.checkResizeMemory(ctx, op, inst, f); err != nil {
		return err
	}
	return s.startResize(ctx, op, tenantID, id, model.TaskResizeFlavor, resizePayload{FlavorID: f.ID})
}

// ResizeVolume starts a volume resize (reference §9.3) with Trove's checks
// in Trove's order (instance/models.py resize_volume): at most the maximum
// (413), then the gate (422), then the new size must be larger (400), so
// that a resize during REBOOT or RESIZE is 422 whatever the size. The task
// records the size, grows the volume where the driver enforces sizes
// (driver.VolumeResizer; the engine restarts) and waits for the engine;
// RESIZE → ACTIVE.
func (s *Instances) ResizeVolume(ctx context.Context, tenantID, id string, size int) error {
	const op = "instance.resize_volume"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	if size > s.cfg.MaxVolumeGB {
		return fault.Errorf(fault.OverLimit, op, "Volume 'size' cannot exceed maximum of %d GB, %d cannot be accepted.", s.cfg.MaxVolumeGB, size)
	}
	if !inst.Status.ActionAllowed() {
		return mapStoreErr(op, id, &store.StateError{InstanceID: id, Status: inst.Status})
	}
	if size <= inst.VolumeSize {
		return fault.Errorf(fault.Invalid, op, "The new volume 'size' must be larger than the current volume size of '%d'.", inst.VolumeSize)
	}
	return s.startResize(ctx, op, tenantID, id, model.TaskResizeVolume, resizePayload{VolumeSize: size})
}

// startResize records a resize task. A volume resize's gate also records
// the new size, within the project's volume quota (413), so that the
// growth counts from the moment it is accepted.
func (s *Instances) startResize(ctx context.Context, op, tenantID, id string, kind model.TaskKind, p resizePayload) error {
	plain, err := json.Marshal(p)
	if err != nil {
		return err
	}
	payload, err := s.cfg.Sealer.Seal(plain)
	if err != nil {
		return err
	}
	now := s.now()
	t := &model.Task{ID: uuid.NewString(), InstanceID: id, Kind: kind, State: model.TaskPending, Payload: payload, Created: now, Updated: now}
	gate := func() (*model.Instance, error) {
		if p.VolumeSize > 0 {
			return s.st.StartVolumeResize(ctx, tenantID, id, p.VolumeSize, model.ActionAllowedStatuses, model.StatusResize, t, s.now(), s.quota())
		}
		return s.st.StartAction(ctx, tenantID, id, model.ActionAllowedStatuses, model.StatusResize, t, s.now())
	}
	if _, err := s.startGatedAction(ctx, op, id, gate); err != nil {
		return mapStoreErr(op, id, err)
	}
	s.cfg.Notify()
	s.log.Info("instance resize accepted", "instance_id", id, "tenant_id", tenantID, "task_id", t.ID, "kind", string(kind))
	return nil
}

// resizeDefinitions are the resize tasks' steps; every one is idempotent.
func (s *Instances) resizeDefinitions() []task.Definition {
	return []task.Definition{
		{
			Kind: model.TaskResizeFlavor,
			Steps: []task.Step{
				{Name: "set_flavor", Run: s.stepSetSize},
				{Name: "restart", Run: s.stepRestart},
				{Name: "wait_ready", Run: s.stepWaitReady},
				{Name: "activate", Run: s.stepActivate(model.StatusResize)},
			},
			OnFailure: s.failResize,
		},
		{
			Kind: model.TaskResizeVolume,
			Steps: []task.Step{
				{Name: "set_volume", Run: s.stepSetSize},
				{Name: "resize_volume", Run: s.stepResizeVolume},
				{Name: "wait_ready", Run: s.stepWaitReadyAfterGrow},
				{Name: "activate", Run: s.stepActivate(model.StatusResize)},
			},
			OnFailure: s.failResize,
		},
	}
}

// stepSetSize records the new flavor or volume size from the payload.
func (s *Instances) stepSetSize(ctx context.Context, e *task.Exec) error {
	plain, err := s.cfg.Sealer.Open(e.Payload())
	if err != nil {
		return task.Permanent(err)
	}
	var p resizePayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return task.Permanent(fmt.Errorf("resize payload: %w", err))
	}
	_, err = s.st.UpdateInstance(ctx, e.Task.InstanceID, func(i *model.Instance) error {
		if p.FlavorID > 0 {
			i.FlavorID = p.FlavorID
		}
		if p.VolumeSize > 0 {
			i.VolumeSize = p.VolumeSize
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return task.Permanent(err)
	}
	return err
}

// stepResizeVolume grows the instance's volume to the size recorded by
// set_volume, with drivers that enforce volume sizes (driver.VolumeResizer:
// the local driver stops the engine, grows its filesystem and starts it
// again). With other drivers the recorded size is all there is to do.
func (s *Instances) stepResizeVolume(ctx context.Context, e *task.Exec) error {
	r, ok := s.cfg.Driver.(driver.VolumeResizer)
	if !ok {
		return nil
	}
	_, sp, _, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	return r.ResizeVolume(ctx, sp)
}

// stepWaitReadyAfterGrow waits for the engine a volume grow restarted.
func (s *Instances) stepWaitReadyAfterGrow(ctx context.Context, e *task.Exec) error {
	if _, ok := s.cfg.Driver.(driver.VolumeResizer); !ok {
		return nil
	}
	return s.stepWaitReady(ctx, e)
}

func (s *Instances) failResize(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("instance resize failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	status := model.StatusError
	if st, err := s.cfg.Driver.State(ctx, t.InstanceID); err == nil && st == driver.StateRunning {
		status = model.StatusBlocked
	}
	return s.recordFailure(ctx, t, status, "The instance could not be resized.")
}
