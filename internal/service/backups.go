package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/backup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// DefaultMaxBackups is Trove's max_backups_per_tenant.
const DefaultMaxBackups = 50

// BackupConfig turns backups on (Config.Backups).
type BackupConfig struct {
	// Storage keeps the artifacts; nil turns backups, restores and
	// schedules off (501).
	Storage backup.Storage
	// MaxBackups is the per-tenant backup quota (413 above it); 0 means
	// DefaultMaxBackups, a negative value no quota.
	MaxBackups int
	// WorkDir holds the scratch directories of running backups and
	// restores (one per task); Recover empties it, so it must be private
	// to this hoard process.
	WorkDir string
}

// Backups is the part of the service that makes, lists, restores and
// deletes backups (reference §13) and runs backup schedules
// (schedules.go). Restores are instance creates (Instances' steps) with a
// restore step of their own.
type Backups struct {
	*deps
	// instances provide the provisioning steps of a restore.
	instances *Instances
	// bs are the store's backups as the service reads them: labelled
	// (labelledBackups, artifacts.go).
	bs store.Backups
}

// enabled reports whether backups are turned on (Config.Backups).
func (s *Backups) enabled() bool { return s.cfg.Backups.Storage != nil }

// recover prepares backups after a start: scratch directories that a crash
// left in WorkDir are removed, and backups left NEW or BUILDING by a task
// that is over are marked FAILED (failStuckBackups). Nothing to do when
// backups are off.
func (s *Backups) recover(ctx context.Context) error {
	if !s.enabled() {
		return nil
	}
	dir := s.cfg.Backups.WorkDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("service: backup work directory: %w", err)
	}
	if err := s.cleanWorkDir(ctx, dir); err != nil {
		return fmt.Errorf("service: clean backup work directory: %w", err)
	}
	if err := s.failStuckBackups(ctx); err != nil {
		return fmt.Errorf("service: fail stuck backups: %w", err)
	}
	return nil
}

// failStuckBackups marks FAILED the backups still NEW or BUILDING whose
// task is over: before failBackup could read its task's payload, a backup
// whose task failed stayed BUILDING for good (undeletable, counted by the
// quota). A backup and its task are stored together and its task ends
// only after recording the outcome, so a running backup without an
// unfinished task of its own is stuck; one whose task another replica is
// running now is left alone.
func (s *Backups) failStuckBackups(ctx context.Context) error {
	all, err := s.bs.ListBackups(ctx, store.BackupFilter{}, 0, 0)
	if err != nil {
		return err
	}
	for _, b := range all {
		if !b.Status.Running() {
			continue
		}
		t, err := s.st.ActiveTask(ctx, b.InstanceID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case t.Kind == model.TaskBackup:
			if id, err := s.taskBackupID(t, t.Payload); err == nil && id == b.ID {
				continue
			}
		}
		s.log.Warn("backup without a running task marked failed", "instance_id", b.InstanceID, "tenant_id", b.TenantID, "backup_id", b.ID)
		if err := s.markBackupFailed(ctx, "", b.InstanceID, b.ID); err != nil {
			return err
		}
	}
	return nil
}

