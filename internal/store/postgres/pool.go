package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pool is a small connection pool of *pgx.Conn.
//
// pgx's own pool (pgxpool) needs github.com/jackc/puddle, which is not among
// this module's dependencies; this pool offers the few methods the store
// uses, with the same names. Every connection handed out goes back by
// exactly one release, done by the wrappers: after Scan of a [pgx.Row],
// after Close (or the last Next) of [pgx.Rows], after Commit or Rollback of
// a [pgx.Tx].
type pool struct {
	cfg  *pgx.ConnConfig
	slot chan struct{} // one token per open or opening connection

	mu     sync.Mutex
	idle   []idleConn
	closed bool
}

type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

// checkIdle is how long a connection may sit idle before it is pinged when
// it is taken again: the server or a proxy may have dropped it.
const checkIdle = 30 * time.Second

var errPoolClosed = errors.New("postgres: store is closed")

func newPool(cfg *pgx.ConnConfig, maxConns int) *pool {
	return &pool{cfg: cfg, slot: make(chan struct{}, maxConns)}
}

// acquire returns a connection for the caller's exclusive use, waiting for a
// free slot if maxConns are in use.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			<-p.slot
			return nil, errPoolClosed
		}
		var ic idleConn
		if n := len(p.idle); n > 0 {
			ic = p.idle[n-1]
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if ic.c == nil {
			break
		}
		if ic.c.IsClosed() {
			continue
		}
		if time.Since(ic.since) > checkIdle {
			if err := ic.c.Ping(ctx); err != nil {
				_ = ic.c.Close(context.WithoutCancel(ctx))
				continue
			}
		}
		return ic.c, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.slot
		return nil, err
	}
	return c, nil
}

// release gives c back. A connection that is broken, or left inside a
// transaction, is closed instead of reused.
func (p *pool) release(c *pgx.Conn) {
	defer func() { <-p.slot }()
	if c.IsClosed() || c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
}

// Close closes the idle connections; connections in use are closed when
// they are released.
func (p *pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = ic.c.Close(ctx)
		cancel()
	}
}

// Ping checks that a connection can be had and answers.
func (p *pool) Ping(ctx context.Context) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(c)
	return c.Ping(ctx)
}

// Exec runs one statement on a pooled connection.
func (p *pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer p.release(c)
	return c.Exec(ctx, sql, args...)
}

// QueryRow runs a query on a pooled connection; the connection goes back
// when the row is scanned.
func (p *pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := p.acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return &pooledRow{row: c.QueryRow(ctx, sql, args...), release: func() { p.release(c) }}
}

// Query runs a query on a pooled connection; the connection goes back when
// the rows are closed or read to the end.
func (p *pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		p.release(c)
		return nil, err
	}
	r := &pooledRows{Rows: rows}
	r.release = sync.OnceFunc(func() { rows.Close(); p.release(c) })
	return r, nil
}

// Begin starts a transaction on a pooled connection; the connection goes
// back at Commit or Rollback.
func (p *pool) Begin(ctx context.Context) (pgx.Tx, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		p.release(c)
		return nil, err
	}
	return &pooledTx{Tx: tx, release: sync.OnceFunc(func() { p.release(c) })}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type pooledRow struct {
	row     pgx.Row
	release func()
}

func (r *pooledRow) Scan(dest ...any) error {
	defer r.release()
	return r.row.Scan(dest...)
}

type pooledRows struct {
	pgx.Rows
	release func()
}

func (r *pooledRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.release()
	return false
}

func (r *pooledRows) Close() { r.release() }

type pooledTx struct {
	pgx.Tx
	release func()
}

func (t *pooledTx) Commit(ctx context.Context) error {
	defer t.release()
	return t.Tx.Commit(ctx)
}

func (t *pooledTx) Rollback(ctx context.Context) error {
	defer t.release()
	return t.Tx.Rollback(ctx)
}
