package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
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

// maxCachedSummaries bounds the instances held in memory across tenants
// (about 500 bytes each, so 25 MB at most). A tenant larger than this is
// never cached.
const maxCachedSummaries = 50_000

// maxTrusted is how long a snapshot found current is served without
// reading its generation again while the Store commits nothing.
const maxTrusted = time.Second

// summaryCache holds the snapshots of the tenants that were listed.
type summaryCache struct {
	mu       sync.Mutex
	tenants  map[string]*summarySnapshot
	held     int             // instances in tenants
	building map[string]bool // tenants being read in the background
	// reads holds, per tenant, when its last background read started and
	// how long it took, to space reads out (see refresh).
	reads  map[string]summaryRead
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// summarySnapshot is every summary of one tenant at generation gen, in id
// order. Neither it nor its instances are modified once built.
type summarySnapshot struct {
	gen  int64
	rows []*model.Instance
	// checked is the last time the snapshot was found current.
	checked atomic.Pointer[summaryCheck]
}

// summaryCheck is when a snapshot was found current: at time at (before
// its generation was read), when the Store had committed writes writes.
type summaryCheck struct {
	writes uint64
	at     time.Time
}

// trusted reports whether snap may be served without reading its
// generation, the Store having committed writes writes.
func (snap *summarySnapshot) trusted(writes uint64, now time.Time) bool {
	c := snap.checked.Load()
	return c != nil && c.writes == writes && now.Sub(c.at) < maxTrusted
}

func newSummaryCache() *summaryCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &summaryCache{tenants: map[string]*summarySnapshot{}, building: map[string]bool{},
		reads: map[string]summaryRead{}, ctx: ctx, cancel: cancel}
}

// close stops the background reads and waits for them.
func (c *summaryCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// last returns tenantID's snapshot, current or not.
func (c *summaryCache) last(tenantID string) *summarySnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenants[tenantID]
}

// get returns tenantID's snapshot if it is at generation gen.
func (c *summaryCache) get(tenantID string, gen int64) *summarySnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap := c.tenants[tenantID]; snap != nil && snap.gen == gen {
		return snap
	}
	return nil
}

// put stores snap as tenantID's, making room if needed.
func (c *summaryCache) put(tenantID string, snap *summarySnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.tenants[tenantID]; old != nil {
		c.held -= len(old.rows)
		delete(c.tenants, tenantID)
	}
	if len(snap.rows) > maxCachedSummaries || c.closed {
		return
	}
	// Any other tenant's snapshot makes room: the next list of that tenant
	// reads it again.
	for t, old := range c.tenants {
		if c.held+len(snap.rows) <= maxCachedSummaries {
			break
		}
		c.held -= len(old.rows)
		delete(c.tenants, t)
	}
	c.tenants[tenantID] = snap
	c.held += len(snap.rows)
}

// summaryRead is when a background read of a tenant started and how long
// it took.
type summaryRead struct {
	start time.Time
	took  time.Duration
}

// readSpacing is how many times a background read's duration must pass
// between its start and the next read of the same tenant: a tenant whose
// instances change faster than it can be read is read at most a tenth of
// the time, and its lists meanwhile come from SQLite.
const readSpacing = 10

// refresh starts reading tenantID's snapshot in the background with read,
// unless a read of that tenant is under way or the last one is too recent
// (readSpacing).
func (c *summaryCache) refresh(tenantID string, read func(ctx context.Context) (*summarySnapshot, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if last, ok := c.reads[tenantID]; c.closed || c.building[tenantID] || (ok && now.Sub(last.start) < readSpacing*last.took) {
		return
	}
	c.building[tenantID] = true
	c.wg.Go(func() {
		snap, err := read(c.ctx)
		if err == nil {
			c.put(tenantID, snap)
		}
		// An error leaves the tenant uncached; the next list tries again.
		c.mu.Lock()
		delete(c.building, tenantID)
		if len(c.reads) >= maxReadRecords {
			clear(c.reads) // only spacing is lost
		}
		took := time.Since(now)
		if err == nil && len(snap.rows) > maxCachedSummaries {
			took = tooLargeWait / readSpacing // never cached: try again much later
		}
		c.reads[tenantID] = summaryRead{start: now, took: took}
		c.mu.Unlock()
	})
}

// tooLargeWait is how long a tenant found too large to cache is not read
// again.
const tooLargeWait = 10 * time.Minute

// maxReadRecords bounds summaryCache.reads.
const maxReadRecords = 10_000

// page returns the rows of snap after page.Marker, at most page.Limit of
// them (all if Limit <= 0). The instances are the snapshot's own, shared
// with every other caller (see store.Instances.ListInstanceSummaries).
func (snap *summarySnapshot) page(page store.Page) []*model.Instance {
	rows := snap.rows
	// IDs compare as SQLite's BINARY collation does: bytewise.
	i := sort.Search(len(rows), func(i int) bool { return rows[i].ID > page.Marker })
	end := len(rows)
	if page.Limit > 0 {
		end = min(end, i+page.Limit)
	}
	return rows[i:end:end] // an append by the caller copies
}

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
func (s *Store) readSummaries(ctx context.Context, tenantID string) (*summarySnapshot, error) {
	gen, err := s.instanceGeneration(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	list, err := s.querySummaries(ctx, tenantID, store.Page{})
	if err != nil {
		return nil, err
	}
	return &summarySnapshot{gen: gen, rows: list}, nil
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
	if snap := s.sums.last(tenantID); snap != nil && snap.trusted(writes, now) {
		return snap.page(page), nil
	}
	gen, err := s.instanceGeneration(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list instance summaries: %w", err)
	}
	if snap := s.sums.get(tenantID, gen); snap != nil {
		snap.checked.Store(&summaryCheck{writes: writes, at: now})
		return snap.page(page), nil
	}
	s.sums.refresh(tenantID, func(ctx context.Context) (*summarySnapshot, error) {
		return s.readSummaries(ctx, tenantID)
	})
	return s.querySummaries(ctx, tenantID, page)
}
