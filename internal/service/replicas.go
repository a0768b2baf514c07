package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// Read replicas (API reference §15). A replica is an instance whose
// ReplicaOf names its source. It is created by a TaskReplicaCreate task:
// its data directory is seeded with a backup of the running source
// streamed straight into it (no artifact is stored), its engine starts as
// a read-only replica of the source (driver.Spec.ReplicaOf) and follows it
// with the engine's own replication (datastore.Replicator). The source's
// replication account is made by the first replica's seed; its password is
// sealed on the source (Instance.ReplicationSecret). Detaching a replica
// (TaskDetach) promotes its engine and renders it as a standalone
// instance.

// DefaultMaxReplicas is how many replicas a source may have when
// Config.MaxReplicas is zero: Trove's replica_count limit.
const DefaultMaxReplicas = 3

// replicaSourceStatuses are the statuses a source may have replicas made
// from: its engine must run.
var replicaSourceStatuses = []model.InstanceStatus{model.StatusActive, model.StatusRestartRequired}

// replicationStatusTimeout bounds the replication status read of a show.
const replicationStatusTimeout = 2 * time.Second

// replicator returns the engine of inst if it can be replicated here: the
// engine replicates and makes backups (else 400 naming the datastore, as
// Trove), the driver reaches its files (else 501).
func (s *deps) replicator(op string, inst *model.Instance) (datastore.Engine, datastore.Replicator, datastore.Backuper, error) {
	eng, err := s.engineFor(inst)
	if err != nil {
		return nil, nil, nil, err
	}
	rep, ok := eng.(datastore.Replicator)
	bu, ok2 := eng.(datastore.Backuper)
	if !ok || !ok2 {
		return nil, nil, nil, fault.Errorf(fault.Invalid, op, "Replication is not supported for the '%s' datastore.", inst.Datastore)
	}
	if _, ok := s.cfg.Driver.(driver.Filesystem); !ok {
		// The Kubernetes driver: seeding needs the instances' files.
		return nil, nil, nil, fault.New(fault.NotImplemented, op, "Replication is not supported by this instance driver yet.")
	}
	return eng, rep, bu, nil
}

