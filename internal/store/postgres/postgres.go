package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/summaries"
)

// Store is a [store.Store] backed by a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// now returns the current time; Updated and Created default to it.
	now func() time.Time

	// The summary list cache (summaries.go).
	sums       *summaries.Cache
	changes    atomic.Uint64 // see summaries.go
	listening  atomic.Bool
	listenOnce sync.Once
	stopListen context.CancelFunc
	listenDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL
// or a key=value connection string, as pgx accepts) and applies pending
// schema migrations. Several processes may Open the same database at once.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, -1)
}

// open connects and migrates to schema version target (-1: latest).
func open(ctx context.Context, dsn string, target int) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: never echo it.
		return nil, errors.New("postgres: open: invalid connection string")
	}
	pcfg.MaxConns = maxConns
	cfg := pcfg.ConnConfig
	p, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	s := &Store{pool: p, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }, sums: summaries.NewCache()}
	if err := s.migrate(ctx, target); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names the database of cfg for error messages, without credentials.
func where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// maxConns is the most connections one Store opens: several replicas share
// the server's max_connections (100 by default).
const maxConns = 10

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.listenOnce.Do(func() {}) // no listener starts from now on
	if s.stopListen != nil {
		s.stopListen()
		<-s.listenDone
	}
	s.sums.Close()
	s.pool.Close()
	return nil
}

// tx runs fn in a READ COMMITTED transaction and commits it if fn returns
// nil.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer s.changes.Add(1) // summaries.go
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Advisory lock keys (pg_advisory_lock's bigint space is shared by every
// client of the database: these are "hoard" plus a small number).
const (
	lockMigrate   int64 = 0x686f617264_01
	lockAddresses int64 = 0x686f617264_02
	lockCatalog   int64 = 0x686f617264_03
)

// xactLock takes transaction advisory lock key; it is released at commit or
// rollback.
func xactLock(ctx context.Context, tx pgx.Tx, key int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

// SQLSTATE codes this package branches on.
const (
	codeUnique     = "23505"
	codeForeignKey = "23503"
)

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool { return pgCode(err) == codeUnique }

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool { return pgCode(err) == codeForeignKey }

// constraint returns the constraint or index name of a violation, or "".
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// ts converts t to a stored timestamp: second precision, NULL for the zero
// time.
func ts(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

// fromTS converts a stored timestamp to a UTC time; NULL is the zero time.
func fromTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

// nullIfEmpty stores "" as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// noRows turns pgx.ErrNoRows into store.ErrNotFound.
func noRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