// cleanWorkDir removes the scratch directories (one per task, named by its
// id) of tasks that have ended or are unknown. Those of unfinished tasks
// stay: replicas sharing a data directory share WorkDir, and another one
// may be running that task now (a task's step empties its directory before
// using it anyway).
func (s *Backups) cleanWorkDir(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		t, err := s.st.GetTask(ctx, e.Name())
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case t.State == model.TaskPending || t.State == model.TaskRunning:
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// backupEngine returns the engine of inst if its backups can be made (the
// engine and the driver support them), else a 501 fault.
func (s *Backups) backupEngine(op string, inst *model.Instance) (datastore.Engine, error) {
	eng, err := s.engineFor(inst)
	if err != nil {
		return nil, err
	}
	if _, ok := eng.(datastore.Backuper); !ok {
		return nil, fault.Errorf(fault.NotImplemented, op, "Backups are not supported by datastore %s.", inst.Datastore)
	}
	if _, ok := s.cfg.Driver.(driver.Filesystem); !ok {
		return nil, fault.New(fault.NotImplemented, op, "Backups are not supported by this instance driver.")
	}
	return eng, nil
}

// backupsOn returns a 501 fault when backups are off.
func (s *Backups) backupsOn(op string) error {
	if !s.enabled() {
		return fault.New(fault.NotImplemented, op, "Backups are not enabled.")
	}
	return nil
}

// CreateBackupRequest is a decoded backup create request.
type CreateBackupRequest struct {
	Name        string
	Description string
	InstanceID  string
	// ParentID is the backup an incremental builds on ("" for a full one).
	ParentID string
	// Incremental (Trove's "incremental": 1) builds on the instance's
	// newest COMPLETED backup when ParentID is empty.
	Incremental bool
	// Automated marks backups made by a schedule.
	Automated bool
}

// backupPayload is the payload of backup and restore tasks. A restore
// task's payload is also a createPayload (same JSON object).
type backupPayload struct {
	BackupID string `json:"backup_id"`
}

// backupStatuses are the instance statuses a backup may start from.
var backupStatuses = []model.InstanceStatus{model.StatusActive}

// CreateBackup implements api.BackupBackend (reference §13.3).
func (s *Backups) CreateBackup(ctx context.Context, tenantID string, req CreateBackupRequest) (*model.Backup, error) {
	const op = "backup.create"
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	if !validName(req.Name) {
		return nil, fault.New(fault.Invalid, op, "Backup name must be 1 to 255 characters and contain at least one letter or digit.")
	}
	inst, err := s.st.GetInstance(ctx, tenantID, req.InstanceID)
	if err != nil {
		return nil, mapStoreErr(op, req.InstanceID, err)
	}
	eng, err := s.backupEngine(op, inst)
	if err != nil {
		return nil, err
	}
	if _, full := eng.(datastore.FullBackupsOnly); full && (req.Incremental || req.ParentID != "") {
		return nil, fault.Errorf(fault.NotImplemented, op, "Incremental backups are not supported by datastore %s.", inst.Datastore)
	}
	if req.ParentID == "" && req.Incremental {
		list, err := s.bs.ListBackups(ctx, store.BackupFilter{TenantID: tenantID, InstanceID: inst.ID}, 0, 0)
		if err != nil {
			return nil, err
		}
		for _, b := range list {
			if b.Status == model.BackupCompleted {
				req.ParentID = b.ID
				break
			}
		}
	}
	if req.ParentID != "" {
		p, err := s.bs.GetBackup(ctx, tenantID, req.ParentID)
		if err != nil {
			return nil, mapBackupErr(op, req.ParentID, err)
		}
		if p.InstanceID != inst.ID {
			return nil, fault.Errorf(fault.Invalid, op, "Parent backup %s is not a backup of instance %s.", p.ID, inst.ID)
		}
		if p.Status != model.BackupCompleted {
			return nil, fault.Errorf(fault.Unprocessable, op, "Parent backup %s is not completed (status %s).", p.ID, p.Status)
		}
	}
	now := s.now()
	b := &model.Backup{
		ID: uuid.NewString(), TenantID: tenantID, Name: req.Name, Description: req.Description,
		InstanceID: inst.ID, ParentID: req.ParentID, Status: model.BackupNew, Automated: req.Automated,
		Datastore: inst.Datastore, DatastoreVersion: inst.DatastoreVersion, DatastoreVersionID: inst.DatastoreVersionID,
		VolumeSize: inst.VolumeSize, FlavorID: inst.FlavorID, AdminSecret: inst.AdminSecret,
		Type:    datastore.FormatOf(eng).Label(req.ParentID != ""),
		Created: now, Updated: now,
	}
	payload, err := s.sealJSON(backupPayload{BackupID: b.ID})
	if err != nil {
		return nil, err
	}
	t := &model.Task{ID: uuid.NewString(), InstanceID: inst.ID, Kind: model.TaskBackup, State: model.TaskPending,
		Payload: payload, Created: now, Updated: now}
	// The quota is checked in the transaction that records the backup.
	_, err = s.startGatedAction(ctx, op, inst.ID, func() (*model.Instance, error) {
		return nil, s.st.StartBackup(ctx, b, backupStatuses, model.StatusBackup, t, s.quota())
	})
	if err != nil {
		var se *store.StateError
		if errors.As(err, &se) {
			return nil, fault.Errorf(fault.Unprocessable, op,
				"Instance %s is not currently available for a backup (instance status was %s).", inst.ID, se.Status)
		}
		return nil, mapStoreErr(op, inst.ID, err)
	}
	s.cfg.Notify()
	s.log.Info("backup accepted", "instance_id", inst.ID, "tenant_id", tenantID, "backup_id", b.ID, "task_id", t.ID)
	return b, nil
}

func (s *Backups) sealJSON(v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.cfg.Sealer.Seal(plain)
}

// mapBackupErr classifies store errors of backup lookups.
func mapBackupErr(op, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fault.Errorf(fault.NotFound, op, "Backup %s cannot be found.", id)
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}

// GetBackup implements api.BackupBackend.
func (s *Backups) GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error) {
	const op = "backup.get"
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	b, err := s.bs.GetBackup(ctx, tenantID, id)
	if err != nil {
		return nil, mapBackupErr(op, id, err)
	}
	return b, nil
}