// createReplicas is CreateInstance with ReplicaOf: it checks the request
// against the source and writes each replica with its task (the source is
// checked again, with its row locked, by store.CreateReplica).
func (s *Instances) createReplicas(ctx context.Context, tenantID string, req CreateInstanceRequest) (*InstanceDetail, error) {
	const op = "instance.create"
	if !validName(req.Name) {
		return nil, fault.New(fault.Invalid, op, "Instance name must be 1 to 255 characters, contain at least one letter or digit and no control or bidirectional formatting characters.")
	}
	if len(req.Databases) > 0 || len(req.Users) > 0 {
		return nil, fault.New(fault.Invalid, op, "Cannot create a replica with users or databases.")
	}
	if req.RestoreBackupID != "" {
		return nil, fault.New(fault.Invalid, op, "Cannot create a replica from a backup: a replica is seeded from its source.")
	}
	count := req.ReplicaCount
	if count == 0 {
		count = 1
	}
	if count < 1 || count > s.cfg.MaxReplicas {
		return nil, fault.Errorf(fault.Invalid, op, "replica_count must be between 1 and %d.", s.cfg.MaxReplicas)
	}
	src, err := s.st.GetInstance(ctx, tenantID, req.ReplicaOf)
	if err != nil {
		if isNotFound(err) {
			return nil, fault.Errorf(fault.NotFound, op, "Replica source %s cannot be found.", req.ReplicaOf)
		}
		return nil, err
	}
	if src.HAID != "" && (req.ha == nil || req.ha.ID != src.HAID) {
		return nil, fault.Errorf(fault.Invalid, op, "Instance %s is a member of HA group %s: add replicas with the group's add_replica action.", src.ID, src.HAID)
	}
	if src.ReplicaOf != "" {
		return nil, fault.Errorf(fault.Invalid, op, "Cannot create a replica of a replica: instance %s is a replica of %s.", src.ID, src.ReplicaOf)
	}
	engine, _, _, err := s.replicator(op, src)
	if err != nil {
		return nil, err
	}
	if !s.backups.enabled() {
		return nil, fault.New(fault.NotImplemented, op, "Replication is not enabled: it needs backups, which are not enabled.")
	}
	if req.DatastoreType != "" || req.DatastoreVersion != "" {
		_, dv, err := s.resolveDatastore(ctx, req.DatastoreType, req.DatastoreVersion)
		if err != nil {
			return nil, err
		}
		if dv.ID != src.DatastoreVersionID {
			return nil, fault.Errorf(fault.Invalid, op, "A replica runs the datastore of its source (%s %s), not %s %s.",
				src.Datastore, src.DatastoreVersion, dv.DatastoreName, dv.Name)
		}
	}
	dv, err := s.versionByID(ctx, src.DatastoreVersionID)
	if err != nil {
		return nil, err
	}
	flavor, err := s.st.GetFlavor(ctx, src.FlavorID)
	if req.FlavorRef != "" {
		flavor, err = s.resolveFlavor(ctx, req.FlavorRef)
	}
	if err != nil {
		return nil, err
	}
	if req.FlavorRef != "" {
		srcFlavor, err := s.st.GetFlavor(ctx, src.FlavorID)
		if err != nil {
			return nil, err
		}
		// A replica applies every write of its source, and a hot standby
		// refuses to run with fewer connections than its source allows
		// (which the flavor's RAM sizes).
		if flavor.RAM < srcFlavor.RAM {
			return nil, fault.Errorf(fault.Invalid, op, "A replica's flavor must have at least the RAM of its source's (%d MB), %s has %d MB.",
				srcFlavor.RAM, flavor.Name, flavor.RAM)
		}
	}
	size := req.VolumeSize
	if size == 0 {
		size = src.VolumeSize
	}
	if size > s.cfg.MaxVolumeGB {
		return nil, fault.Errorf(fault.OverLimit, op, "Volume 'size' cannot exceed maximum of %d GB, %d cannot be accepted.", s.cfg.MaxVolumeGB, size)
	}
	if size < src.VolumeSize {
		return nil, fault.Errorf(fault.Invalid, op, "A replica's volume must be at least as large as its source's (%d GB), %d cannot be accepted.", src.VolumeSize, size)
	}
	group, err := s.configs.createGroup(ctx, tenantID, req.Configuration, dv)
	if err != nil {
		return nil, err
	}
	if err := checkMemory(op, engine, group.Values, flavor, ""); err != nil {
		return nil, err
	}
	// A replica holds its source's data: unless the body says otherwise
	// ("access" given, an empty list included), it is reachable from the
	// same networks as its source, no more.
	cidrs := src.AllowedCIDRs
	if req.Access {
		cidrs = req.AllowedCIDRs
	}
	if err := s.checkAccess(op, cidrs); err != nil { // access.go
		return nil, err
	}
	// All count replicas at once, or none: a first look. The store checks
	// each replica again in the transaction that records it.
	if err := s.checkQuota(ctx, op, tenantID, model.QuotaUsage{
		model.QuotaInstances: count, model.QuotaReplicas: count, model.QuotaVolumes: count * size}); err != nil {
		return nil, err
	}
	replSecret, err := s.cfg.Sealer.Seal([]byte(secret.Password(24)))
	if err != nil {
		return nil, err
	}
	var first *model.Instance
	for i := range count {
		name := req.Name
		if count > 1 {
			name = fmt.Sprintf("%s-%d", req.Name, i+1)
		}
		now := s.now()
		inst := &model.Instance{
			ID:                 uuid.NewString(),
			TenantID:           tenantID,
			Name:               name,
			Status:             model.StatusBuild,
			FlavorID:           flavor.ID,
			VolumeSize:         size,
			Datastore:          src.Datastore,
			DatastoreVersion:   src.DatastoreVersion,
			DatastoreVersionID: src.DatastoreVersionID,
			Port:               engine.DefaultPort(),
			// The seed holds the source's accounts, hoard's among them.
			AdminSecret:     src.AdminSecret,
			ConfigurationID: group.ID,
			ReplicaOf:       src.ID,
			HAID:            haID(req.ha),
			AllowedCIDRs:    slices.Clone(cidrs),
			Created:         now,
			Updated:         now,
		}
		tk := &model.Task{ID: uuid.NewString(), InstanceID: inst.ID, Kind: model.TaskReplicaCreate, State: model.TaskPending, Created: now, Updated: now}
		if err := s.st.CreateReplica(ctx, inst, tk, replicaSourceStatuses, s.cfg.MaxReplicas, replSecret, s.quota()); err != nil {
			return nil, mapReplicaErr(op, src.ID, s.cfg.MaxReplicas, err)
		}
		s.cfg.Notify()
		s.log.Info("replica create accepted", "instance_id", inst.ID, "source_id", src.ID, "tenant_id", tenantID, "task_id", tk.ID)
		if first == nil {
			first = inst
		}
	}
	return &InstanceDetail{Instance: first, ConfigurationName: group.Name}, nil
}

