package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

var _ store.Quotas = (*Store)(nil)

// lockQuotaSpace is the first key of the two-key transaction advisory
// lock that serialises a project's quota-checked writes ("hoar"); the
// second is a hash of the project id. The two-key space is apart from the
// one-key space of the other locks (postgres.go).
const lockQuotaSpace int32 = 0x686f6172

// lockQuota serialises the quota-checked writes of projectID (nil q: no
// check, no lock) until tx ends. Every such write takes it first, before
// any row lock, so that two of them never wait for each other's rows.
func lockQuota(ctx context.Context, tx pgx.Tx, q *store.Quota, projectID string) error {
	if q == nil {
		return nil
	}
	return lockProject(ctx, tx, projectID)
}

// lockProject takes projectID's per-project lock until tx ends: the quota
// lock, which DeleteProjectIfUnused takes too, so that a quota-checked
// write of the project and the project's deletion never interleave.
func lockProject(ctx context.Context, tx pgx.Tx, projectID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockQuotaSpace, projectID)
	return err
}

// requireProject is the project check of quota q (see
// store.Quota.RequireProject): store.ErrNoProject unless projectID is a
// project. tx holds lockQuota, so a DeleteProjectIfUnused of the project
// either committed before (and, under READ COMMITTED, this read sees it)
// or waits until tx ends (and counts what tx adds); the key-share row
// lock also holds off a plain DeleteProject.
func requireProject(ctx context.Context, tx pgx.Tx, q *store.Quota, projectID string) error {
	if q == nil || !q.RequireProject {
		return nil
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM projects WHERE id = $1 FOR KEY SHARE`, projectID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNoProject
	}
	return err
}

// querier runs queries in a transaction or on the pool.
type querier interface {
	queryRower
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// projectQuotas reads the limits recorded for projectID.
func projectQuotas(ctx context.Context, q querier, projectID string) (model.QuotaLimits, error) {
	rows, err := q.Query(ctx, `SELECT resource, hard_limit FROM quotas WHERE project_id = $1`, projectID)
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
func quotaUsage(ctx context.Context, q queryRower, projectID string) (model.QuotaUsage, error) {
	var inst, repl, vol, bak int64
	err := q.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE replica_of <> ''), COALESCE(SUM(volume_size), 0)
		FROM instances WHERE tenant_id = $1`, projectID).Scan(&inst, &repl, &vol)
	if err != nil {
		return nil, err
	}
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM backups WHERE tenant_id = $1`, projectID).Scan(&bak); err != nil {
		return nil, err
	}
	return model.QuotaUsage{model.QuotaInstances: int(inst), model.QuotaReplicas: int(repl),
		model.QuotaVolumes: int(vol), model.QuotaBackups: int(bak)}, nil
}

// checkQuota is the check of quota q (nil: none) of a write adding add to
// projectID's usage, in the write's transaction tx, which holds lockQuota:
// no other quota-checked write of the project commits before tx ends, and
// under READ COMMITTED these reads see every one that committed before.
func checkQuota(ctx context.Context, tx pgx.Tx, q *store.Quota, projectID string, add model.QuotaUsage) error {
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

// ProjectQuotas implements store.Quotas.
func (s *Store) ProjectQuotas(ctx context.Context, projectID string) (model.QuotaLimits, error) {
	out, err := projectQuotas(ctx, s.pool, projectID)
	if err != nil {
		return nil, fmt.Errorf("postgres: quotas of project %s: %w", projectID, err)
	}
	return out, nil
}

// SetProjectQuotas implements store.Quotas.
func (s *Store) SetProjectQuotas(ctx context.Context, projectID string, limits model.QuotaLimits) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for r, v := range limits {
			if _, err := tx.Exec(ctx, `INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2, $3)
				ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, projectID, string(r), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: set quotas of project %s: %w", projectID, err)
	}
	return nil
}

// QuotaUsage implements store.Quotas.
func (s *Store) QuotaUsage(ctx context.Context, projectID string) (model.QuotaUsage, error) {
	u, err := quotaUsage(ctx, s.pool, projectID)
	if err != nil {
		return nil, fmt.Errorf("postgres: quota usage of project %s: %w", projectID, err)
	}
	return u, nil
}

// AllProjectQuotas implements store.Quotas.
func (s *Store) AllProjectQuotas(ctx context.Context) (map[string]model.QuotaLimits, error) {
	rows, err := s.pool.Query(ctx, `SELECT project_id, resource, hard_limit FROM quotas ORDER BY project_id, resource`)
	if err != nil {
		return nil, fmt.Errorf("postgres: all quotas: %w", err)
	}
	defer rows.Close()
	out := map[string]model.QuotaLimits{}
	for rows.Next() {
		var p, r string
		var v int
		if err := rows.Scan(&p, &r, &v); err != nil {
			return nil, fmt.Errorf("postgres: all quotas: %w", err)
		}
		if out[p] == nil {
			out[p] = model.QuotaLimits{}
		}
		out[p][model.QuotaResource(r)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: all quotas: %w", err)
	}
	return out, nil
}

// admit is the check of every write that adds add to project projectID
// under quota q: the project's quota lock, the project check and the quota check,
// in the write's transaction tx.
func admit(ctx context.Context, tx pgx.Tx, q *store.Quota, projectID string, add model.QuotaUsage) error {
	if err := lockQuota(ctx, tx, q, projectID); err != nil {
		return err
	}
	if err := requireProject(ctx, tx, q, projectID); err != nil {
		return err
	}
	return checkQuota(ctx, tx, q, projectID, add)
}
