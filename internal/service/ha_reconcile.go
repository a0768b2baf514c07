package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/model"
)

// maxHAEvents is how many events a group keeps.
const maxHAEvents = 10

// haReplaceFailedAfter is how long a failed replica of a group stays
// before the group replaces it.
const haReplaceFailedAfter = time.Minute

// RunHA reconciles every HA group every interval until ctx ends (see
// ReconcileHA). It returns at once when HA groups are off.
func (s *HA) RunHA(ctx context.Context, interval time.Duration) {
	if s.cfg.Router == nil || len(s.cfg.HAAddresses) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.ReconcileHA(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("HA groups", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReconcileHA brings every group one step closer to what it should be:
// its source recorded (a new one after a failover), the ejected source
// deleted, its replicas made (one at a time) until it has as many as it
// keeps, failed replicas replaced, its state flags up to date, its address
// routed to its members; a group being deleted loses its replicas, then
// its source, then itself.
func (s *HA) ReconcileHA(ctx context.Context) error {
	groups, err := s.st.ListHAGroups(ctx, "")
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range groups {
		if err := s.reconcile(ctx, g); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.ID, err))
		}
	}
	return errors.Join(errs...)
}

func addEvent(g *model.HAGroup, at time.Time, msg string) {
	g.Events = append(g.Events, model.HAEvent{Time: at, Message: msg})
	if len(g.Events) > maxHAEvents {
		g.Events = g.Events[len(g.Events)-maxHAEvents:]
	}
}