// mapReplicaErr classifies store.CreateReplica's refusals of source id.
func mapReplicaErr(op, id string, max int, err error) error {
	switch {
	case errors.Is(err, store.ErrIsReplica):
		return fault.Errorf(fault.Invalid, op, "Cannot create a replica of a replica: instance %s is a replica.", id)
	case errors.Is(err, store.ErrReplicaLimit):
		return fault.Errorf(fault.Invalid, op, "Instance %s already has %d replicas, the most a source may have.", id, max)
	case errors.Is(err, store.ErrNotFound):
		return fault.Errorf(fault.NotFound, op, "Replica source %s cannot be found.", id)
	}
	return mapStoreErr(op, id, err)
}

// ListReplicas implements api.Backend: the replicas of the tenant's
// instance id (Rackspace's GET /instances/{id}/replicas).
func (s *Instances) ListReplicas(ctx context.Context, tenantID, id string) ([]*model.Instance, error) {
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil {
		return nil, mapStoreErr("instance.replicas", id, err)
	}
	return s.st.ListReplicas(ctx, id)
}

// ReplicaLag returns how many seconds replica inst applies changes behind
// its source, false when it cannot tell (not a replica, not running, not
// connected, or not answering within a few seconds); metrics use it.
func (s *Instances) ReplicaLag(ctx context.Context, inst *model.Instance) (float64, bool) {
	if inst.ReplicaOf == "" {
		return 0, false
	}
	st := s.replication(ctx, inst)
	if st == nil || st.LagSeconds < 0 {
		return 0, false
	}
	return st.LagSeconds, true
}

// replication reads how replica inst follows its source, bounded; nil when
// it cannot tell (the engine not running or not answering).
func (s *Instances) replication(ctx context.Context, inst *model.Instance) *datastore.ReplicaStatus {
	switch inst.Status {
	case model.StatusActive, model.StatusRestartRequired, model.StatusBlocked:
	default:
		return nil
	}
	t, _, err := s.reach(ctx, inst)
	if err != nil {
		return nil
	}
	rep, ok := t.eng.(datastore.Replicator)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, replicationStatusTimeout)
	defer cancel()
	st, err := rep.ReplicaStatus(ctx, t.conn)
	if err != nil {
		if errors.Is(err, datastore.ErrNotReplica) {
			// Recorded as a replica, its engine follows nothing: broken.
			return &datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1, Error: "the engine follows no source"}
		}
		s.log.Warn("replication status unreadable", "instance_id", inst.ID, "err", err)
		return nil
	}
	return &st
}

