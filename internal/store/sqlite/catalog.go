package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlrow"
)

// PutFlavor implements store.Catalog.
func (s *Store) PutFlavor(ctx context.Context, f model.Flavor) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO flavors (id, name, ram, vcpus, disk) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, ram = excluded.ram,
			vcpus = excluded.vcpus, disk = excluded.disk`, f.ID, f.Name, f.RAM, f.VCPUs, f.Disk)
	if err != nil {
		return fmt.Errorf("sqlite: put flavor %d: %w", f.ID, err)
	}
	return nil
}

// ListFlavors implements store.Catalog; flavors are ordered by id.
func (s *Store) ListFlavors(ctx context.Context) ([]model.Flavor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, ram, vcpus, disk FROM flavors ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list flavors: %w", err)
	}
	defer rows.Close()
	var out []model.Flavor
	for rows.Next() {
		var f model.Flavor
		if err := rows.Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk); err != nil {
			return nil, fmt.Errorf("sqlite: list flavors: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list flavors: %w", err)
	}
	return out, nil
}

// GetFlavor implements store.Catalog.
func (s *Store) GetFlavor(ctx context.Context, id int) (*model.Flavor, error) {
	var f model.Flavor
	err := s.db.QueryRowContext(ctx, `SELECT id, name, ram, vcpus, disk FROM flavors WHERE id = ?`, id).
		Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get flavor %d: %w", id, err)
	}
	return &f, nil
}

// PutDatastoreVersion implements store.Catalog. A new datastore takes
// v.DatastoreID (a new UUID if empty) and a new version v.ID (likewise);
// existing ones, matched by name, keep their IDs.
func (s *Store) PutDatastoreVersion(ctx context.Context, v model.DatastoreVersion, makeDefault bool) (model.DatastoreVersion, error) {
	if v.DatastoreName == "" || v.Name == "" {
		return model.DatastoreVersion{}, fmt.Errorf("sqlite: put datastore version: empty datastore or version name")
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var dsID string
		err := tx.QueryRowContext(ctx, `SELECT id FROM datastores WHERE name = ?`, v.DatastoreName).Scan(&dsID)
		if errors.Is(err, sql.ErrNoRows) {
			dsID = v.DatastoreID
			if dsID == "" {
				dsID = uuid.NewString()
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO datastores (id, name) VALUES (?, ?)`, dsID, v.DatastoreName)
			if isUnique(err) {
				err = fmt.Errorf("datastore id %s: %w", dsID, store.ErrExists)
			}
		}
		if err != nil {
			return err
		}
		v.DatastoreID = dsID

		var verID string
		err = tx.QueryRowContext(ctx, `SELECT id FROM datastore_versions WHERE datastore_id = ? AND name = ?`,
			dsID, v.Name).Scan(&verID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if v.ID == "" {
				v.ID = uuid.NewString()
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO datastore_versions (id, datastore_id, name, version, engine, active)
				VALUES (?, ?, ?, ?, ?, ?)`, v.ID, dsID, v.Name, v.Version, v.Engine, v.Active)
			if isUnique(err) {
				err = fmt.Errorf("datastore version id %s: %w", v.ID, store.ErrExists)
			}
		case err == nil:
			v.ID = verID
			_, err = tx.ExecContext(ctx, `UPDATE datastore_versions SET version = ?, engine = ?, active = ?
				WHERE id = ?`, v.Version, v.Engine, v.Active, v.ID)
		}
		if err != nil {
			return err
		}
		if makeDefault {
			_, err = tx.ExecContext(ctx, `UPDATE datastores SET default_version_id = ? WHERE id = ?`, v.ID, dsID)
		}
		return err
	})
	if err != nil {
		return model.DatastoreVersion{}, fmt.Errorf("sqlite: put datastore version %s %s: %w", v.DatastoreName, v.Name, err)
	}
	return v, nil
}

// ListDatastores implements store.Catalog; datastores and their versions are
// ordered by name.
func (s *Store) ListDatastores(ctx context.Context) ([]model.Datastore, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.name, d.default_version_id,
			v.id, v.name, v.version, v.engine, v.active
		FROM datastores d LEFT JOIN datastore_versions v ON v.datastore_id = d.id
		ORDER BY d.name, v.name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list datastores: %w", err)
	}
	defer rows.Close()
	var out []model.Datastore
	for rows.Next() {
		var (
			d                    model.Datastore
			vID, vName, vVersion sql.NullString
			vEngine              sql.NullString
			vActive              sql.NullBool
		)
		if err := rows.Scan(&d.ID, &d.Name, &d.DefaultVersionID, &vID, &vName, &vVersion, &vEngine, &vActive); err != nil {
			return nil, fmt.Errorf("sqlite: list datastores: %w", err)
		}
		var v *model.DatastoreVersion
		if vID.Valid {
			v = &model.DatastoreVersion{ID: vID.String, Name: vName.String, Version: vVersion.String, Engine: vEngine.String, Active: vActive.Bool}
		}
		out = sqlrow.AppendDatastore(out, d, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list datastores: %w", err)
	}
	return out, nil
}
