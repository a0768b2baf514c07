package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
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

// gateInline is the gate shared by AcquireInline and StartAction: it reads
// the tenant's instance id and checks that it has one of the allowed
// statuses and no unfinished task (else *store.StateError), and that no
// holder other than holder ("" for anyone) has a lease on it ending after
// now (else store.ErrBusy).
func gateInline(ctx context.Context, tx *sql.Tx, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time) (*model.Instance, error) {
	inst, err := getInstance(ctx, tx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if err := sqlrow.Gate(inst, allowed, func() (bool, error) { return hasUnfinishedTask(ctx, tx, id) }); err != nil {
		return nil, err
	}
	busy, err := inlineBusy(ctx, tx, id, holder, now)
	if err != nil {
		return nil, err
	}
	if busy {
		return nil, store.ErrBusy
	}
	return inst, nil
}

// AcquireInline implements store.InlineLeases. Write transactions are
// serialised (BEGIN IMMEDIATE), so the checks and the lease are atomic with
// StartAction.
func (s *Store) AcquireInline(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time, lease time.Duration) (*model.Instance, error) {
	if holder == "" {
		return nil, errors.New("sqlite: acquire inline lease: empty holder")
	}
	var out *model.Instance
	err := s.write(ctx, func(tx *sql.Tx) error {
		inst, err := gateInline(ctx, tx, tenantID, id, allowed, holder, now)
		if err != nil {
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
