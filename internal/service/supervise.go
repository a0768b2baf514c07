package service

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Observe receives the driver's events and reflects them in instance
// statuses, without ever overwriting an operation in progress: an engine
// that died shows SHUTDOWN until the driver has it answering again.
func (s *Instances) Observe(ev driver.Event) {
	ctx := context.Background()
	var (
		from []model.InstanceStatus
		to   model.InstanceStatus
	)
	switch ev.Kind {
	case driver.EventExited:
		from, to = []model.InstanceStatus{model.StatusActive, model.StatusRestartRequired, model.StatusBlocked}, model.StatusShutdown
	case driver.EventRecovered:
		from, to = []model.InstanceStatus{model.StatusShutdown, model.StatusBlocked}, model.StatusActive
	default:
		return
	}
	changed, err := s.st.SetObservedStatus(ctx, ev.InstanceID, from, to)
	if err != nil {
		s.log.Error("record observed status", "instance_id", ev.InstanceID, "event", string(ev.Kind), "err", err)
		return
	}
	if changed {
		s.log.Warn("engine state changed", "instance_id", ev.InstanceID, "event", string(ev.Kind), "status", string(to), "detail", ev.Detail)
	}
}

// recover re-attaches the driver to the engines of every known instance and
// lets it remove what belongs to no instance (Service.Recover).
func (s *Instances) recover(ctx context.Context) error {
	var specs []driver.Spec
	marker := ""
	for {
		page, err := s.st.ListInstances(ctx, "", store.Page{Marker: marker, Limit: 500})
		if err != nil {
			return fmt.Errorf("service: recover: %w", err)
		}
		for _, inst := range page {
			sp, err := s.spec(ctx, inst)
			if err != nil {
				// Still name it, so that the driver keeps its files.
				s.log.Error("recover: cannot describe instance", "instance_id", inst.ID, "err", err)
				sp = driver.Spec{InstanceID: inst.ID}
			}
			specs = append(specs, sp)
		}
		if len(page) < 500 {
			break
		}
		marker = page[len(page)-1].ID
	}
	if err := s.cfg.Driver.Recover(ctx, specs); err != nil {
		return fmt.Errorf("service: recover: %w", err)
	}
	s.log.Info("recovered instances", "count", len(specs))
	return nil
}
