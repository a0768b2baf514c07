package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

var (
	_ store.Backups   = (*Store)(nil)
	_ store.Schedules = (*Store)(nil)
)

const backupCols = `id, tenant_id, name, description, instance_id, parent_id, status, automated,
	datastore, datastore_version, datastore_version_id, volume_size, flavor_id, size, location,
	checksum, meta, admin_secret, fault, created, updated, backup_type`

func scanBackup(sc scanner) (*model.Backup, error) {
	var (
		b                model.Backup
		meta             string
		created, updated int64
	)
	if err := sc.Scan(&b.ID, &b.TenantID, &b.Name, &b.Description, &b.InstanceID, &b.ParentID, &b.Status,
		&b.Automated, &b.Datastore, &b.DatastoreVersion, &b.DatastoreVersionID, &b.VolumeSize, &b.FlavorID,
		&b.Size, &b.Location, &b.Checksum, &meta, &b.AdminSecret, &b.Fault, &created, &updated, &b.Type); err != nil {
		return nil, err
	}
	var err error
	if b.Meta, err = sqlrow.DecodeMeta(b.ID, meta); err != nil {
		return nil, err
	}
	b.Created = fromUnix(created)
	b.Updated = fromUnix(updated)
	return &b, nil
}

func backupArgs(b *model.Backup) ([]any, error) {
	meta, err := sqlrow.EncodeMeta(b.Meta)
	if err != nil {
		return nil, err
	}
	return []any{b.ID, b.TenantID, b.Name, b.Description, b.InstanceID, b.ParentID, string(b.Status),
		b.Automated, b.Datastore, b.DatastoreVersion, b.DatastoreVersionID, b.VolumeSize, b.FlavorID,
		b.Size, b.Location, b.Checksum, meta, b.AdminSecret, b.Fault, unix(b.Created), unix(b.Updated), b.Type}, nil
}

func getBackup(ctx context.Context, q querier, tenantID, id string) (*model.Backup, error) {
	b, err := scanBackup(q.QueryRowContext(ctx, `SELECT `+backupCols+` FROM backups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tenantID != "" && b.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return b, err
}

// StartBackup implements store.Backups.
func (s *Store) StartBackup(ctx context.Context, b *model.Backup, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, q *store.Quota) error {
	if b == nil || task == nil {
		return errors.New("sqlite: start backup: nil backup or task")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, b.TenantID, b.InstanceID)
		if err != nil {
			return err
		}
		if err := sqlrow.Gate(inst, allowed, func() (bool, error) { return hasUnfinishedTask(ctx, tx, inst.ID) }); err != nil {
			return err
		}
		if err := admit(ctx, tx, q, b.TenantID, model.QuotaUsage{model.QuotaBackups: 1}); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, updated = ? WHERE id = ?`,
			string(newStatus), unix(now), inst.ID); err != nil {
			return err
		}
		sqlrow.DefaultTimes(&b.Created, &b.Updated, now)
		args, err := backupArgs(b)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			if isUnique(err) {
				return store.ErrExists
			}
			return err
		}
		task.InstanceID = inst.ID
		return insertTask(ctx, tx, task, now)
	})
	if err != nil {
		return fmt.Errorf("sqlite: start backup of instance %s: %w", b.InstanceID, err)
	}
	return nil
}

// GetBackup implements store.Backups.
func (s *Store) GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error) {
	b, err := getBackup(ctx, s.db, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get backup %s: %w", id, err)
	}
	return b, nil
}

// ListBackups implements store.Backups.
func (s *Store) ListBackups(ctx context.Context, f store.BackupFilter, offset, limit int) ([]*model.Backup, error) {
	q := `SELECT ` + backupCols + ` FROM backups WHERE 1 = 1`
	var args []any
	if f.TenantID != "" {
		q += ` AND tenant_id = ?`
		args = append(args, f.TenantID)
	}
	if f.InstanceID != "" {
		q += ` AND instance_id = ?`
		args = append(args, f.InstanceID)
	}
	if f.Datastore != "" {
		q += ` AND (datastore = ? OR datastore_version_id = ?)`
		args = append(args, f.Datastore, f.Datastore)
	}
	if limit <= 0 {
		limit = -1
	}
	q += ` ORDER BY created DESC, id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, max(offset, 0))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list backups: %w", err)
	}
	defer rows.Close()
	var out []*model.Backup
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list backups: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list backups: %w", err)
	}
	return out, nil
}

// CountBackups implements store.Backups.
func (s *Store) CountBackups(ctx context.Context, tenantID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM backups WHERE tenant_id = ?`, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count backups: %w", err)
	}
	return n, nil
}