func (s *HA) reconcile(ctx context.Context, g *model.HAGroup) error {
	members, err := s.st.ListHAMembers(ctx, g.ID)
	if err != nil {
		return err
	}
	if g.Deleting {
		return s.reconcileDelete(ctx, g, members)
	}
	src := sourceOf(g, members)
	// A failover changed the source: a promoted member follows nothing
	// and the old source was ejected (standalone, stopped), or the old
	// source follows the new one.
	newID := ""
	if src != nil && src.ReplicaOf != "" {
		newID = src.ReplicaOf
	} else if src == nil || src.ID == g.SourceID {
		for _, m := range members {
			if m.ID != g.SourceID && m.ReplicaOf == "" && !m.Deleting && (src != nil || g.SourceID != "") {
				newID = m.ID
			}
		}
	}
	if src != nil && g.SourceID == "" {
		newID = src.ID
	}
	if newID != "" && newID != g.SourceID {
		old := g.SourceID
		g, err = s.st.UpdateHAGroup(ctx, g.ID, func(g *model.HAGroup) error {
			g.SourceID = newID
			if old != "" {
				addEvent(g, s.now(), fmt.Sprintf("Failover: instance %s is the source now (it was %s).", newID, old))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if old != "" {
			s.log.Warn("HA group failed over", "ha_id", g.ID, "source_id", newID, "old_source_id", old)
		}
		src = sourceOf(g, members)
	}
	var replicas []*model.Instance
	building := false
	for _, m := range members {
		switch {
		case m.Deleting:
		case src != nil && m.ID == src.ID:
		case m.ReplicaOf == "" && src != nil && src.ReplicaOf == "":
			// Another standalone member: the ejected old source. It may
			// hold writes no replica received; it is replaced, not
			// rejoined.
			s.deleteMember(ctx, g, m, "Instance %s, the ejected source, was deleted; a new replica replaces it.")
		case m.Status == model.StatusError || m.Status == model.StatusFailed:
			// Shown (REPLICATION_ERROR) for a while before it is replaced,
			// so that a replica that cannot be made is not re-made in a
			// tight loop.
			if s.now().Sub(m.Updated) >= haReplaceFailedAfter {
				s.deleteMember(ctx, g, m, "Replica %s failed and was deleted; a new replica replaces it.")
			}
			building = true // nothing new until it is gone
		default:
			if m.Status == model.StatusBuild {
				building = true
			}
			replicas = append(replicas, m)
		}
	}
	if src != nil && !building && len(replicas) < g.ReplicaCount &&
		(src.Status == model.StatusActive || src.Status == model.StatusRestartRequired) {
		if err := s.addMember(ctx, g, src, len(replicas)); err != nil {
			s.log.Warn("HA group replica not created yet", "ha_id", g.ID, "err", err)
		}
	}
	if src != nil {
		allActive := src.Status == model.StatusActive && len(replicas) >= g.ReplicaCount
		resizing := src.Status == model.StatusResize
		for _, r := range replicas {
			allActive = allActive && r.Status == model.StatusActive
			resizing = resizing || r.Status == model.StatusResize
		}
		if (!g.Built && allActive) || (g.Op != "" && !resizing) {
			g, err = s.st.UpdateHAGroup(ctx, g.ID, func(g *model.HAGroup) error {
				if allActive && !g.Built {
					g.Built, g.Pending = true, nil
				}
				if !resizing {
					g.Op = ""
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	if src != nil && (src.Status == model.StatusActive || src.Status == model.StatusRestartRequired) {
		s.syncCommit(ctx, g, src, replicas)
	}
	d := &HADetail{HAGroup: g, Source: src, Replicas: replicas}
	if err := s.cfg.Router.Set(g.ID, listenOf(g), routeOf(d)); err != nil {
		return fmt.Errorf("serving its address: %w", err)
	}
	return nil
}

// syncCommit switches synchronous commit on the source of an engine that
// switches it at run time (datastore.SyncCommitter): on while a replica
// is ACTIVE, so that a commit never waits for a replica that is not there.
func (s *HA) syncCommit(ctx context.Context, g *model.HAGroup, src *model.Instance, replicas []*model.Instance) {
	eng, err := s.engineFor(src)
	if err != nil {
		return
	}
	sc, ok := eng.(datastore.SyncCommitter)
	if !ok {
		return
	}
	on := slices.ContainsFunc(replicas, func(r *model.Instance) bool { return r.Status == model.StatusActive })
	t, _, err := s.reach(ctx, src)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := sc.SetSyncCommit(cctx, t.conn, on); err != nil {
		s.log.Warn("HA group: synchronous commit not switched", "ha_id", g.ID, "source_id", src.ID, "on", on, "err", err)
	}
}

// addMember creates the group's next replica of src: the first pending
// spec, or one like the group's.
func (s *HA) addMember(ctx context.Context, g *model.HAGroup, src *model.Instance, have int) error {
	spec := model.HAReplicaSpec{Name: fmt.Sprintf("%s-replica-%d", g.Name, have+1), FlavorID: g.FlavorID, VolumeSize: g.VolumeSize}
	if len(g.Pending) > 0 {
		spec = g.Pending[0]
	}
	_, err := s.instances.createReplicas(ctx, g.TenantID, CreateInstanceRequest{
		Name: spec.Name, FlavorRef: fmt.Sprint(spec.FlavorID), VolumeSize: spec.VolumeSize,
		ReplicaOf: src.ID, ha: g,
	})
	if err != nil {
		return err
	}
	_, err = s.st.UpdateHAGroup(ctx, g.ID, func(g *model.HAGroup) error {
		if len(g.Pending) > 0 {
			g.Pending = g.Pending[1:]
		}
		return nil
	})
	s.log.Info("HA group replica requested", "ha_id", g.ID, "name", spec.Name, "source_id", src.ID)
	return err
}

// deleteMember starts the delete of member m (a no-op while another of
// its operations runs: the next round tries again).
func (s *HA) deleteMember(ctx context.Context, g *model.HAGroup, m *model.Instance, event string) {
	if err := s.instances.DeleteInstance(ctx, g.TenantID, m.ID); err != nil {
		s.log.Debug("HA group member not deleted yet", "ha_id", g.ID, "instance_id", m.ID, "err", err)
		return
	}
	s.log.Info("HA group member deleted", "ha_id", g.ID, "instance_id", m.ID)
	if event == "" {
		return
	}
	if _, err := s.st.UpdateHAGroup(ctx, g.ID, func(g *model.HAGroup) error {
		addEvent(g, s.now(), fmt.Sprintf(event, m.ID))
		return nil
	}); err != nil {
		s.log.Warn("HA group event not recorded", "ha_id", g.ID, "err", err)
	}
}

// reconcileDelete deletes a group's replicas, then its source, then the
// group.
func (s *HA) reconcileDelete(ctx context.Context, g *model.HAGroup, members []*model.Instance) error {
	s.cfg.Router.Remove(g.ID)
	if len(members) == 0 {
		err := s.st.DeleteHAGroup(ctx, g.ID)
		if err == nil {
			s.log.Info("HA group deleted", "ha_id", g.ID, "tenant_id", g.TenantID)
		}
		if isNotFound(err) {
			return nil
		}
		return err
	}
	replicasLeft := false
	for _, m := range members {
		if m.ReplicaOf != "" {
			replicasLeft = true
			if !m.Deleting {
				s.deleteMember(ctx, g, m, "")
			}
		}
	}
	if replicasLeft {
		return nil
	}
	for _, m := range members {
		if !m.Deleting {
			s.deleteMember(ctx, g, m, "")
		}
	}
	return nil
}
