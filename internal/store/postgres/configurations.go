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

var _ store.Configurations = (*Store)(nil)

const configurationCols = `id, tenant_id, name, description, datastore, datastore_version,
	datastore_version_id, vals, created, updated`

func scanConfiguration(row pgx.Row) (*model.Configuration, error) {
	var (
		c                model.Configuration
		vals             []byte
		created, updated *time.Time
	)
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Description, &c.Datastore, &c.DatastoreVersion,
		&c.DatastoreVersionID, &vals, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if c.Values, err = sqlrow.DecodeValues(c.ID, vals); err != nil {
		return nil, err
	}
	c.Created, c.Updated = fromTS(created), fromTS(updated)
	return &c, nil
}

func getConfiguration(ctx context.Context, q queryRower, tenantID, id string, lock bool) (*model.Configuration, error) {
	query := `SELECT ` + configurationCols + ` FROM configurations WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	c, err := scanConfiguration(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && tenantID != "" && c.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// CreateConfiguration implements store.Configurations.
func (s *Store) CreateConfiguration(ctx context.Context, c *model.Configuration) error {
	now := s.now()
	sqlrow.DefaultTimes(&c.Created, &c.Updated, now)
	vals, err := sqlrow.EncodeValues(c.Values)
	if err == nil {
		_, err = s.pool.Exec(ctx, `INSERT INTO configurations (`+configurationCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, c.ID, c.TenantID, c.Name, c.Description, c.Datastore,
			c.DatastoreVersion, c.DatastoreVersionID, vals, ts(c.Created), ts(c.Updated))
		if isUnique(err) {
			err = store.ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: create configuration %s: %w", c.ID, err)
	}
	return nil
}

// GetConfiguration implements store.Configurations.
func (s *Store) GetConfiguration(ctx context.Context, tenantID, id string) (*model.Configuration, error) {
	c, err := getConfiguration(ctx, s.pool, tenantID, id, false)
	if err != nil {
		return nil, fmt.Errorf("postgres: get configuration %s: %w", id, err)
	}
	return c, nil
}

// ListConfigurations implements store.Configurations.
func (s *Store) ListConfigurations(ctx context.Context, tenantID string, page store.Page) ([]*model.Configuration, error) {
	var limit any
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+configurationCols+` FROM configurations
		WHERE ($1 = '' OR tenant_id = $1) AND id > $2 ORDER BY id LIMIT $3`, tenantID, page.Marker, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list configurations: %w", err)
	}
	defer rows.Close()
	var out []*model.Configuration
	for rows.Next() {
		c, err := scanConfiguration(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list configurations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list configurations: %w", err)
	}
	return out, nil
}

// UpdateConfiguration implements store.Configurations.
func (s *Store) UpdateConfiguration(ctx context.Context, tenantID, id string, fn func(*model.Configuration) error) (*model.Configuration, error) {
	var out *model.Configuration
	err := s.tx(ctx, func(tx pgx.Tx) error {
		c, err := getConfiguration(ctx, tx, tenantID, id, true)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID = id
		c.Updated = s.now()
		vals, err := sqlrow.EncodeValues(c.Values)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE configurations SET name = $1, description = $2, vals = $3, updated = $4
			WHERE id = $5`, c.Name, c.Description, vals, ts(c.Updated), id); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: update configuration %s: %w", id, err)
	}
	return out, nil
}

// DeleteConfiguration implements store.Configurations. The group row is
// locked first; an attach that reads the group concurrently either
// finishes first (then the delete sees the instance) or finds it gone.
func (s *Store) DeleteConfiguration(ctx context.Context, tenantID, id string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := getConfiguration(ctx, tx, tenantID, id, true); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM instances WHERE configuration_id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrInUse
		}
		_, err := tx.Exec(ctx, `DELETE FROM configurations WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete configuration %s: %w", id, err)
	}
	return nil
}

// ConfigurationInstances implements store.Configurations.
func (s *Store) ConfigurationInstances(ctx context.Context, id string, page store.Page) ([]*model.Instance, error) {
	var limit any
	if page.Limit > 0 {
		limit = page.Limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+instanceCols+` FROM instances
		WHERE configuration_id = $1 AND id > $2 ORDER BY id LIMIT $3`, id, page.Marker, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: configuration instances: %w", err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: configuration instances: %w", err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: configuration instances: %w", err)
	}
	return out, nil
}

// CountConfigurationInstances implements store.Configurations.
func (s *Store) CountConfigurationInstances(ctx context.Context, id string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM instances WHERE configuration_id = $1`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count configuration instances: %w", err)
	}
	return n, nil
}

// PutParameters implements store.Configurations.
func (s *Store) PutParameters(ctx context.Context, versionID string, params []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO datastore_parameters (datastore_version_id, params, updated)
		VALUES ($1, $2, $3) ON CONFLICT (datastore_version_id) DO UPDATE SET params = excluded.params, updated = excluded.updated`,
		versionID, string(params), ts(s.now()))
	if err != nil {
		return fmt.Errorf("postgres: put parameters %s: %w", versionID, err)
	}
	return nil
}

// GetParameters implements store.Configurations.
func (s *Store) GetParameters(ctx context.Context, versionID string) ([]byte, error) {
	var p []byte
	err := s.pool.QueryRow(ctx, `SELECT params FROM datastore_parameters WHERE datastore_version_id = $1`, versionID).Scan(&p)
	if err != nil {
		return nil, fmt.Errorf("postgres: parameters %s: %w", versionID, noRows(err))
	}
	return p, nil
}

// ListParameters implements store.Configurations.
func (s *Store) ListParameters(ctx context.Context) ([]store.ParameterSet, error) {
	rows, err := s.pool.Query(ctx, `SELECT datastore_version_id, params, updated FROM datastore_parameters
		ORDER BY datastore_version_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list parameters: %w", err)
	}
	defer rows.Close()
	var out []store.ParameterSet
	for rows.Next() {
		var (
			p       store.ParameterSet
			updated *time.Time
		)
		if err := rows.Scan(&p.VersionID, &p.Params, &updated); err != nil {
			return nil, fmt.Errorf("postgres: list parameters: %w", err)
		}
		p.Updated = fromTS(updated)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list parameters: %w", err)
	}
	return out, nil
}

// InsertParameters implements store.Configurations.
func (s *Store) InsertParameters(ctx context.Context, p store.ParameterSet) error {
	if p.Updated.IsZero() {
		p.Updated = s.now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO datastore_parameters (datastore_version_id, params, updated)
		VALUES ($1, $2, $3)`, p.VersionID, string(p.Params), ts(p.Updated))
	if isUnique(err) {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("postgres: insert parameters %s: %w", p.VersionID, err)
	}
	return nil
}
