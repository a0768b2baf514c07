package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

func scanBackup(sc pgx.Row) (*model.Backup, error) {
	var (
		b                model.Backup
		meta             string
		created, updated *time.Time
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
	b.Created = fromTS(created)
	b.Updated = fromTS(updated)
	return &b, nil
}

func backupArgs(b *model.Backup) ([]any, error) {
	meta, err := sqlrow.EncodeMeta(b.Meta)
	if err != nil {
		return nil, err
	}
	return []any{b.ID, b.TenantID, b.Name, b.Description, b.InstanceID, b.ParentID, string(b.Status),
		b.Automated, b.Datastore, b.DatastoreVersion, b.DatastoreVersionID, b.VolumeSize, b.FlavorID,
		b.Size, b.Location, b.Checksum, meta, b.AdminSecret, b.Fault, ts(b.Created), ts(b.Updated), b.Type}, nil
}

// getBackup reads one backup; tenantID "" matches any tenant. With lock it
// locks the row (SELECT ... FOR UPDATE) until the transaction ends.
func getBackup(ctx context.Context, q queryRower, tenantID, id string, lock bool) (*model.Backup, error) {
	query := `SELECT ` + backupCols + ` FROM backups WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	b, err := scanBackup(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && tenantID != "" && b.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return b, err
}

// StartBackup implements store.Backups.
func (s *Store) StartBackup(ctx context.Context, b *model.Backup, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, q *store.Quota) error {
	if b == nil || task == nil {
		return errors.New("postgres: start backup: nil backup or task")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockQuota(ctx, tx, q, b.TenantID); err != nil {
			return err
		}
		inst, err := getInstance(ctx, tx, b.TenantID, b.InstanceID, true)
		if err != nil {
			return err
		}
		if err := sqlrow.Gate(inst, allowed, func() (bool, error) { return hasUnfinishedTask(ctx, tx, inst.ID) }); err != nil {
			return err
		}
		if err := requireProject(ctx, tx, q, b.TenantID); err != nil {
			return err
		}
		if err := checkQuota(ctx, tx, q, b.TenantID, model.QuotaUsage{model.QuotaBackups: 1}); err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `UPDATE instances SET status = $1, updated = $2 WHERE id = $3`,
			string(newStatus), ts(now), inst.ID); err != nil {
			return err
		}
		sqlrow.DefaultTimes(&b.Created, &b.Updated, now)
		args, err := backupArgs(b)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`, args...); err != nil {
			if isUnique(err) {
				return store.ErrExists
			}
			return err
		}
		task.InstanceID = inst.ID
		err = insertTask(ctx, tx, task, now)
		if constraint(err) == "tasks_unfinished" {
			return &store.StateError{InstanceID: inst.ID, Status: inst.Status}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: start backup of instance %s: %w", b.InstanceID, err)
	}
	return nil
}

// GetBackup implements store.Backups.
func (s *Store) GetBackup(ctx context.Context, tenantID, id string) (*model.Backup, error) {
	b, err := getBackup(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: get backup %s: %w", id, err)
	}
	return b, nil
}

// ListBackups implements store.Backups.
func (s *Store) ListBackups(ctx context.Context, f store.BackupFilter, offset, limit int) ([]*model.Backup, error) {
	q := `SELECT ` + backupCols + ` FROM backups WHERE true`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.TenantID != "" {
		q += ` AND tenant_id = ` + arg(f.TenantID)
	}
	if f.InstanceID != "" {
		q += ` AND instance_id = ` + arg(f.InstanceID)
	}
	if f.Datastore != "" {
		q += ` AND (datastore = ` + arg(f.Datastore) + ` OR datastore_version_id = ` + arg(f.Datastore) + `)`
	}
	q += ` ORDER BY created DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ` + arg(limit)
	}
	q += ` OFFSET ` + arg(max(offset, 0))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list backups: %w", err)
	}
	defer rows.Close()
	var out []*model.Backup
	for rows.Next() {
		b, err := scanBackup(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list backups: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list backups: %w", err)
	}
	return out, nil
}

// CountBackups implements store.Backups.
func (s *Store) CountBackups(ctx context.Context, tenantID string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM backups WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count backups: %w", err)
	}
	return n, nil
}

// UpdateBackup implements store.Backups.
func (s *Store) UpdateBackup(ctx context.Context, id string, fn func(*model.Backup) error) (*model.Backup, error) {
	var out *model.Backup
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b, err := getBackup(ctx, tx, "", id, true)
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
		if _, err := tx.Exec(ctx, `DELETE FROM backups WHERE id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`, args...)
		out = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update backup %s: %w", id, err)
	}
	return out, nil
}

