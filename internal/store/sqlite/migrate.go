package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/store/schema"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]schema.Migration, error) {
	return schema.Load(migrationFS, "migrations")
}

// LatestSchemaVersion is the schema version this package migrates to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are broken: a programmer error
	}
	return len(ms)
}

// SchemaVersion returns the version of the database's schema: the highest
// applied migration, 0 for an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate applies the pending migrations up to version target (-1: all),
// each in its own transaction.
func (s *Store) migrate(ctx context.Context, target int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return schema.Apply(ctx, migrator{s}, ms, target)
}

// migrator is the [schema.Backend] of a Store.
type migrator struct{ s *Store }

// Version implements schema.Backend.
func (m migrator) Version(ctx context.Context) (int, error) { return schemaVersion(ctx, m.s.db) }

// InTx implements schema.Backend.
func (m migrator) InTx(ctx context.Context, fn func(schema.Tx) error) error {
	return m.s.write(ctx, func(tx *sql.Tx) error {
		return fn(migrationTx{tx: tx, now: m.s.now})
	})
}

// migrationTx is the [schema.Tx] of one migration.
type migrationTx struct {
	tx  *sql.Tx
	now func() time.Time
}

// Version implements schema.Tx.
func (t migrationTx) Version(ctx context.Context) (int, error) { return schemaVersion(ctx, t.tx) }

// Exec implements schema.Tx.
func (t migrationTx) Exec(ctx context.Context, query string) error {
	_, err := t.tx.ExecContext(ctx, query)
	return err
}

// Record implements schema.Tx.
func (t migrationTx) Record(ctx context.Context, version int) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, unix(t.now()))
	return err
}
