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

const haCols = `id, tenant_id, name, address, spec, created, updated`

func scanHAGroup(sc scanner) (*model.HAGroup, error) {
	var (
		g                model.HAGroup
		spec             string
		created, updated int64
	)
	if err := sc.Scan(&g.ID, &g.TenantID, &g.Name, &g.Address, &spec, &created, &updated); err != nil {
		return nil, err
	}
	if err := sqlrow.SetHASpec(&g, []byte(spec)); err != nil {
		return nil, fmt.Errorf("group %s: %w", g.ID, err)
	}
	g.Created, g.Updated = fromUnix(created), fromUnix(updated)
	return &g, nil
}

func getHAGroup(ctx context.Context, q querier, tenantID, id string) (*model.HAGroup, error) {
	g, err := scanHAGroup(q.QueryRowContext(ctx, `SELECT `+haCols+` FROM ha_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tenantID != "" && g.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return g, err
}

// CreateHAGroup implements store.HAGroups.
func (s *Store) CreateHAGroup(ctx context.Context, g *model.HAGroup, candidates []string, source *model.Instance, task *model.Task, q *store.Quota) error {
	now := s.now()
	sqlrow.DefaultTimes(&g.Created, &g.Updated, now)
	sqlrow.DefaultTimes(&source.Created, &source.Updated, now)
	source.HAID = g.ID
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := admit(ctx, tx, q, source.TenantID, model.Usage(source)); err != nil {
			return err
		}
		g.Address = ""
		for _, c := range candidates {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ha_groups WHERE address = ?`, c).Scan(&n); err != nil {
				return err
			}
			if c != "" && n == 0 {
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
		_, err = tx.ExecContext(ctx, `INSERT INTO ha_groups (`+haCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.TenantID, g.Name, g.Address, string(spec), unix(g.Created), unix(g.Updated))
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO instances (`+instanceCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, instanceArgs(source)...)
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
		return fmt.Errorf("sqlite: create HA group %s: %w", g.ID, err)
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
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ha_groups (`+haCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.TenantID, g.Name, g.Address, string(spec), unix(g.Created), unix(g.Updated))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert HA group %s: %w", g.ID, err)
	}
	return nil
}

// GetHAGroup implements store.HAGroups.
func (s *Store) GetHAGroup(ctx context.Context, tenantID, id string) (*model.HAGroup, error) {
	g, err := getHAGroup(ctx, s.db, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get HA group %s: %w", id, err)
	}
	return g, nil
}

// ListHAGroups implements store.HAGroups.
func (s *Store) ListHAGroups(ctx context.Context, tenantID string) ([]*model.HAGroup, error) {
	q, args := `SELECT `+haCols+` FROM ha_groups ORDER BY id`, []any{}
	if tenantID != "" {
		q, args = `SELECT `+haCols+` FROM ha_groups WHERE tenant_id = ? ORDER BY id`, []any{tenantID}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list HA groups: %w", err)
	}
	defer rows.Close()
	var out []*model.HAGroup
	for rows.Next() {
		g, err := scanHAGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list HA groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// UpdateHAGroup implements store.HAGroups.
func (s *Store) UpdateHAGroup(ctx context.Context, id string, fn func(*model.HAGroup) error) (*model.HAGroup, error) {
	var out *model.HAGroup
	err := s.write(ctx, func(tx *sql.Tx) error {
		g, err := getHAGroup(ctx, tx, "", id)
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
		if _, err := tx.ExecContext(ctx, `UPDATE ha_groups SET name = ?, spec = ?, updated = ? WHERE id = ?`,
			g.Name, string(spec), unix(g.Updated), id); err != nil {
			return err
		}
		out = g
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update HA group %s: %w", id, err)
	}
	return out, nil
}

// DeleteHAGroup implements store.HAGroups.
func (s *Store) DeleteHAGroup(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ha_groups WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete HA group %s: %w", id, err)
	}
	return nil
}

// ListHAMembers implements store.HAGroups.
func (s *Store) ListHAMembers(ctx context.Context, haID string) ([]*model.Instance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE ha_id = ? ORDER BY id`, haID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list HA members of %s: %w", haID, err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list HA members of %s: %w", haID, err)
		}
		out = append(out, inst)
	}
	return out, rows.Err()
}
