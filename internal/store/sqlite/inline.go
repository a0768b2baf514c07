package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

var _ store.InlineLeases = (*Store)(nil)

// inlineBusy reports whether a holder other than holder ("" for anyone) has
// a lease on instance id that ends after now.
func inlineBusy(ctx context.Context, tx *sql.Tx, id, holder string, now time.Time) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM inline_leases
		WHERE instance_id = ? AND holder <> ? AND lease_until > ?`, id, holder, unix(now)).Scan(&n)
	return n > 0, err
}

// AcquireInline implements store.InlineLeases. Write transactions are
// serialised (BEGIN IMMEDIATE), so the checks and the lease are atomic with
// StartAction and StartActionExclusive.
func (s *Store) AcquireInline(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time, lease time.Duration) (*model.Instance, error) {
	if holder == "" {
		return nil, errors.New("sqlite: acquire inline lease: empty holder")
	}
	var out *model.Instance
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, inst.Status) {
			return &store.StateError{InstanceID: id, Status: inst.Status}
		}
		if busy, err := hasUnfinishedTask(ctx, tx, id); err != nil || busy {
			if err == nil {
				err = &store.StateError{InstanceID: id, Status: inst.Status}
			}
			return err
		}
		if busy, err := inlineBusy(ctx, tx, id, holder, now); err != nil || busy {
			if err == nil {
				err = store.ErrBusy
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inline_leases (instance_id, holder, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (instance_id) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until`,
			id, holder, unix(now.Add(lease))); err != nil {
			return err
		}
		out = inst
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: acquire inline lease on instance %s: %w", id, err)
	}
	return out, nil
}

// ReleaseInline implements store.InlineLeases.
func (s *Store) ReleaseInline(ctx context.Context, id, holder string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM inline_leases WHERE instance_id = ? AND holder = ?`, id, holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: release inline lease on instance %s: %w", id, err)
	}
	return nil
}

// StartActionExclusive implements store.InlineLeases. It is StartAction
// (instances.go) with the lease check: keep the two in step.
func (s *Store) StartActionExclusive(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) (*model.Instance, error) {
	if task == nil {
		return nil, fmt.Errorf("sqlite: start action on instance %s: nil task", id)
	}
	var out *model.Instance
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := getInstance(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, inst.Status) {
			return &store.StateError{InstanceID: id, Status: inst.Status}
		}
		busy, err := hasUnfinishedTask(ctx, tx, id)
		if err != nil {
			return err
		}
		if busy {
			return &store.StateError{InstanceID: id, Status: inst.Status}
		}
		if busy, err := inlineBusy(ctx, tx, id, "", now); err != nil || busy {
			if err == nil {
				err = store.ErrBusy
			}
			return err
		}
		// A lease that ended is of a holder that died: it goes now.
		if _, err := tx.ExecContext(ctx, `DELETE FROM inline_leases WHERE instance_id = ?`, id); err != nil {
			return err
		}
		at := s.now()
		inst.Status = newStatus
		if task.Kind == model.TaskDelete {
			inst.Deleting = true
		}
		inst.Updated = at
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, deleting = ?, updated = ? WHERE id = ?`,
			string(inst.Status), inst.Deleting, unix(at), id); err != nil {
			return err
		}
		task.InstanceID = id
		out = inst
		return insertTask(ctx, tx, task, at)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: start action on instance %s: %w", id, err)
	}
	return out, nil
}
