package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
// applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, s.pool)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func schemaVersion(ctx context.Context, q queryRower) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate applies the pending migrations up to version target (-1: all),
// each in its own transaction, holding a session advisory lock so that
// concurrent Opens by several replicas apply each migration once.
func (s *Store) migrate(ctx context.Context, target int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	conn := pc.Conn()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockMigrate); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A session lock outlives errors: release it before the
		// connection goes back to the pool. If this fails the connection
		// is broken, and closing it releases the lock.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockMigrate); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return schema.Apply(ctx, migrator{conn: conn, now: s.now}, ms, target)
}

// migrator is the [schema.Backend] of one connection.
type migrator struct {
	conn *pgx.Conn
	now  func() time.Time
}

// Version implements schema.Backend.
func (m migrator) Version(ctx context.Context) (int, error) { return schemaVersion(ctx, m.conn) }

// InTx implements schema.Backend.
func (m migrator) InTx(ctx context.Context, fn func(schema.Tx) error) error {
	return pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		return fn(migrationTx{tx: tx, now: m.now})
	})
}

// migrationTx is the [schema.Tx] of one migration.
type migrationTx struct {
	tx  pgx.Tx
	now func() time.Time
}

// Version implements schema.Tx.
func (t migrationTx) Version(ctx context.Context) (int, error) { return schemaVersion(ctx, t.tx) }

// Exec implements schema.Tx.
func (t migrationTx) Exec(ctx context.Context, sql string) error {
	_, err := t.tx.Exec(ctx, sql)
	return err
}

// Record implements schema.Tx.
func (t migrationTx) Record(ctx context.Context, version int) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		version, t.now())
	return err
}