// DeleteBackup implements store.Backups.
func (s *Store) DeleteBackup(ctx context.Context, id string) error {
	res, err := s.pool.Exec(ctx, `DELETE FROM backups WHERE id = $1`, id)
	if err == nil {
		if res.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: delete backup %s: %w", id, err)
	}
	return nil
}

// InsertBackup implements store.Backups.
func (s *Store) InsertBackup(ctx context.Context, b *model.Backup) error {
	sqlrow.DefaultTimes(&b.Created, &b.Updated, s.now())
	args, err := backupArgs(b)
	if err == nil {
		_, err = s.pool.Exec(ctx, `INSERT INTO backups (`+backupCols+`) VALUES
			($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`, args...)
		if isUnique(err) {
			err = store.ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: insert backup %s: %w", b.ID, err)
	}
	return nil
}

const scheduleCols = `id, tenant_id, instance_id, day_of_week, hour, minute, retention, next_run, last_scheduled, created, updated`

func scanSchedule(sc pgx.Row) (*model.Schedule, error) {
	var (
		c                            model.Schedule
		next, last, created, updated *time.Time
	)
	if err := sc.Scan(&c.ID, &c.TenantID, &c.InstanceID, &c.DayOfWeek, &c.Hour, &c.Minute, &c.Retention,
		&next, &last, &created, &updated); err != nil {
		return nil, err
	}
	c.NextRun, c.LastScheduled, c.Created, c.Updated = fromTS(next), fromTS(last), fromTS(created), fromTS(updated)
	return &c, nil
}

func scheduleArgs(c *model.Schedule) []any {
	return []any{c.ID, c.TenantID, c.InstanceID, c.DayOfWeek, c.Hour, c.Minute, c.Retention,
		ts(c.NextRun), ts(c.LastScheduled), ts(c.Created), ts(c.Updated)}
}

// getSchedule reads one schedule; tenantID "" matches any tenant. With
// lock it locks the row (SELECT ... FOR UPDATE) until the transaction ends.
func getSchedule(ctx context.Context, q queryRower, tenantID, id string, lock bool) (*model.Schedule, error) {
	query := `SELECT ` + scheduleCols + ` FROM schedules WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	c, err := scanSchedule(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && tenantID != "" && c.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// CreateSchedule implements store.Schedules.
func (s *Store) CreateSchedule(ctx context.Context, c *model.Schedule) error {
	now := s.now()
	sqlrow.DefaultTimes(&c.Created, &c.Updated, now)
	_, err := s.pool.Exec(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		scheduleArgs(c)...)
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: create schedule of %s: %w", c.InstanceID, err)
	}
	return nil
}

// GetSchedule implements store.Schedules.
func (s *Store) GetSchedule(ctx context.Context, tenantID, id string) (*model.Schedule, error) {
	c, err := getSchedule(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: get schedule %s: %w", id, err)
	}
	return c, nil
}

// ListSchedules implements store.Schedules.
func (s *Store) ListSchedules(ctx context.Context, tenantID string) ([]*model.Schedule, error) {
	q := `SELECT ` + scheduleCols + ` FROM schedules`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_id = $1`
		args = append(args, tenantID)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list schedules: %w", err)
	}
	defer rows.Close()
	var out []*model.Schedule
	for rows.Next() {
		c, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list schedules: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list schedules: %w", err)
	}
	return out, nil
}

// UpdateSchedule implements store.Schedules.
func (s *Store) UpdateSchedule(ctx context.Context, id string, fn func(*model.Schedule) error) (*model.Schedule, error) {
	var out *model.Schedule
	err := s.tx(ctx, func(tx pgx.Tx) error {
		c, err := getSchedule(ctx, tx, "", id, true)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID = id
		c.Updated = s.now()
		_, err = tx.Exec(ctx, `UPDATE schedules SET day_of_week = $1, hour = $2, minute = $3, retention = $4,
			next_run = $5, last_scheduled = $6, updated = $7 WHERE id = $8`,
			c.DayOfWeek, c.Hour, c.Minute, c.Retention, ts(c.NextRun), ts(c.LastScheduled), ts(c.Updated), id)
		out = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update schedule %s: %w", id, err)
	}
	return out, nil
}

// DeleteSchedule implements store.Schedules.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	res, err := s.pool.Exec(ctx, `DELETE FROM schedules WHERE id = $1`, id)
	if err == nil {
		if res.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: delete schedule %s: %w", id, err)
	}
	return nil
}
