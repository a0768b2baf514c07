package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

const haCols = `id, tenant_id, name, address, spec, created, updated`

func scanHAGroup(row pgx.Row) (*model.HAGroup, error) {
	var (
		g                model.HAGroup
		spec             []byte
		created, updated *time.Time
	)
	if err := row.Scan(&g.ID, &g.TenantID, &g.Name, &g.Address, &spec, &created, &updated); err != nil {
		return nil, err
	}
	if err := sqlrow.SetHASpec(&g, spec); err != nil {
		return nil, fmt.Errorf("group %s: %w", g.ID, err)
	}
	g.Created, g.Updated = fromTS(created), fromTS(updated)
	return &g, nil
}

func getHAGroup(ctx context.Context, q queryRower, tenantID, id string, lock bool) (*model.HAGroup, error) {
	query := `SELECT ` + haCols + ` FROM ha_groups WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	g, err := scanHAGroup(q.QueryRow(ctx, query, id))
	if err != nil {
		return nil, noRows(err)
	}
	if tenantID != "" && g.TenantID != tenantID {
		return nil, store.ErrNotFound
	}
	return g, nil
}

// CreateHAGroup implements store.HAGroups.
func (s *Store) CreateHAGroup(ctx context.Context, g *model.HAGroup, candidates []string, source *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&g.Created, &g.Updated, now)
	sqlrow.DefaultTimes(&source.Created, &source.Updated, now)
	source.HAID = g.ID
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := admit(ctx, tx, q, source.TenantID, model.Usage(source)); err != nil {
			return err
		}
		// One group creation at a time picks an address.
		if _, err := tx.Exec(ctx, `LOCK TABLE ha_groups IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		g.Address = ""
		for _, c := range candidates {
			var taken bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ha_groups WHERE address = $1)`, c).Scan(&taken); err != nil {
				return err
			}
			if c != "" && !taken {
				g.Address = c
				break
			}
		}
		if g.Address == "" {
			return store.ErrNoAddress
		}
		spec, err := sqlrow.HASpec(g)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO ha_groups (`+haCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			g.ID, g.TenantID, g.Name, g.Address, spec, ts(g.Created), ts(g.Updated))
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
			instanceArgs(source)...)
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		task.InstanceID = source.ID
		return insertTask(ctx, tx, task, now)
	})
	if err != nil {
		return fmt.Errorf("postgres: create HA group %s: %w", g.ID, err)
	}
	return nil
}

// InsertHAGroup implements store.HAGroups.
func (s *Store) InsertHAGroup(ctx context.Context, g *model.HAGroup) error {
	sqlrow.DefaultTimes(&g.Created, &g.Updated, s.now())
	spec, err := sqlrow.HASpec(g)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO ha_groups (`+haCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		g.ID, g.TenantID, g.Name, g.Address, spec, ts(g.Created), ts(g.Updated))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: insert HA group %s: %w", g.ID, err)
	}
	return nil
}

// GetHAGroup implements store.HAGroups.
func (s *Store) GetHAGroup(ctx context.Context, tenantID, id string) (*model.HAGroup, error) {
	g, err := getHAGroup(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: get HA group %s: %w", id, err)
	}
	return g, nil
}

// ListHAGroups implements store.HAGroups.
func (s *Store) ListHAGroups(ctx context.Context, tenantID string) ([]*model.HAGroup, error) {
	q, args := `SELECT `+haCols+` FROM ha_groups ORDER BY id`, []any{}
	if tenantID != "" {
		q, args = `SELECT `+haCols+` FROM ha_groups WHERE tenant_id = $1 ORDER BY id`, []any{tenantID}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list HA groups: %w", err)
	}
	defer rows.Close()
	var out []*model.HAGroup
	for rows.Next() {
		g, err := scanHAGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list HA groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// UpdateHAGroup implements store.HAGroups.
func (s *Store) UpdateHAGroup(ctx context.Context, id string, fn func(*model.HAGroup) error) (*model.HAGroup, error) {
	var out *model.HAGroup
	err := s.tx(ctx, func(tx pgx.Tx) error {
		g, err := getHAGroup(ctx, tx, "", id, true)
		if err != nil {
			return err
		}
		if err := fn(g); err != nil {
			return err
		}
		g.ID = id
		g.Updated = s.now()
		spec, err := sqlrow.HASpec(g)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE ha_groups SET name = $1, spec = $2, updated = $3 WHERE id = $4`,
			g.Name, spec, ts(g.Updated), id); err != nil {
			return err
		}
		out = g
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update HA group %s: %w", id, err)
	}
	return out, nil
}

// DeleteHAGroup implements store.HAGroups.
func (s *Store) DeleteHAGroup(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM ha_groups WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: delete HA group %s: %w", id, err)
	}
	return nil
}

// ListHAMembers implements store.HAGroups.
func (s *Store) ListHAMembers(ctx context.Context, haID string) ([]*model.Instance, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+instanceCols+` FROM instances WHERE ha_id = $1 ORDER BY id`, haID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list HA members of %s: %w", haID, err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list HA members of %s: %w", haID, err)
		}
		out = append(out, inst)
	}
	return out, rows.Err()
}
