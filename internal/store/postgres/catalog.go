package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

// PutFlavor implements store.Catalog.
func (s *Store) PutFlavor(ctx context.Context, f model.Flavor) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO flavors (id, name, ram, vcpus, disk) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, ram = excluded.ram,
			vcpus = excluded.vcpus, disk = excluded.disk`, f.ID, f.Name, f.RAM, f.VCPUs, f.Disk)
	if err != nil {
		return fmt.Errorf("postgres: put flavor %d: %w", f.ID, err)
	}
	return nil
}

// ListFlavors implements store.Catalog; flavors are ordered by id.
func (s *Store) ListFlavors(ctx context.Context) ([]model.Flavor, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, ram, vcpus, disk FROM flavors ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list flavors: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.Flavor, error) {
		var f model.Flavor
		err := row.Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list flavors: %w", err)
	}
	return out, nil
}

// GetFlavor implements store.Catalog.
func (s *Store) GetFlavor(ctx context.Context, id int) (*model.Flavor, error) {
	var f model.Flavor
	err := s.pool.QueryRow(ctx, `SELECT id, name, ram, vcpus, disk FROM flavors WHERE id = $1`, id).
		Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk)
	if err != nil {
		return nil, fmt.Errorf("postgres: get flavor %d: %w", id, noRows(err))
	}
	return &f, nil
}

// PutDatastoreVersion implements store.Catalog. A new datastore takes
// v.DatastoreID (a new UUID if empty) and a new version v.ID (likewise);
// existing ones, matched by name, keep their IDs. Catalog writes serialise
// on an advisory lock, so replicas seeding the catalog at once agree on IDs.
func (s *Store) PutDatastoreVersion(ctx context.Context, v model.DatastoreVersion, makeDefault bool) (model.DatastoreVersion, error) {
	if v.DatastoreName == "" || v.Name == "" {
		return model.DatastoreVersion{}, fmt.Errorf("postgres: put datastore version: empty datastore or version name")
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := xactLock(ctx, tx, lockCatalog); err != nil {
			return err
		}
		var dsID string
		err := tx.QueryRow(ctx, `SELECT id FROM datastores WHERE name = $1`, v.DatastoreName).Scan(&dsID)
		if errors.Is(err, pgx.ErrNoRows) {
			dsID = v.DatastoreID
			if dsID == "" {
				dsID = uuid.NewString()
			}
			_, err = tx.Exec(ctx, `INSERT INTO datastores (id, name) VALUES ($1, $2)`, dsID, v.DatastoreName)
			if isUnique(err) {
				err = fmt.Errorf("datastore id %s: %w", dsID, store.ErrExists)
			}
		}
		if err != nil {
			return err
		}
		v.DatastoreID = dsID
		var verID string
		err = tx.QueryRow(ctx, `SELECT id FROM datastore_versions WHERE datastore_id = $1 AND name = $2`,
			dsID, v.Name).Scan(&verID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if v.ID == "" {
				v.ID = uuid.NewString()
			}
			_, err = tx.Exec(ctx, `INSERT INTO datastore_versions (id, datastore_id, name, version, engine, active)
				VALUES ($1, $2, $3, $4, $5, $6)`, v.ID, dsID, v.Name, v.Version, v.Engine, v.Active)
			if isUnique(err) {
				err = fmt.Errorf("datastore version id %s: %w", v.ID, store.ErrExists)
			}
		case err == nil:
			v.ID = verID
			_, err = tx.Exec(ctx, `UPDATE datastore_versions SET version = $1, engine = $2, active = $3
				WHERE id = $4`, v.Version, v.Engine, v.Active, v.ID)
		}
		if err != nil {
			return err
		}
		if makeDefault {
			_, err = tx.Exec(ctx, `UPDATE datastores SET default_version_id = $1 WHERE id = $2`, v.ID, dsID)
		}
		return err
	})
	if err != nil {
		return model.DatastoreVersion{}, fmt.Errorf("postgres: put datastore version %s %s: %w", v.DatastoreName, v.Name, err)
	}
	return v, nil
}

// ListDatastores implements store.Catalog; datastores and their versions are
// ordered by name.
func (s *Store) ListDatastores(ctx context.Context) ([]model.Datastore, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.name, d.default_version_id,
			v.id, v.name, v.version, v.engine, v.active
		FROM datastores d LEFT JOIN datastore_versions v ON v.datastore_id = d.id
		ORDER BY d.name, v.name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list datastores: %w", err)
	}
	defer rows.Close()
	var out []model.Datastore
	for rows.Next() {
		var (
			d                             model.Datastore
			vID, vName, vVersion, vEngine *string
			vActive                       *bool
		)
		if err := rows.Scan(&d.ID, &d.Name, &d.DefaultVersionID, &vID, &vName, &vVersion, &vEngine, &vActive); err != nil {
			return nil, fmt.Errorf("postgres: list datastores: %w", err)
		}
		var v *model.DatastoreVersion
		if vID != nil {
			v = &model.DatastoreVersion{ID: *vID, Name: *vName, Version: *vVersion, Engine: *vEngine, Active: *vActive}
		}
		out = sqlrow.AppendDatastore(out, d, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list datastores: %w", err)
	}
	return out, nil
}
