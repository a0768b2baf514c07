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

var _ store.InlineLeases = (*Store)(nil)

// The inline gates lock the instance row (SELECT ... FOR UPDATE) first, as
// StartAction does, so that a lease and a task are never both granted on
// one instance by concurrent transactions, on any replica.

// inlineBusy reports whether a holder other than holder ("" for anyone) has
// a lease on instance id that ends after now.
func inlineBusy(ctx context.Context, tx pgx.Tx, id, holder string, now time.Time) (bool, error) {
	var busy bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inline_leases
		WHERE instance_id = $1 AND holder <> $2 AND lease_until > $3)`, id, holder, ts(now)).Scan(&busy)
	return busy, err
}

// gateInline is the gate shared by AcquireInline and StartAction: it locks
// and reads the tenant's instance id and checks that it has one of the
// allowed statuses and no unfinished task (else *store.StateError), and
// that no holder other than holder ("" for anyone) has a lease on it
// ending after now (else store.ErrBusy).
func gateInline(ctx context.Context, tx pgx.Tx, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time) (*model.Instance, error) {
	inst, err := getInstance(ctx, tx, tenantID, id, true)
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

// AcquireInline implements store.InlineLeases.
func (s *Store) AcquireInline(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time, lease time.Duration) (*model.Instance, error) {
	if holder == "" {
		return nil, errors.New("postgres: acquire inline lease: empty holder")
	}
	var out *model.Instance
	err := s.tx(ctx, func(tx pgx.Tx) error {
		inst, err := gateInline(ctx, tx, tenantID, id, allowed, holder, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inline_leases (instance_id, holder, lease_until) VALUES ($1, $2, $3)
			ON CONFLICT (instance_id) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until`,
			id, holder, ts(now.Add(lease))); err != nil {
			return err
		}
		out = inst
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: acquire inline lease on instance %s: %w", id, err)
	}
	return out, nil
}

// ReleaseInline implements store.InlineLeases.
func (s *Store) ReleaseInline(ctx context.Context, id, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM inline_leases WHERE instance_id = $1 AND holder = $2`, id, holder); err != nil {
		return fmt.Errorf("postgres: release inline lease on instance %s: %w", id, err)
	}
	return nil
}
