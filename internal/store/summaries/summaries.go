package summaries

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// MaxCached bounds the instances held in memory across tenants
// (about 500 bytes each, so 25 MB at most). A tenant larger than this is
// never cached.
const MaxCached = 50_000

// MaxTrusted is how long a snapshot found current is served without
// reading its generation again while the store counts no change.
const MaxTrusted = time.Second

// Cache holds the snapshots of the tenants that were listed.
type Cache struct {
	mu       sync.Mutex
	tenants  map[string]*Snapshot
	held     int             // instances in tenants
	building map[string]bool // tenants being read in the background
	// reads holds, per tenant, when its last background read started and
	// how long it took, to space reads out (see refresh).
	reads  map[string]read
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// Snapshot is every summary of one tenant at generation Gen, in the
// store's id order. Neither it nor its instances are modified once built.
type Snapshot struct {
	Gen  int64
	Rows []*model.Instance
	// checked is the last time the snapshot was found current.
	checked atomic.Pointer[check]
	// index maps ids to positions in Rows, built by the first PageAfter
	// with a marker.
	indexOnce sync.Once
	index     map[string]int
}

// check is when a snapshot was found current: at time at (before
// its generation was read), when the store had counted writes changes.
type check struct {
	writes uint64
	at     time.Time
}

// Trusted reports whether snap may be served without reading its
// generation, the store having counted writes changes.
func (snap *Snapshot) Trusted(writes uint64, now time.Time) bool {
	c := snap.checked.Load()
	return c != nil && c.writes == writes && now.Sub(c.at) < MaxTrusted
}

func NewCache() *Cache {
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{tenants: map[string]*Snapshot{}, building: map[string]bool{},
		reads: map[string]read{}, ctx: ctx, cancel: cancel}
}

// Close stops the background reads and waits for them.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// Last returns tenantID's snapshot, current or not.
func (c *Cache) Last(tenantID string) *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenants[tenantID]
}

// Get returns tenantID's snapshot if it is at generation gen.
func (c *Cache) Get(tenantID string, gen int64) *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap := c.tenants[tenantID]; snap != nil && snap.Gen == gen {
		return snap
	}
	return nil
}

// Put stores snap as tenantID's, making room if needed.
func (c *Cache) Put(tenantID string, snap *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.tenants[tenantID]; old != nil {
		c.held -= len(old.Rows)
		delete(c.tenants, tenantID)
	}
	if len(snap.Rows) > MaxCached || c.closed {
		return
	}
	// Any other tenant's snapshot makes room: the next list of that tenant
	// reads it again.
	for t, old := range c.tenants {
		if c.held+len(snap.Rows) <= MaxCached {
			break
		}
		c.held -= len(old.Rows)
		delete(c.tenants, t)
	}
	c.tenants[tenantID] = snap
	c.held += len(snap.Rows)
}

// read is when a background read of a tenant started and how long
// it took.
type read struct {
	start time.Time
	took  time.Duration
}

// readSpacing is how many times a background read's duration must pass
// between its start and the next read of the same tenant: a tenant whose
// instances change faster than it can be read is read at most a tenth of
// the time, and its lists meanwhile come from the database.
const readSpacing = 10

// Refresh starts reading tenantID's snapshot in the background with read,
// unless a read of that tenant is under way or the last one is too recent
// (readSpacing).
func (c *Cache) Refresh(tenantID string, readFn func(ctx context.Context) (*Snapshot, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if last, ok := c.reads[tenantID]; c.closed || c.building[tenantID] || (ok && now.Sub(last.start) < readSpacing*last.took) {
		return
	}
	c.building[tenantID] = true
	c.wg.Go(func() {
		snap, err := readFn(c.ctx)
		if err == nil {
			c.Put(tenantID, snap)
		}
		// An error leaves the tenant uncached; the next list tries again.
		c.mu.Lock()
		delete(c.building, tenantID)
		if len(c.reads) >= maxReadRecords {
			clear(c.reads) // only spacing is lost
		}
		took := time.Since(now)
		if err == nil && len(snap.Rows) > MaxCached {
			took = tooLargeWait / readSpacing // never cached: try again much later
		}
		c.reads[tenantID] = read{start: now, took: took}
		c.mu.Unlock()
	})
}

// tooLargeWait is how long a tenant found too large to cache is not read
// again.
const tooLargeWait = 10 * time.Minute

// maxReadRecords bounds Cache.reads.
const maxReadRecords = 10_000

// PageBytewise returns the rows of snap after page.Marker, at most
// page.Limit of them (all if Limit <= 0), for rows in bytewise id order
// (SQLite's BINARY collation). The instances are the snapshot's own,
// shared with every other caller (see
// store.Instances.ListInstanceSummaries).
func (snap *Snapshot) PageBytewise(page store.Page) []*model.Instance {
	rows := snap.Rows
	// IDs compare as SQLite's BINARY collation does: bytewise.
	i := sort.Search(len(rows), func(i int) bool { return rows[i].ID > page.Marker })
	end := len(rows)
	if page.Limit > 0 {
		end = min(end, i+page.Limit)
	}
	return rows[i:end:end] // an append by the caller copies
}

// Checked records that snap was found current at time at, the store
// having counted changes changes (see Trusted).
func (snap *Snapshot) Checked(changes uint64, at time.Time) {
	snap.checked.Store(&check{writes: changes, at: at})
}

// PageAfter returns the rows of snap after the row whose id is
// page.Marker (from the first if the marker is ""), at most page.Limit of
// them (all if Limit <= 0), whatever order the rows are in: the store's
// collation need not be bytewise. ok is false when the marker is not a
// row of snap (then the store must answer the page itself).
func (snap *Snapshot) PageAfter(page store.Page) (rows []*model.Instance, ok bool) {
	i := 0
	if page.Marker != "" {
		snap.indexOnce.Do(func() {
			snap.index = make(map[string]int, len(snap.Rows))
			for j, r := range snap.Rows {
				snap.index[r.ID] = j
			}
		})
		j, found := snap.index[page.Marker]
		if !found {
			return nil, false
		}
		i = j + 1
	}
	end := len(snap.Rows)
	if page.Limit > 0 {
		end = min(end, i+page.Limit)
	}
	return snap.Rows[i:end:end], true
}
