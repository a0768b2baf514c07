package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

var _ store.Quotas = (*Store)(nil)

// queryer runs queries in a transaction or on the database.
type queryer interface {
	querier
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// projectQuotas reads the limits recorded for projectID.
func projectQuotas(ctx context.Context, q queryer, projectID string) (model.QuotaLimits, error) {
	rows, err := q.QueryContext(ctx, `SELECT resource, hard_limit FROM quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := model.QuotaLimits{}
	for rows.Next() {
		var r string
		var v int
		if err := rows.Scan(&r, &v); err != nil {
			return nil, err
		}
		out[model.QuotaResource(r)] = v
	}
	return out, rows.Err()
}

// quotaUsage counts what projectID uses.
func quotaUsage(ctx context.Context, q querier, projectID string) (model.QuotaUsage, error) {
	var inst, repl, vol, bak int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN replica_of <> '' THEN 1 ELSE 0 END), 0), COALESCE(SUM(volume_size), 0)
		FROM instances WHERE tenant_id = ?`, projectID).Scan(&inst, &repl, &vol)
	if err != nil {
		return nil, err
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM backups WHERE tenant_id = ?`, projectID).Scan(&bak); err != nil {
		return nil, err
	}
	return model.QuotaUsage{model.QuotaInstances: inst, model.QuotaReplicas: repl, model.QuotaVolumes: vol, model.QuotaBackups: bak}, nil
}

// checkQuota is the check of quota q (nil: none) of a write adding add to
// projectID's usage, in the write's transaction tx: write transactions
// are serialised (BEGIN IMMEDIATE), so no other write changes the usage
// between this count and the commit.
func checkQuota(ctx context.Context, tx *sql.Tx, q *store.Quota, projectID string, add model.QuotaUsage) error {
	if q == nil {
		return nil
	}
	own, err := projectQuotas(ctx, tx, projectID)
	if err != nil {
		return err
	}
	usage, err := quotaUsage(ctx, tx, projectID)
	if err != nil {
		return err
	}
	return q.Check(own, usage, add)
}

// requireProject is the project check of quota q (see
// store.Quota.RequireProject): store.ErrNoProject unless projectID is a
// project. Write transactions are serialised (BEGIN IMMEDIATE), so a
// DeleteProjectIfUnused commits wholly before or after tx.
func requireProject(ctx context.Context, tx *sql.Tx, q *store.Quota, projectID string) error {
	if q == nil || !q.RequireProject {
		return nil
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM projects WHERE id = ?`, projectID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNoProject
	}
	return err
}

// ProjectQuotas implements store.Quotas.
func (s *Store) ProjectQuotas(ctx context.Context, projectID string) (model.QuotaLimits, error) {
	out, err := projectQuotas(ctx, s.db, projectID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: quotas of project %s: %w", projectID, err)
	}
	return out, nil
}

// SetProjectQuotas implements store.Quotas.
func (s *Store) SetProjectQuotas(ctx context.Context, projectID string, limits model.QuotaLimits) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for r, v := range limits {
			if _, err := tx.ExecContext(ctx, `INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
				ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, string(r), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set quotas of project %s: %w", projectID, err)
	}
	return nil
}

// QuotaUsage implements store.Quotas.
func (s *Store) QuotaUsage(ctx context.Context, projectID string) (model.QuotaUsage, error) {
	u, err := quotaUsage(ctx, s.db, projectID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: quota usage of project %s: %w", projectID, err)
	}
	return u, nil
}

// AllProjectQuotas implements store.Quotas.
func (s *Store) AllProjectQuotas(ctx context.Context) (map[string]model.QuotaLimits, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project_id, resource, hard_limit FROM quotas ORDER BY project_id, resource`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: all quotas: %w", err)
	}
	defer rows.Close()
	out := map[string]model.QuotaLimits{}
	for rows.Next() {
		var p, r string
		var v int
		if err := rows.Scan(&p, &r, &v); err != nil {
			return nil, fmt.Errorf("sqlite: all quotas: %w", err)
		}
		if out[p] == nil {
			out[p] = model.QuotaLimits{}
		}
		out[p][model.QuotaResource(r)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: all quotas: %w", err)
	}
	return out, nil
}

// admit is the check of every write that adds add to project projectID
// under quota q: the project check and the quota check,
// in the write's transaction tx.
func admit(ctx context.Context, tx *sql.Tx, q *store.Quota, projectID string, add model.QuotaUsage) error {
	if err := requireProject(ctx, tx, q, projectID); err != nil {
		return err
	}
	return checkQuota(ctx, tx, q, projectID, add)
}