// seedPayload is the payload of a replica create task once its data
// directory is seeded: what the source's backup recorded (the position
// the replica starts from).
type seedPayload struct {
	Meta map[string]string `json:"meta"`
}

// replicaTarget is a replica's source as a task step needs it.
type replicaTarget struct {
	inst *model.Instance
	spec driver.Spec
	conn datastore.Conn
}

// loadSource returns the source of replica inst.
func (s *Instances) loadSource(ctx context.Context, inst *model.Instance) (*replicaTarget, error) {
	if inst.ReplicaOf == "" {
		return nil, task.Permanent(fmt.Errorf("instance %s is no replica", inst.ID))
	}
	t, sp, err := s.reachID(ctx, inst.ReplicaOf)
	if err != nil {
		return nil, fmt.Errorf("source %s of replica %s: %w", inst.ReplicaOf, inst.ID, err)
	}
	return &replicaTarget{inst: t.inst, spec: sp, conn: t.conn}, nil
}

// stepSeedReplica makes the source's replication account, then fills the
// replica's data directory with a backup of the running source, streamed
// from the engine's Backup into its Restore, and records the backup's
// meta in the task's payload. The driver marks the filled directory: run
// again, the fill is skipped, and a payload without the meta (a crash in
// between) makes it destroy the replica's volume and seed it again.
func (s *Instances) stepSeedReplica(ctx context.Context, e *task.Exec) error {
	const op = "replica.seed"
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	if p, err := s.seedMeta(e.Payload()); err == nil && p != nil {
		return nil // seeded before, and recorded
	}
	_, rep, bu, err := s.replicator(op, inst)
	if err != nil {
		return task.Permanent(err)
	}
	fs := s.cfg.Driver.(driver.Filesystem) // checked by replicator
	src, err := s.loadSource(ctx, inst)
	if err != nil {
		return err
	}
	if sp.ReplicaOf == nil {
		return task.Permanent(fmt.Errorf("the replication account of source %s is unreadable", src.inst.ID))
	}
	err = rep.PrepareSource(ctx, src.conn, sp.ReplicaOf.Password)
	if errors.Is(err, datastore.ErrSourceNeedsRestart) {
		// The source's first replica: it is started again rendered as a
		// source (its spec is Replicated since the replica was recorded),
		// as Rackspace restarts a source for its first replica.
		e.Logger.Info("restarting the source so that it can be followed", "source_id", src.inst.ID)
		if err := s.cfg.Driver.Restart(ctx, src.spec); err != nil {
			return err
		}
		if err := s.waitAnswers(ctx, eng, src.conn); err != nil {
			return err
		}
		err = rep.PrepareSource(ctx, src.conn, sp.ReplicaOf.Password)
	}
	if err != nil {
		return err
	}
	var (
		meta   map[string]string
		filled bool
	)
	fill := func(ctx context.Context, ds datastore.Spec) error {
		filled = true
		work, err := s.seedWorkDir(e.Task)
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if err := os.Mkdir(filepath.Join(work, "backup"), 0o700); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(work, "restore"), 0o700); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		backupDone := make(chan error, 1)
		go func() {
			m, err := bu.Backup(ctx, src.conn, fs.EngineSpec(src.spec), filepath.Join(work, "backup"), pw, nil)
			meta = m
			pw.CloseWithError(err)
			backupDone <- err
		}()
		rerr := bu.Restore(ctx, ds, filepath.Join(work, "restore"), []io.Reader{pr})
		pr.CloseWithError(errors.New("restore ended"))
		berr := <-backupDone
		if berr != nil {
			return fmt.Errorf("backup of source %s: %w", src.inst.ID, berr)
		}
		return rerr
	}
	if err := fs.ProvisionFrom(ctx, sp, fill); err != nil {
		return err
	}
	if !filled {
		// Seeded by an earlier run whose meta was lost: seed again.
		e.Logger.Warn("replica seeded before without its recorded position: seeding again")
		if err := s.cfg.Driver.Destroy(ctx, inst.ID); err != nil && !errors.Is(err, driver.ErrNotFound) {
			return err
		}
		if err := fs.ProvisionFrom(ctx, sp, fill); err != nil {
			return err
		}
		if !filled {
			return errors.New("the replica's data directory was not seeded")
		}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	b, err := json.Marshal(seedPayload{Meta: meta})
	if err != nil {
		return err
	}
	sealed, err := s.cfg.Sealer.Seal(b)
	if err != nil {
		return err
	}
	e.SetPayload(sealed)
	return nil
}

