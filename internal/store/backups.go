package store

import (
	"context"

	"github.com/hoard-db/hoard/internal/model"
)

// BackupFilter selects backups in ListBackups. Zero fields match anything.
type BackupFilter struct {
	TenantID   string
	InstanceID string
	// Datastore matches a backup's datastore type name or its datastore
	// version id.
	Datastore string
}

// Backups is an optional Store capability: backups of instances (reference
// §13). Backups are not tied to their instance's row: they outlive it.
// Times are stored at second precision and returned in UTC.
type Backups interface {
	// StartBackup is the state gate of a backup: in one transaction it
	// checks that the tenant's instance b.InstanceID has one of the allowed
	// statuses and no unfinished task (else *StateError; ErrNotFound if it
	// does not exist), that the backup fits quota q (see [Quota]; a backup
	// adds one of model.QuotaBackups; else *QuotaError), sets its status
	// to newStatus, and inserts b and task.
	StartBackup(ctx context.Context, b *model.Backup, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, q *Quota) error
	// GetBackup returns one backup; tenantID "" matches any tenant.
	GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error)
	// ListBackups returns the matching backups, newest (by Created, then
	// id) first, skipping offset of them and returning at most limit
	// (limit <= 0: all).
	ListBackups(ctx context.Context, f BackupFilter, offset, limit int) ([]*model.Backup, error)
	// CountBackups returns how many backups a tenant has.
	CountBackups(ctx context.Context, tenantID string) (int, error)
	// UpdateBackup reads backup id, calls fn on it and writes it back
	// (bumping Updated) in one transaction; fn's error aborts and is
	// returned.
	UpdateBackup(ctx context.Context, id string, fn func(*model.Backup) error) (*model.Backup, error)
	// DeleteBackup removes backup id; ErrNotFound if it does not exist.
	DeleteBackup(ctx context.Context, id string) error
	// InsertBackup inserts b as it is, with no state gate and no task (for
	// copying a data set): status, location, sealed secret and times are
	// kept (zero Created/Updated are set to now). ErrExists on a duplicate
	// id.
	InsertBackup(ctx context.Context, b *model.Backup) error
}

// Schedules is an optional Store capability: automated backup schedules
// (Rackspace §17.2), at most one per instance.
type Schedules interface {
	// CreateSchedule inserts sc; ErrExists if the instance already has one.
	CreateSchedule(ctx context.Context, sc *model.Schedule) error
	// GetSchedule returns one schedule; tenantID "" matches any tenant.
	GetSchedule(ctx context.Context, tenantID, id string) (*model.Schedule, error)
	// ListSchedules returns a tenant's schedules ordered by id; tenantID ""
	// lists all.
	ListSchedules(ctx context.Context, tenantID string) ([]*model.Schedule, error)
	// UpdateSchedule reads schedule id, calls fn and writes it back
	// (bumping Updated) in one transaction.
	UpdateSchedule(ctx context.Context, id string, fn func(*model.Schedule) error) (*model.Schedule, error)
	// DeleteSchedule removes schedule id; ErrNotFound if it does not exist.
	DeleteSchedule(ctx context.Context, id string) error
}
