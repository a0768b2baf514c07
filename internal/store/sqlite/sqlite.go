package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/summaries"
)

// busyTimeout is how long a connection waits for SQLite's write lock before
// failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is a [store.Store] backed by one SQLite database file.
type Store struct {
	db *sql.DB
	// ro runs the hot read-only queries as prepared statements, prepared
	// once per query (and per connection by database/sql).
	ro *cachedDB
	// sums holds the summaries of listed tenants (summaries.go).
	sums *summaries.Cache
	// writes counts the write transactions that ended (see write).
	writes atomic.Uint64
	// now returns the current time; Updated and Created default to it.
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// pending schema migrations. A path of ":memory:" gives a private in-memory
// database (one connection, so no concurrency), for tests.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, -1)
}

// makePrivate creates the database file at path readable by its owner only
// (SQLite gives its -wal and -shm files the database's mode), and closes an
// existing one and its companions to everybody else: the store holds
// password hashes, sealed secrets and tokens' hashes.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// open opens path and migrates it to schema version target (-1: latest).
func open(ctx context.Context, path string, target int) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	params := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_txlock=immediate", busyTimeout.Milliseconds())
	memory := path == ":memory:"
	var dsn string
	if memory {
		dsn = "file::memory:?" + params
	} else {
		if err := makePrivate(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		// The DSN is an SQLite URI: escape what would end the path.
		esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
		dsn = "file:" + esc + "?" + params + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		// Each connection to :memory: is a different database.
		db.SetMaxOpenConns(1)
	} else {
		// Keep every connection that may be opened: opening one costs a
		// schema read and the pragmas, and closing idle ones under load
		// made connections churn. Writers queue on BEGIN IMMEDIATE anyway.
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
	s.ro = &cachedDB{db: db}
	s.sums = summaries.NewCache()
	if err := s.migrate(ctx, target); err != nil {
		s.sums.Close()
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.sums.Close()
	s.ro.close()
	return s.db.Close()
}

// maxConns bounds the connections of a file database.
const maxConns = 16

// cachedDB is a querier whose statements are prepared once and reused:
// parsing SQL was a tenth of the CPU of a GET in the API benchmark.
type cachedDB struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func (c *cachedDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// QueryRowContext implements querier.
func (c *cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		// Let database/sql report the error through the Row.
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext runs a prepared query returning rows.
func (c *cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *cachedDB) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// write runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if fn
// returns nil. Every write to instances goes through write: s.writes,
// raised once the transaction has ended, tells the summary cache that it
// may have changed (summaries.go).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer s.writes.Add(1)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sqliteCode returns the extended result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// unix converts t to stored Unix seconds; the zero time is stored as 0.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix converts stored Unix seconds to a UTC time; 0 is the zero time.
func fromUnix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// nullIfEmpty stores "" as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
