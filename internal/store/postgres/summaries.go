package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/summaries"
)

// The summary list view (GET /instances) is the largest and most frequent
// read of the API, and on this store every page was a round trip to the
// server (0.4–0.9 ms of wall time on a busy host for ~0.05 ms of query).
// So, as the SQLite store does, the store keeps each listed tenant's
// summaries in memory (package summaries), tagged with the tenant's
// generation (table instance_generations, raised by triggers on every
// change a list can see, migration 0016), and serves a page from memory
// only while the generation is still that number.
//
// Several hoard processes may share the database, so reading the
// generation is how a page learns of their changes: one small query
// instead of the page's. A snapshot found current is trusted without even
// that while the store counts no change (Store.changes): its own write
// transactions (Store.tx), and every notification on the channel
// hoard_instances, which the triggers send at each commit that changes
// instances and a connection of the store listens to (listen). Without a
// listening connection (not yet connected, or lost), nothing is trusted
// and every page reads the generation. A change committed by another
// process is therefore seen by this one's lists once its notification
// arrives (a millisecond or so); this process's own changes at once; and
// anything at most summaries.MaxTrusted late. A page whose marker is not
// an instance of the snapshot (deleted meanwhile) is read from the
// database: the rows are in the database's id order, which need not be
// bytewise (the column's collation).

// notifyChannel is the channel the triggers of migration 0016 notify.
const notifyChannel = "hoard_instances"

// ListInstanceSummaries implements store.Instances. A Limit <= 0 means no
// limit. A tenant's page comes from its snapshot in memory when that is
// current (see above); every tenant's (tenantID "") and pages without
// replicas are read from the database.
func (s *Store) ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	if tenantID == "" || page.SkipReplicas {
		return s.querySummaries(ctx, tenantID, page)
	}
	s.listenOnce.Do(s.startListening)
	changes, now := s.changes.Load(), time.Now()
	if s.listening.Load() {
		if snap := s.sums.Last(tenantID); snap != nil && snap.Trusted(changes, now) {
			if rows, ok := snap.PageAfter(page); ok {
				return rows, nil
			}
		}
	}
	gen, err := s.instanceGeneration(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list instance summaries: %w", err)
	}
	if snap := s.sums.Get(tenantID, gen); snap != nil {
		if rows, ok := snap.PageAfter(page); ok {
			snap.Checked(changes, now)
			return rows, nil
		}
	}
	s.sums.Refresh(tenantID, func(ctx context.Context) (*summaries.Snapshot, error) {
		return s.readSummaries(ctx, tenantID)
	})
	return s.querySummaries(ctx, tenantID, page)
}

// instanceGeneration returns tenantID's generation (0 without a row).
func (s *Store) instanceGeneration(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT n FROM instance_generations WHERE tenant_id = $1`, tenantID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// readSummaries reads every summary of tenantID, at the generation read
// first: a change committed in between raises the generation past the one
// the snapshot carries, so it is never served.
func (s *Store) readSummaries(ctx context.Context, tenantID string) (*summaries.Snapshot, error) {
	gen, err := s.instanceGeneration(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	list, err := s.querySummaries(ctx, tenantID, store.Page{})
	if err != nil {
		return nil, err
	}
	return &summaries.Snapshot{Gen: gen, Rows: list}, nil
}

// startListening starts the connection that listens for other processes'
// changes (at the first list: short-lived stores never open it).
func (s *Store) startListening() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopListen, s.listenDone = cancel, make(chan struct{})
	go s.listen(ctx)
}

// Listening backs off between attempts from listenRetryMin to
// listenRetryMax.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 5 * time.Second
)

// listen keeps a connection listening on notifyChannel until ctx ends,
// counting every notification (and every loss and gain of the connection)
// as a change.
func (s *Store) listen(ctx context.Context) {
	defer close(s.listenDone)
	wait := listenRetryMin
	for {
		connected := s.listenConn(ctx)
		s.listening.Store(false)
		s.changes.Add(1)
		if connected {
			wait = listenRetryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// listenConn connects, listens and counts notifications until the
// connection fails or ctx ends; it reports whether it was listening.
func (s *Store) listenConn(ctx context.Context) bool {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false
	}
	// Changes committed before LISTEN were not notified: whatever was
	// checked before is checked again.
	s.changes.Add(1)
	s.listening.Store(true)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true
		}
		s.changes.Add(1)
	}
}