// seedWorkDir returns an emptied scratch directory for the seed of task t,
// in the backups' work directory (Recover removes those of ended tasks).
func (s *Instances) seedWorkDir(t *model.Task) (string, error) {
	dir := filepath.Join(s.cfg.Backups.WorkDir, t.ID)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// seedMeta reads a replica create task's payload: nil when it is not
// seeded yet.
func (s *Instances) seedMeta(payload []byte) (map[string]string, error) {
	if len(payload) == 0 {
		return nil, nil
	}
	plain, err := s.cfg.Sealer.Open(payload)
	if err != nil {
		return nil, err
	}
	var p seedPayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, err
	}
	return p.Meta, nil
}

// stepStartReplica makes the running replica follow its source from the
// seed's position (datastore.Replicator.StartReplica).
func (s *Instances) stepStartReplica(ctx context.Context, e *task.Exec) error {
	const op = "replica.start"
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	_, rep, _, err := s.replicator(op, inst)
	if err != nil {
		return task.Permanent(err)
	}
	meta, err := s.seedMeta(e.Payload())
	if err != nil || meta == nil {
		return task.Permanent(fmt.Errorf("replica %s has no recorded seed position: %v", inst.ID, err))
	}
	if sp.ReplicaOf == nil {
		return task.Permanent(fmt.Errorf("the source of replica %s is unreadable", inst.ID))
	}
	// The source's filter (and those of the other members of an HA group)
	// must let this replica's engine through before it connects.
	peers := []string{inst.ReplicaOf}
	if inst.HAID != "" {
		members, err := s.st.ListHAMembers(ctx, inst.HAID)
		if err != nil {
			return err
		}
		for _, m := range members {
			peers = append(peers, m.ID)
		}
	}
	if err := s.refreshAccess(ctx, op, peers...); err != nil { // access.go
		return err
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return task.Permanent(err)
	}
	return rep.StartReplica(ctx, c, meta, *sp.ReplicaOf)
}

// failReplicaCreate is failCreate with a message that says what a replica
// needs.
func (s *Instances) failReplicaCreate(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("replica create failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	if err := s.cfg.Driver.Stop(ctx, t.InstanceID); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.Warn("stop after failed replica create", "instance_id", t.InstanceID, "err", err)
	}
	return s.recordFailure(ctx, t, model.StatusError,
		"The replica could not be created: its source could not be copied, or the replica failed to start or to follow it.")
}

// DetachReplica implements api.Backend (PATCH replica_of null, reference
// §8.5): the replica stops following its source and becomes a standalone,
// writable instance (status DETACH, then ACTIVE).
func (s *Instances) DetachReplica(ctx context.Context, tenantID, id string) error {
	const op = "instance.detach_replica"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	if inst.ReplicaOf == "" {
		return fault.Errorf(fault.Invalid, op, "Instance %s is not a replica.", id)
	}
	now := s.now()
	tk := &model.Task{ID: uuid.NewString(), InstanceID: id, Kind: model.TaskDetach, State: model.TaskPending, Created: now, Updated: now}
	if _, err := s.startEngineAction(ctx, op, tenantID, id, model.ActionAllowedStatuses, model.StatusDetach, tk); err != nil {
		return mapStoreErr(op, id, err)
	}
	s.cfg.Notify()
	s.log.Info("replica detach accepted", "instance_id", id, "source_id", inst.ReplicaOf, "tenant_id", tenantID, "task_id", tk.ID)
	return nil
}

