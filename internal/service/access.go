package service

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// Network access (Trove's access.allowed_cidrs): an instance's
// AllowedCIDRs are stored on it and enforced by the driver
// (driver.AccessEnforcer), which applies them whenever it starts or
// recovers the engine, and at once when they change (SetInstanceAccess).
// A driver that cannot enforce them makes the service refuse a non-empty
// list (501), never accept it and leave the instance open.

// accessEnforcer returns the driver's enforcer, or the 501 that says why
// a non-empty access list cannot be honoured on this hoard.
func (s *deps) accessEnforcer(op string) (driver.AccessEnforcer, error) {
	enf, ok := s.cfg.Driver.(driver.AccessEnforcer)
	if !ok {
		return nil, fault.New(fault.NotImplemented, op,
			"Network access restrictions are not implemented by this hoard's instance driver (instance 'access' 'allowed_cidrs'): the instance would stay reachable from every network.")
	}
	if err := enf.AccessAvailable(); err != nil {
		return nil, fault.Wrap(fault.NotImplemented, op,
			"Network access restrictions cannot be enforced on this host ("+err.Error()+"): the instance would stay reachable from every network.", err)
	}
	return enf, nil
}

// access is the driver.Access of inst: its networks and, when it has
// some, the instances whose engines replicate to or from it (its source,
// its replicas, the other members of its HA group), which must get
// through. A peer list that cannot be read is an error: the filter would
// cut replication.
func (s *deps) access(ctx context.Context, inst *model.Instance) (driver.Access, error) {
	if len(inst.AllowedCIDRs) == 0 {
		return driver.Access{}, nil
	}
	a := driver.Access{Allowed: slices.Clone(inst.AllowedCIDRs)}
	add := func(id string) {
		if id != "" && id != inst.ID && !slices.Contains(a.Peers, id) {
			a.Peers = append(a.Peers, id)
		}
	}
	add(inst.ReplicaOf)
	reps, err := s.st.ListReplicas(ctx, inst.ID)
	if err != nil {
		return driver.Access{}, fmt.Errorf("service: replicas of %s: %w", inst.ID, err)
	}
	for _, r := range reps {
		add(r.ID)
	}
	if inst.HAID != "" {
		members, err := s.st.ListHAMembers(ctx, inst.HAID)
		if err != nil {
			return driver.Access{}, fmt.Errorf("service: members of HA group %s: %w", inst.HAID, err)
		}
		for _, m := range members {
			add(m.ID)
		}
	}
	slices.Sort(a.Peers)
	return a, nil
}

// refreshAccess applies again the access of the instances ids that have
// an access list, so that their filters let a new peer through (a replica
// just created connects to its source). Instances gone or without a list
// are skipped.
func (s *deps) refreshAccess(ctx context.Context, op string, ids ...string) error {
	for _, id := range ids {
		if id == "" {
			continue
		}
		inst, err := s.st.GetInstance(ctx, "", id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if len(inst.AllowedCIDRs) == 0 {
			continue
		}
		enf, err := s.accessEnforcer(op)
		if err != nil {
			return err
		}
		sp, err := s.spec(ctx, inst)
		if err != nil {
			return err
		}
		if err := enf.SetAccess(ctx, sp); err != nil {
			return fmt.Errorf("%s: access of instance %s: %w", op, id, err)
		}
	}
	return nil
}

// checkAccess is the create-time check of an access list: a non-empty one
// needs an enforcer that works on this host.
func (s *deps) checkAccess(op string, cidrs []string) error {
	if len(cidrs) == 0 {
		return nil
	}
	_, err := s.accessEnforcer(op)
	return err
}

// SetInstanceAccess implements api.Backend: it replaces the networks
// allowed to connect to the tenant's instance id (none: every network)
// and applies them to the running instance before it returns. It is an
// inline operation (inline.go): serialised with the other operations and
// actions on the instance, and refused with 422 unless the instance is
// ready (ACTIVE or RESTART_REQUIRED, no task). The driver applies the new
// list first and the store records it after; when either fails, the
// driver is given the old list again, so the stored list is always the
// one in force.
func (s *Instances) SetInstanceAccess(ctx context.Context, tenantID, id string, cidrs []string) error {
	const op = "instance.access"
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil { // 404 before anything
		return mapStoreErr(op, id, err)
	}
	if len(cidrs) > model.MaxAllowedCIDRs {
		return fault.Errorf(fault.Invalid, op, "At most %d networks may be allowed.", model.MaxAllowedCIDRs)
	}
	enf, enfErr := s.accessEnforcer(op)
	if len(cidrs) > 0 && enfErr != nil {
		return enfErr
	}
	inst, unlock, err := s.acquireInline(ctx, op, tenantID, id, uuid.NewString(), notReady)
	if err != nil {
		return err
	}
	defer unlock()
	if slices.Equal(inst.AllowedCIDRs, cidrs) {
		return nil
	}
	if enf == nil {
		// Opening an instance needs no filter: a driver without one (or a
		// host where it broke) has none in force.
		return s.storeAccess(ctx, op, id, cidrs)
	}
	next := *inst
	next.AllowedCIDRs = cidrs
	sp, err := s.spec(ctx, &next)
	if err != nil {
		return err
	}
	if err := enf.SetAccess(ctx, sp); err != nil {
		s.restoreAccess(enf, inst)
		return fault.Wrap(fault.Unavailable, op, "The instance's network access could not be changed; it is unchanged. Please try again.", err)
	}
	if err := s.storeAccess(ctx, op, id, cidrs); err != nil {
		s.restoreAccess(enf, inst)
		return err
	}
	s.log.Info("instance access changed", "instance_id", id, "allowed_cidrs", cidrs)
	return nil
}

// storeAccess records cidrs as instance id's networks.
func (s *Instances) storeAccess(ctx context.Context, op, id string, cidrs []string) error {
	_, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
		i.AllowedCIDRs = slices.Clone(cidrs)
		return nil
	})
	return mapStoreErr(op, id, err)
}

// restoreAccess gives the driver inst's stored access again after a
// change that failed half-way. A failure here is logged: the driver
// applies the stored list at the engine's next start or recovery.
func (s *Instances) restoreAccess(enf driver.AccessEnforcer, inst *model.Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	sp, err := s.spec(ctx, inst)
	if err == nil {
		err = enf.SetAccess(ctx, sp)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("instance access not restored after a failed change", "instance_id", inst.ID, "err", err)
	}
}
