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

var _ store.Configurations = (*Store)(nil)

const configurationCols = `id, tenant_id, name, description, datastore, datastore_version,
	datastore_version_id, vals, created, updated`

func scanConfiguration(sc scanner) (*model.Configuration, error) {
	var (
		c                model.Configuration
		vals             string
		created, updated int64
	)
	if err := sc.Scan(&c.ID, &c.TenantID, &c.Name, &c.Description, &c.Datastore, &c.DatastoreVersion,
		&c.DatastoreVersionID, &vals, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if c.Values, err = sqlrow.DecodeValues(c.ID, []byte(vals)); err != nil {
		return nil, err
	}
	c.Created, c.Updated = fromUnix(created), fromUnix(updated)
	return &c, nil
}

func getConfiguration(ctx context.Context, q querier, tenantID, id string) (*model.Configuration, error) {
	c, err := scanConfiguration(q.QueryRowContext(ctx, `SELECT `+configurationCols+` FROM configurations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tenantID != "" && c.TenantID != tenantID) {
		return nil, store.ErrNotFound
	}
	return c, err
}

// CreateConfiguration implements store.Configurations.
func (s *Store) CreateConfiguration(ctx context.Context, c *model.Configuration) error {
	now := s.now()
	sqlrow.DefaultTimes(&c.Created, &c.Updated, now)
	vals, err := sqlrow.EncodeValues(c.Values)
	if err != nil {
		return fmt.Errorf("sqlite: create configuration %s: %w", c.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO configurations (`+configurationCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.TenantID, c.Name, c.Description, c.Datastore,
			c.DatastoreVersion, c.DatastoreVersionID, vals, unix(c.Created), unix(c.Updated))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create configuration %s: %w", c.ID, err)
	}
	return nil
}

// GetConfiguration implements store.Configurations.
func (s *Store) GetConfiguration(ctx context.Context, tenantID, id string) (*model.Configuration, error) {
	c, err := getConfiguration(ctx, s.db, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get configuration %s: %w", id, err)
	}
	return c, nil
}

// ListConfigurations implements store.Configurations.
func (s *Store) ListConfigurations(ctx context.Context, tenantID string, page store.Page) ([]*model.Configuration, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+configurationCols+` FROM configurations
		WHERE (? = '' OR tenant_id = ?) AND id > ? ORDER BY id LIMIT ?`, tenantID, tenantID, page.Marker, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list configurations: %w", err)
	}
	defer rows.Close()
	var out []*model.Configuration
	for rows.Next() {
		c, err := scanConfiguration(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list configurations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list configurations: %w", err)
	}
	return out, nil
}

// UpdateConfiguration implements store.Configurations.
func (s *Store) UpdateConfiguration(ctx context.Context, tenantID, id string, fn func(*model.Configuration) error) (*model.Configuration, error) {
	var out *model.Configuration
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := getConfiguration(ctx, tx, tenantID, id)
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
		if _, err := tx.ExecContext(ctx, `UPDATE configurations SET name = ?, description = ?, vals = ?, updated = ?
			WHERE id = ?`, c.Name, c.Description, vals, unix(c.Updated), id); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: update configuration %s: %w", id, err)
	}
	return out, nil
}

// DeleteConfiguration implements store.Configurations.
func (s *Store) DeleteConfiguration(ctx context.Context, tenantID, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := getConfiguration(ctx, tx, tenantID, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE configuration_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrInUse
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM configurations WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete configuration %s: %w", id, err)
	}
	return nil
}

// ConfigurationInstances implements store.Configurations.
func (s *Store) ConfigurationInstances(ctx context.Context, id string, page store.Page) ([]*model.Instance, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances
		WHERE configuration_id = ? AND id > ? ORDER BY id LIMIT ?`, id, page.Marker, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: configuration instances: %w", err)
	}
	defer rows.Close()
	var out []*model.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: configuration instances: %w", err)
		}
		out = append(out, inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: configuration instances: %w", err)
	}
	return out, nil
}

// CountConfigurationInstances implements store.Configurations.
func (s *Store) CountConfigurationInstances(ctx context.Context, id string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM instances WHERE configuration_id = ?`, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count configuration instances: %w", err)
	}
	return n, nil
}

// PutParameters implements store.Configurations.
func (s *Store) PutParameters(ctx context.Context, versionID string, params []byte) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO datastore_parameters (datastore_version_id, params, updated)
			VALUES (?, ?, ?) ON CONFLICT (datastore_version_id) DO UPDATE SET params = excluded.params, updated = excluded.updated`,
			versionID, string(params), unix(s.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put parameters %s: %w", versionID, err)
	}
	return nil
}

// GetParameters implements store.Configurations.
func (s *Store) GetParameters(ctx context.Context, versionID string) ([]byte, error) {
	var p string
	err := s.db.QueryRowContext(ctx, `SELECT params FROM datastore_parameters WHERE datastore_version_id = ?`, versionID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: parameters %s: %w", versionID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: parameters %s: %w", versionID, err)
	}
	return []byte(p), nil
}

// ListParameters implements store.Configurations.
func (s *Store) ListParameters(ctx context.Context) ([]store.ParameterSet, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT datastore_version_id, params, updated FROM datastore_parameters
		ORDER BY datastore_version_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list parameters: %w", err)
	}
	defer rows.Close()
	var out []store.ParameterSet
	for rows.Next() {
		var (
			p       store.ParameterSet
			params  string
			updated int64
		)
		if err := rows.Scan(&p.VersionID, &params, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list parameters: %w", err)
		}
		p.Params, p.Updated = []byte(params), fromUnix(updated)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list parameters: %w", err)
	}
	return out, nil
}

// InsertParameters implements store.Configurations.
func (s *Store) InsertParameters(ctx context.Context, p store.ParameterSet) error {
	if p.Updated.IsZero() {
		p.Updated = s.now()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO datastore_parameters (datastore_version_id, params, updated)
			VALUES (?, ?, ?)`, p.VersionID, string(p.Params), unix(p.Updated))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert parameters %s: %w", p.VersionID, err)
	}
	return nil
}
