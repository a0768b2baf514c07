package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// deps is what every part of the service shares: the configuration (store,
// driver, engines, sealer, clock), the logger and the per-instance gate
// that orders inline engine operations against the actions that take an
// engine away (inline.go). One deps value is made by New and shared by
// pointer; it holds no state of any one resource.
//
// Its methods are the ground every resource stands on: the clock, an
// instance's engine, driver spec and admin connection (this file), the
// catalogue lookups (catalog.go), the inline gate (inline.go) and the
// memory checks of configuration values (memory.go).
type deps struct {
	cfg Config
	st  store.Store
	log *slog.Logger

	// inline serialises, per instance, inline database, user, root and
	// configuration operations and the actions that take the engine away
	// (inline.go).
	inline instanceLocks

	// remoteVersions is set when Config.Versions was given: the catalogue
	// does not describe the engines installed on this host.
	remoteVersions bool
}

func (s *deps) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }

// engineFor returns the engine that runs an instance.
func (s *deps) engineFor(inst *model.Instance) (datastore.Engine, error) {
	v, err := s.versionByID(context.Background(), inst.DatastoreVersionID)
	if err != nil {
		return nil, err
	}
	e, ok := s.cfg.Engines[v.Engine]
	if !ok {
		return nil, fmt.Errorf("service: engine %q of instance %s is not available", v.Engine, inst.ID)
	}
	return e, nil
}

// spec describes an instance to the driver.
func (s *deps) spec(ctx context.Context, inst *model.Instance) (driver.Spec, error) {
	v, err := s.versionByID(ctx, inst.DatastoreVersionID)
	if err != nil {
		return driver.Spec{}, err
	}
	f, err := s.st.GetFlavor(ctx, inst.FlavorID)
	if err != nil {
		return driver.Spec{}, fmt.Errorf("service: flavor %d of instance %s: %w", inst.FlavorID, inst.ID, err)
	}
	access, err := s.access(ctx, inst) // access.go
	if err != nil {
		return driver.Spec{}, err
	}
	names, err := s.groupNames(ctx, inst) // tls.go
	if err != nil {
		return driver.Spec{}, err
	}
	return driver.Spec{
		InstanceID: inst.ID,
		TenantID:   inst.TenantID,
		Engine:     v.Engine,
		Address:    inst.Address,
		Port:       inst.Port,
		RAMMB:      f.RAM,
		VolumeGB:   inst.VolumeSize,
		Config:     s.groupValues(ctx, inst),
		ReplicaOf:  s.replicaSource(ctx, inst, v.Engine),
		// A source keeps what its replicas follow; so does a replica,
		// which may be promoted, and every member of an HA group.
		Replicated:  len(inst.ReplicationSecret) > 0 || inst.ReplicaOf != "" || inst.HAID != "",
		Synchronous: inst.HAID != "",
		Logs:        inst.Logs,
		Access:      access,
		TLSNames:    names,
	}, nil
}

// replicaSource is how replica inst reaches its source (driver.Spec's
// ReplicaOf): nil for an instance that is no replica, or whose source or
// its replication account cannot be read (logged; the engine then keeps
// what it had, and the replication shows broken).
func (s *deps) replicaSource(ctx context.Context, inst *model.Instance, engine string) *datastore.ReplicaSource {
	if inst.ReplicaOf == "" {
		return nil
	}
	rep, ok := s.cfg.Engines[engine].(datastore.Replicator)
	if !ok {
		return nil
	}
	src, err := s.st.GetInstance(ctx, "", inst.ReplicaOf)
	if err != nil {
		s.log.Warn("source of replica unreadable", "instance_id", inst.ID, "source_id", inst.ReplicaOf, "err", err)
		return nil
	}
	pw, err := s.cfg.Sealer.Open(src.ReplicationSecret)
	if err != nil || len(pw) == 0 {
		s.log.Warn("replication secret of source unreadable", "instance_id", inst.ID, "source_id", src.ID, "err", err)
		return nil
	}
	return &datastore.ReplicaSource{Address: src.Address, Port: src.Port, User: rep.ReplicationUser(), Password: datastore.Secret(pw)}
}

// reach returns inst with its engine and the connection of hoard's admin
// account to it, and its driver spec.
func (s *deps) reach(ctx context.Context, inst *model.Instance) (adminTarget, driver.Spec, error) {
	eng, err := s.engineFor(inst)
	if err != nil {
		return adminTarget{}, driver.Spec{}, err
	}
	sp, err := s.spec(ctx, inst)
	if err != nil {
		return adminTarget{}, driver.Spec{}, err
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return adminTarget{}, driver.Spec{}, err
	}
	return adminTarget{inst: inst, eng: eng, conn: c}, sp, nil
}

// reachID is reach for instance id as a task step needs it: an instance
// that is gone, or whose admin secret cannot be opened, is a permanent
// failure.
func (s *deps) reachID(ctx context.Context, id string) (adminTarget, driver.Spec, error) {
	inst, err := s.st.GetInstance(ctx, "", id)
	if err != nil {
		if isNotFound(err) {
			return adminTarget{}, driver.Spec{}, task.Permanent(err)
		}
		return adminTarget{}, driver.Spec{}, err
	}
	return s.reach(ctx, inst)
}

// adminConn returns how to reach an instance's engine as hoard's admin.
func (s *deps) adminConn(inst *model.Instance, sp driver.Spec, e datastore.Engine) (datastore.Conn, error) {
	pw, err := s.cfg.Sealer.Open(inst.AdminSecret)
	if err != nil {
		return datastore.Conn{}, fmt.Errorf("service: admin secret of %s: %w", inst.ID, err)
	}
	c := s.cfg.Driver.Conn(sp)
	c.User = e.AdminUser()
	c.Password = datastore.Secret(pw)
	return c, nil
}

// notFound is the fault for an instance that does not exist or is not
// visible to the tenant.
func notFound(op, id string) error {
	return fault.Errorf(fault.NotFound, op, "Resource %s cannot be found.", id)
}

// mapStoreErr classifies common store errors for instance operations.
func mapStoreErr(op, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(op, id)
	}
	if qf := quotaFault(op, err); qf != nil {
		return qf
	}
	var se *store.StateError
	if errors.As(err, &se) {
		return fault.Errorf(fault.Unprocessable, op,
			"Instance %s is not currently available for an action to be performed (instance status was %s).", id, se.Status)
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}