// ListBackups implements api.BackupBackend: the tenant's backups newest
// first, filtered by datastore (type name or version id) if not empty,
// from offset, and whether more follow.
func (s *Backups) ListBackups(ctx context.Context, tenantID, datastoreFilter string, offset, limit int) ([]*model.Backup, bool, error) {
	if err := s.backupsOn("backup.list"); err != nil {
		return nil, false, err
	}
	return listPage(ctx, s.bs, store.BackupFilter{TenantID: tenantID, Datastore: datastoreFilter}, offset, limit)
}

// ListInstanceBackups implements api.BackupBackend (reference §8.9).
func (s *Backups) ListInstanceBackups(ctx context.Context, tenantID, instanceID string, offset, limit int) ([]*model.Backup, bool, error) {
	const op = "instance.backups"
	if err := s.backupsOn(op); err != nil {
		return nil, false, err
	}
	if _, err := s.st.GetInstance(ctx, tenantID, instanceID); err != nil {
		return nil, false, mapStoreErr(op, instanceID, err)
	}
	return listPage(ctx, s.bs, store.BackupFilter{TenantID: tenantID, InstanceID: instanceID}, offset, limit)
}

func listPage(ctx context.Context, bs store.Backups, f store.BackupFilter, offset, limit int) ([]*model.Backup, bool, error) {
	list, err := bs.ListBackups(ctx, f, offset, limit+1)
	if err != nil {
		return nil, false, err
	}
	if limit > 0 && len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// DeleteBackup implements api.BackupBackend: it removes the backup, its
// incremental descendants and their artifacts. A running backup (or a
// running descendant) cannot be deleted (422).
func (s *Backups) DeleteBackup(ctx context.Context, tenantID, id string) error {
	const op = "backup.delete"
	if err := s.backupsOn(op); err != nil {
		return err
	}
	b, err := s.bs.GetBackup(ctx, tenantID, id)
	if err != nil {
		return mapBackupErr(op, id, err)
	}
	all, err := s.bs.ListBackups(ctx, store.BackupFilter{TenantID: b.TenantID}, 0, 0)
	if err != nil {
		return err
	}
	doomed := descendants(all, b)
	for _, d := range doomed {
		if d.Status.Running() {
			return fault.Errorf(fault.Unprocessable, op, "Backup %s cannot be deleted because it is running.", d.ID)
		}
	}
	// Children first, so that a failure never leaves an orphaned child.
	for _, d := range slices.Backward(doomed) {
		if err := s.removeBackup(ctx, d.ID); err != nil {
			return err
		}
	}
	s.log.Info("backup deleted", "tenant_id", tenantID, "backup_id", id, "with_children", len(doomed)-1)
	return nil
}

// descendants returns b and every backup built on it (parents before
// children).
func descendants(all []*model.Backup, b *model.Backup) []*model.Backup {
	out := []*model.Backup{b}
	for i := 0; i < len(out); i++ {
		for _, c := range all {
			if c.ParentID == out[i].ID {
				out = append(out, c)
			}
		}
	}
	return out
}

// removeBackup deletes one backup's artifact, then its record.
func (s *Backups) removeBackup(ctx context.Context, id string) error {
	if err := s.deleteArtifacts(ctx, id); err != nil {
		_, _ = s.st.UpdateBackup(ctx, id, func(b *model.Backup) error {
			b.Status = model.BackupDeleteFailed
			return nil
		})
		return fmt.Errorf("backup.delete %s: %w", id, err)
	}
	if err := s.st.DeleteBackup(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// definitions are the task definitions of backups and restores.
func (s *Backups) definitions() []task.Definition {
	return []task.Definition{
		{
			Kind: model.TaskBackup,
			Steps: []task.Step{
				{Name: "backup", Run: s.stepBackup},
				{Name: "activate", Run: s.instances.stepActivate(model.StatusBackup)},
			},
			OnFailure: s.failBackup,
		},
		{
			Kind: model.TaskRestore,
			Steps: []task.Step{
				{Name: "assign_address", Run: s.instances.stepAssignAddress},
				{Name: "restore", Run: s.stepRestore},
				{Name: "start", Run: s.instances.stepStart},
				{Name: "wait_ready", Run: s.instances.stepWaitReady},
				{Name: "bootstrap", Run: s.instances.stepBootstrap},
				{Name: "create_databases_users", Run: s.instances.stepCreateDatabasesUsers},
				{Name: "activate", Run: s.instances.stepActivate(model.StatusBuild)},
			},
			OnFailure: s.failRestore,
		},
	}
}

// taskBackupID reads the backup id from the payload of a backup or restore
// task t: a step passes [task.Exec.Payload], an OnFailure t.Payload (the
// payload the runner last stored).
func (s *Backups) taskBackupID(t *model.Task, payload []byte) (string, error) {
	plain, err := s.cfg.Sealer.Open(payload)
	if err != nil {
		return "", task.Permanent(fmt.Errorf("backup task %s payload: %w", t.ID, err))
	}
	var p backupPayload
	if err := json.Unmarshal(plain, &p); err != nil || p.BackupID == "" {
		return "", task.Permanent(fmt.Errorf("backup task %s has no backup id", t.ID))
	}
	return p.BackupID, nil
}

// workDir returns an emptied scratch directory for task t.
func (s *Backups) workDir(t *model.Task) (string, error) {
	dir := filepath.Join(s.cfg.Backups.WorkDir, t.ID)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.Mkdir(dir, 0o700)
}

// stepBackup streams the engine's backup, compressed, into the storage
// and records size, checksum and the engine's meta. Redone after a crash:
// a partial artifact is never visible, and the new one replaces nothing.
func (s *Backups) stepBackup(ctx context.Context, e *task.Exec) error {
	if !s.enabled() {
		return task.Permanent(errors.New("backups are not enabled"))
	}
	id, err := s.taskBackupID(e.Task, e.Payload())
	if err != nil {
		return err
	}
	b, err := s.bs.GetBackup(ctx, "", id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return task.Permanent(err)
		}
		return err
	}
	if b.Status == model.BackupCompleted {
		return nil
	}
	inst, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	bu, ok := eng.(datastore.Backuper)
	fs, ok2 := s.cfg.Driver.(driver.Filesystem)
	if !ok || !ok2 {
		return task.Permanent(errors.New("the engine or driver cannot make backups"))
	}
	var parent *datastore.BackupRef
	if b.ParentID != "" {
		p, err := s.bs.GetBackup(ctx, "", b.ParentID)
		if err != nil {
			return task.Permanent(fmt.Errorf("parent backup %s: %w", b.ParentID, err))
		}
		parent = &datastore.BackupRef{ID: p.ID, Meta: p.Meta}
	}
	if _, err := s.st.UpdateBackup(ctx, id, func(b *model.Backup) error {
		b.Status = model.BackupBuilding
		return nil
	}); err != nil {
		return err
	}
	c, err := s.adminConn(inst, sp, eng)
	if err != nil {
		return task.Permanent(err)
	}
	work, err := s.workDir(e.Task)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var meta map[string]string
	sum, err := backup.Write(ctx, s.cfg.Backups.Storage, artifactKey(id, eng), func(w io.Writer) error {
		var err error
		meta, err = bu.Backup(ctx, c, fs.EngineSpec(sp), work, w, parent)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return task.Permanent(err)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	meta["raw_size"] = fmt.Sprint(sum.RawSize)
	done, err := s.st.UpdateBackup(ctx, id, func(b *model.Backup) error {
		b.Status = model.BackupCompleted
		b.Size = sum.Size
		b.Checksum = sum.Checksum
		b.Location = s.cfg.Backups.Storage.Location(artifactKey(id, eng))
		b.Meta = meta
		b.Fault = ""
		return nil
	})
	if err == nil {
		s.log.Info("backup completed", "instance_id", inst.ID, "backup_id", id, "bytes", sum.Size, "raw_bytes", sum.RawSize)
		if f := s.cfg.OnBackup; f != nil && done != nil {
			f(done)
		}
	}
	return err
}

// failBackup marks the backup FAILED with a fault (removing any artifact)
// and gives the instance back its ACTIVE status: a failed backup does not
// harm it. A backup already COMPLETED stays so (only the activate step
// failed, the instance being gone): its artifact is whole and outlives the
// instance. An unreadable payload is logged and does not keep the instance
// in BACKUP; a store error is returned, so that the runner calls failBackup
// again.
func (s *Backups) failBackup(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("backup failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	if s.enabled() {
		id, err := s.taskBackupID(t, t.Payload)
		if err != nil {
			s.log.Error("failed backup task names no backup", "instance_id", t.InstanceID, "task_id", t.ID, "err", err)
		} else if err := s.markBackupFailed(ctx, t.ID, t.InstanceID, id); err != nil {
			return fmt.Errorf("backup task %s: %w", t.ID, err)
		}
	}
	// A backup tool refused by the engine: the tenant's root may have
	// changed hoard's account. Then the instance shows it (BLOCKED).
	lost := s.instanceAdminLost(ctx, t.InstanceID)
	now := s.now()
	_, err := s.st.UpdateInstance(ctx, t.InstanceID, func(i *model.Instance) error {
		if i.Status == model.StatusBackup {
			i.Status = model.StatusActive
			if lost {
				i.Status = model.StatusBlocked
				i.Fault = &model.Fault{Message: adminLostMessage, Created: now}
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup task %s: instance %s: %w", t.ID, t.InstanceID, err)
	}
	return nil
}

// markBackupFailed records backup id of instance instanceID as FAILED
// (by its task taskID, "" if unknown), unless it is COMPLETED or gone, and
// removes any artifact of it. The record comes first: an artifact left by
// a failing storage is removed when the backup is deleted
// ([Service.removeBackup]).
func (s *Backups) markBackupFailed(ctx context.Context, taskID, instanceID, id string) error {
	completed := false
	_, err := s.st.UpdateBackup(ctx, id, func(b *model.Backup) error {
		if b.Status == model.BackupCompleted {
			completed = true
			return nil
		}
		b.Status = model.BackupFailed
		b.Fault = "The backup could not be made: the backup tool failed or the artifact could not be stored."
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("mark backup %s failed: %w", id, err)
	case completed:
		s.log.Warn("backup completed but its task failed; the backup is kept", "instance_id", instanceID, "task_id", taskID, "backup_id", id)
		return nil
	}
	if err := s.deleteArtifacts(ctx, id); err != nil {
		s.log.Warn("remove artifact of failed backup", "instance_id", instanceID, "task_id", taskID, "backup_id", id, "err", err)
	}
	return nil
}

// restoreChain returns b's chain: the full backup first, then each
// incremental down to b.
func (s *Backups) restoreChain(ctx context.Context, b *model.Backup) ([]*model.Backup, error) {
	chain := []*model.Backup{b}
	for cur := b; cur.ParentID != ""; {
		p, err := s.bs.GetBackup(ctx, "", cur.ParentID)
		if err != nil {
			return nil, fmt.Errorf("parent backup %s of %s: %w", cur.ParentID, cur.ID, err)
		}
		if len(chain) > 1000 || slices.ContainsFunc(chain, func(c *model.Backup) bool { return c.ID == p.ID }) {
			return nil, fmt.Errorf("backup %s: parent chain loops", b.ID)
		}
		chain = append(chain, p)
		cur = p
	}
	slices.Reverse(chain)
	return chain, nil
}

// errRestoreVerify marks restore failures caused by the artifacts.
var errRestoreVerify = errors.New("backup artifact failed verification")

// stepRestore fills the new instance's data directory from its backup
// chain before the first start: every artifact is checked against its
// recorded checksum first, then the engine unpacks, prepares and copies
// them back. The driver marks the data directory initialised only after
// all that succeeded.
func (s *Backups) stepRestore(ctx context.Context, e *task.Exec) error {
	if !s.enabled() {
		return task.Permanent(errors.New("backups are not enabled"))
	}
	id, err := s.taskBackupID(e.Task, e.Payload())
	if err != nil {
		return err
	}
	_, sp, eng, err := s.load(ctx, e.Task)
	if err != nil {
		return err
	}
	bu, ok := eng.(datastore.Backuper)
	fsd, ok2 := s.cfg.Driver.(driver.Filesystem)
	if !ok || !ok2 {
		return task.Permanent(errors.New("the engine or driver cannot restore backups"))
	}
	b, err := s.bs.GetBackup(ctx, "", id)
	if err != nil {
		return task.Permanent(fmt.Errorf("%w: backup %s: %w", errRestoreVerify, id, err))
	}
	chain, err := s.restoreChain(ctx, b)
	if err != nil {
		return task.Permanent(fmt.Errorf("%w: %w", errRestoreVerify, err))
	}
	return fsd.ProvisionFrom(ctx, sp, func(ctx context.Context, ds datastore.Spec) error {
		for _, c := range chain {
			if err := backup.Verify(ctx, s.cfg.Backups.Storage, s.storedArtifactKey(ctx, c), c.Checksum); err != nil {
				if errors.Is(err, backup.ErrCorrupt) || errors.Is(err, backup.ErrNotFound) {
					return task.Permanent(fmt.Errorf("%w: %w", errRestoreVerify, err))
				}
				return err
			}
		}
		work, err := s.workDir(e.Task)
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		var readers []io.Reader
		for _, c := range chain {
			rc, err := backup.Open(ctx, s.cfg.Backups.Storage, s.storedArtifactKey(ctx, c))
			if err != nil {
				for _, r := range readers {
					r.(io.Closer).Close()
				}
				return task.Permanent(fmt.Errorf("%w: %w", errRestoreVerify, err))
			}
			readers = append(readers, rc)
		}
		defer func() {
			for _, r := range readers {
				r.(io.Closer).Close()
			}
		}()
		if err := bu.Restore(ctx, ds, work, readers); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return task.Permanent(err)
		}
		return nil
	})
}

// failRestore is failCreate with a message that says what went wrong with
// the backup.
func (s *Backups) failRestore(ctx context.Context, t *model.Task, cause error) error {
	s.log.Error("instance restore failed", "instance_id", t.InstanceID, "task_id", t.ID, "err", cause)
	if err := s.cfg.Driver.Stop(ctx, t.InstanceID); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.Warn("stop after failed restore", "instance_id", t.InstanceID, "err", err)
	}
	msg := "The instance could not be restored from its backup: the database service failed to start or to be configured."
	switch {
	case errors.Is(cause, backup.ErrCorrupt):
		msg = "The instance could not be restored: the backup artifact does not match its recorded checksum (corrupted). No data was restored."
	case errors.Is(cause, errRestoreVerify):
		msg = "The instance could not be restored: the backup or one of its parents is missing or unreadable. No data was restored."
	}
	return s.recordFailure(ctx, t, model.StatusError, msg)
}

// restorePayload is the payload of a restore task: what a create applies
// plus the backup to restore.
type restorePayload struct {
	createPayload
	BackupID string `json:"backup_id"`
}

// checkRestore applies the restore rules of reference §13.6 to a create
// request naming a backup: the backup exists (404), is COMPLETED (409),
// fits the volume (403) and matches the datastore (400). A request without
// a datastore gets the backup's.
func (s *Backups) checkRestore(ctx context.Context, tenantID string, req *CreateInstanceRequest) (*model.Backup, error) {
	const op = "instance.create"
	if req.RestoreBackupID == "" {
		return nil, nil
	}
	if err := s.backupsOn(op); err != nil {
		return nil, err
	}
	b, err := s.bs.GetBackup(ctx, tenantID, req.RestoreBackupID)
	if err != nil {
		return nil, mapBackupErr(op, req.RestoreBackupID, err)
	}
	if b.Status != model.BackupCompleted {
		return nil, fault.Errorf(fault.Conflict, op,
			"Unable to create instance because backup %s is not completed. Actual state: %s.", b.ID, b.Status)
	}
	if gb := sizeGB(b.Size); gb > float64(req.VolumeSize) || b.VolumeSize > req.VolumeSize {
		return nil, fault.Errorf(fault.Forbidden, op,
			"Backup is too large for given flavor or volume. Backup size: %.2f GBs (from a %d GB volume). Available size: %d GBs.",
			gb, b.VolumeSize, req.VolumeSize)
	}
	if req.DatastoreType == "" {
		req.DatastoreType, req.DatastoreVersion = b.Datastore, b.DatastoreVersion
	}
	_, dv, err := s.resolveDatastore(ctx, req.DatastoreType, req.DatastoreVersion)
	if err != nil {
		return nil, err
	}
	if dv.ID != b.DatastoreVersionID {
		return nil, fault.Errorf(fault.Invalid, op,
			"The datastore from which the backup was taken, %s %s, does not match the destination datastore of %s %s.",
			b.Datastore, b.DatastoreVersion, req.DatastoreType, dv.Name)
	}
	return b, nil
}

// sizeGB converts bytes to GB as the API shows them (two decimals, at
// least 0.01 for a non-empty artifact).
func sizeGB(n int64) float64 {
	gb := math.Round(float64(n)/(1<<30)*100) / 100
	if n > 0 && gb == 0 {
		gb = 0.01
	}
	return gb
}

// SizeGB returns a backup's size in GB as the API shows it.
func SizeGB(b *model.Backup) float64 { return sizeGB(b.Size) }