// stepPromote makes the replica's engine stop following its source and
// accept writes (idempotent: a promoted engine is left as it is).
func (s *Instances) stepPromote(ctx context.Context, e *task.Exec) error {
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	rep, ok := eng.(datastore.Replicator)
	if !ok {
		return task.Permanent(fmt.Errorf("engine %s does not replicate", eng.Name()))
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return task.Permanent(err)
	}
	return rep.Promote(ctx, c)
}

// stepUnlink records the instance as standalone (ReplicaOf "").
func (s *Instances) stepUnlink(ctx context.Context, e *task.Exec) error {
	_, err := s.st.UpdateInstance(ctx, e.Task.InstanceID, func(i *model.Instance) error {
		i.ReplicaOf = ""
		return nil
	})
	if isNotFound(err) {
		return task.Permanent(err)
	}
	return err
}

// stepRenderStandalone writes the standalone instance's configuration (no
// source to follow): in place where the driver can (reconfigurer), else by
// a restart of the engine, so that a later restart keeps it writable.
func (s *Instances) stepRenderStandalone(ctx context.Context, e *task.Exec) error {
	_, sp, _, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	if sp.ReplicaOf != nil {
		return task.Permanent(errors.New("the instance is still recorded as a replica"))
	}
	if r, ok := s.cfg.Driver.(reconfigurer); ok {
		return r.Reconfigure(ctx, sp)
	}
	return s.cfg.Driver.Restart(ctx, sp)
}

// failDetach records a detach that failed: the instance goes back to
// ACTIVE (a replica still, or standalone if the engine was promoted and
// recorded so) with a fault saying so.
func (s *Instances) failDetach(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("replica detach failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	msg := "The replica could not be detached from its source; try again."
	if inst, err := s.st.GetInstance(ctx, "", t.InstanceID); err == nil && inst.ReplicaOf == "" {
		msg = "The replica was detached, but its configuration could not be rewritten; restart it."
	}
	return s.recordFailure(ctx, t, model.StatusActive, msg)
}

// replicaDefinitions are the task definitions of replica creation and
// detachment.
func (s *Instances) replicaDefinitions() []task.Definition {
	return []task.Definition{
		{
			Kind: model.TaskReplicaCreate,
			Steps: []task.Step{
				{Name: "assign_address", Run: s.stepAssignAddress},
				{Name: "seed", Run: s.stepSeedReplica},
				{Name: "start", Run: s.stepStart},
				{Name: "wait_ready", Run: s.stepWaitReady},
				{Name: "start_replica", Run: s.stepStartReplica},
				{Name: "activate", Run: s.stepActivate(model.StatusBuild)},
			},
			OnFailure: s.failReplicaCreate,
		},
		{
			Kind: model.TaskDetach,
			Steps: []task.Step{
				{Name: "promote", Run: s.stepPromote},
				{Name: "unlink", Run: s.stepUnlink},
				{Name: "render_standalone", Run: s.stepRenderStandalone},
				{Name: "wait_ready", Run: s.stepWaitReady},
				{Name: "activate", Run: s.stepActivate(model.StatusDetach)},
			},
			OnFailure: s.failDetach,
		},
	}
}

// refuseDeleteSource is the 403 of a delete of a source that still has
// replicas (reference §15.3).
func (s *Instances) refuseDeleteSource(ctx context.Context, op, tenantID, id string) error {
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil {
		return mapStoreErr(op, id, err)
	}
	replicas, err := s.st.ListReplicas(ctx, id)
	if err != nil {
		return err
	}
	if len(replicas) == 0 {
		return nil
	}
	ids := make([]string, len(replicas))
	for i, r := range replicas {
		ids[i] = r.ID
	}
	return fault.Errorf(fault.Forbidden, op, "Instance %s cannot be deleted while it has replicas (%s): delete or detach them first.",
		id, strings.Join(ids, ", "))
}