// UpdateBackup implements store.Backups.
func (s *Store) UpdateBackup(ctx context.Context, id string, fn func(*model.Backup) error) (*model.Backup, error) {
	var out *model.Backup
	err := s.write(ctx, func(tx *sql.Tx) error {
		b, err := getBackup(ctx, tx, "", id)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
		b.ID = id
		b.Updated = s.now()
		args, err := backupArgs(b)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM backups WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		out = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update backup %s: %w", id, err)
	}
	return out, nil
}

// DeleteBackup implements store.Backups.
func (s *Store) DeleteBackup(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM backups WHERE id = ?`, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete backup %s: %w", id, err)
	}
	return nil
}

// InsertBackup implements store.Backups.
func (s *Store) InsertBackup(ctx context.Context, b *model.Backup) error {
	sqlrow.DefaultTimes(&b.Created, &b.Updated, s.now())
	args, err := backupArgs(b)
	if err != nil {
		return fmt.Errorf("sqlite: insert backup %s: %w", b.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert backup %s: %w", b.ID, err)
	}
	return nil
}

const scheduleCols = `id, tenant_id, instance_id, day_of_week, hour, minute, retention, next_run, last_scheduled, created, updated`

func scanSchedule(sc scanner) (*model.Schedule, error) {
	var (
		c                            model.Schedule
		next, last, created, updated int64
	)
	if err := sc.Scan(&c.ID, &c.TenantID, &c.InstanceID, &c.DayOfWeek, &c.Hour, &c.Minute, &c.Retention,
		&next, &last, &created, &updated); err != nil {
		return nil, err
	}
	c.NextRun, c.LastScheduled, c.Created, c.Updated = fromUnix(next), fromUnix(last), fromUnix(created), fromUnix(updated)
	return &c, nil
}

func scheduleArgs(c *model.Schedule) []any {
	return []any{c.ID, c.TenantID, c.InstanceID, c.DayOfWeek, c.Hour, c.Minute, c.Retention,
		unix(c.NextRun), unix(c.LastScheduled), unix(c.Created), unix(c.Updated)}
}

func getSchedule(ctx context.Context, q querier, tenantID, id string) (*model.Schedule, error) {
	c, err := scanSchedule(q.QueryRowContext(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tenantID != "" && c.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// CreateSchedule implements store.Schedules.
func (s *Store) CreateSchedule(ctx context.Context, c *model.Schedule) error {
	now := s.now()
	sqlrow.DefaultTimes(&c.Created, &c.Updated, now)
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scheduleArgs(c)...)
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("sqlite: create schedule of %s: %w", c.InstanceID, err)
	}
	return nil
}

// GetSchedule implements store.Schedules.
func (s *Store) GetSchedule(ctx context.Context, tenantID, id string) (*model.Schedule, error) {
	c, err := getSchedule(ctx, s.db, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get schedule %s: %w", id, err)
	}
	return c, nil
}

// ListSchedules implements store.Schedules.
func (s *Store) ListSchedules(ctx context.Context, tenantID string) ([]*model.Schedule, error) {
	q := `SELECT ` + scheduleCols + ` FROM schedules`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	defer rows.Close()
	var out []*model.Schedule
	for rows.Next() {
		c, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list schedules: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	return out, nil
}

// UpdateSchedule implements store.Schedules.
func (s *Store) UpdateSchedule(ctx context.Context, id string, fn func(*model.Schedule) error) (*model.Schedule, error) {
	var out *model.Schedule
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := getSchedule(ctx, tx, "", id)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID = id
		c.Updated = s.now()
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET day_of_week = ?, hour = ?, minute = ?, retention = ?,
			next_run = ?, last_scheduled = ?, updated = ? WHERE id = ?`,
			c.DayOfWeek, c.Hour, c.Minute, c.Retention, unix(c.NextRun), unix(c.LastScheduled), unix(c.Updated), id)
		out = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update schedule %s: %w", id, err)
	}
	return out, nil
}

// DeleteSchedule implements store.Schedules.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM schedules WHERE id = ?`, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete schedule %s: %w", id, err)
	}
	return nil
}
