package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/summaries"
)

// The summary list view (GET /instances) is the largest and most frequent
// read of the API. Reading a page of 100 from SQLite costs far more than
// building and encoding it: stepping through 101 index entries in the
// SQLite virtual machine was about two thirds of the handler's CPU. So the
// store keeps each listed tenant's summaries in memory, in id order, and
// serves pages from there.
//
// A snapshot is tagged with the tenant's generation (the table
// instance_generations, raised by triggers on every change to the tenant's
// instances that the view can see, migration 0013) read before the
// snapshot's rows. A page comes from the snapshot only while the tenant's
// generation is still that number, read by the same request: after any
// committed change, the next list reads SQLite again. The snapshot is then
// rebuilt in the background, by one goroutine per tenant, while requests
// keep reading their page from SQLite as before; so no request waits for a
// whole tenant to be read.
//
// Reading the generation is itself a query, a quarter of a cached page's
// cost. So a snapshot found current stays trusted without it for as long
// as this Store commits no write (Store.writes; every write of this package
// goes through Store.write) and at most maxTrusted: hoard holds its data
// directory's lock, so no other hoard writes this database, and a change
// made behind the Store's back (by hand, with the sqlite3 shell) is seen
// within maxTrusted.

// instanceGeneration returns tenantID's generation (see the package's
// summary cache above).
func (s *Store) instanceGeneration(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.ro.QueryRowContext(ctx, `SELECT n FROM instance_generations WHERE tenant_id = ?`, tenantID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
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

// ListInstanceSummaries implements store.Instances. A Limit <= 0 means no
// limit. A tenant's page comes from its snapshot in memory when that is
// current (see the summary cache above); every tenant's (tenantID "") and
// pages without replicas are read from SQLite.
func (s *Store) ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error) {
	if tenantID == "" || page.SkipReplicas {
		return s.querySummaries(ctx, tenantID, page)
	}
	writes, now := s.writes.Load(), time.Now()
	if snap := s.sums.Last(tenantID); snap != nil && snap.Trusted(writes, now) {
		return snap.PageBytewise(page), nil
	}
	gen, err := s.instanceGeneration(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
	}
	if snap := s.sums.Get(tenantID, gen); snap != nil {
		snap.Checked(writes, now)
		return snap.PageBytewise(page), nil
	}
	s.sums.Refresh(tenantID, func(ctx context.Context) (*summaries.Snapshot, error) {
		return s.readSummaries(ctx, tenantID)
	})
	return s.querySummaries(ctx, tenantID, page)
}
