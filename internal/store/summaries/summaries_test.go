package summaries

import (
	"context"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// TestCacheBound checks that the cache holds no more than
// MaxCached instances, dropping other tenants to make room.
func TestCacheBound(t *testing.T) {
	c := NewCache()
	defer c.Close()
	snap := func(n int) *Snapshot { return &Snapshot{Rows: make([]*model.Instance, n)} }
	c.Put("a", snap(MaxCached/2))
	c.Put("b", snap(MaxCached/2))
	c.Put("c", snap(1))
	if c.held > MaxCached || c.tenants["c"] == nil {
		t.Errorf("after three puts: %d held, c cached %v; want at most %d and c cached", c.held, c.tenants["c"] != nil, MaxCached)
	}
	c.Put("huge", snap(MaxCached+1))
	if c.tenants["huge"] != nil {
		t.Error("a tenant larger than the bound was cached")
	}
	c.Put("c", snap(3)) // replacing counts the old snapshot out
	total := 0
	for _, s := range c.tenants {
		total += len(s.Rows)
	}
	if total != c.held {
		t.Errorf("held = %d, the snapshots have %d", c.held, total)
	}
	c.Close()
	c.Refresh("d", func(context.Context) (*Snapshot, error) { t.Error("read after close"); return nil, nil })
}

// TestReadSpacing checks that a tenant is not read again sooner than
// readSpacing times its last read's duration after that read started.
func TestReadSpacing(t *testing.T) {
	c := NewCache()
	defer c.Close()
	reads := make(chan string, 4)
	readFn := func(context.Context) (*Snapshot, error) { reads <- "read"; return &Snapshot{}, nil }
	now := time.Now()
	c.mu.Lock()
	c.reads["slow"] = read{start: now, took: time.Hour}
	c.reads["fast"] = read{start: now.Add(-time.Minute), took: time.Second}
	c.mu.Unlock()
	c.Refresh("slow", readFn)
	c.Refresh("fast", readFn)
	c.Refresh("huge", func(context.Context) (*Snapshot, error) {
		return &Snapshot{Rows: make([]*model.Instance, MaxCached+1)}, nil
	})
	c.Close() // waits for the reads started
	if len(reads) != 1 {
		t.Errorf("%d reads started, want 1 (only the tenant whose last read is old enough)", len(reads))
	}
	if got := c.reads["huge"]; got.took != tooLargeWait/readSpacing || c.tenants["huge"] != nil {
		t.Errorf("a tenant too large to cache: read recorded as taking %v, cached %v; want %v, not cached",
			got.took, c.tenants["huge"] != nil, tooLargeWait/readSpacing)
	}
}

// TestPage: pages of a snapshot by bytewise search and by exact marker.
func TestPage(t *testing.T) {
	var rows []*model.Instance
	for _, id := range []string{"a", "b", "c", "d"} {
		rows = append(rows, &model.Instance{ID: id})
	}
	snap := &Snapshot{Rows: rows}
	ids := func(rs []*model.Instance) string {
		out := ""
		for _, r := range rs {
			out += r.ID
		}
		return out
	}
	tests := []struct {
		page        store.Page
		bytewise    string
		after       string
		afterExists bool
	}{
		{store.Page{}, "abcd", "abcd", true},
		{store.Page{Limit: 2}, "ab", "ab", true},
		{store.Page{Marker: "b", Limit: 1}, "c", "c", true},
		{store.Page{Marker: "d"}, "", "", true},
		{store.Page{Marker: "bb"}, "cd", "", false},
	}
	for _, tt := range tests {
		if got := ids(snap.PageBytewise(tt.page)); got != tt.bytewise {
			t.Errorf("PageBytewise(%+v) = %q, want %q", tt.page, got, tt.bytewise)
		}
		got, ok := snap.PageAfter(tt.page)
		if ids(got) != tt.after || ok != tt.afterExists {
			t.Errorf("PageAfter(%+v) = %q, %v, want %q, %v", tt.page, ids(got), ok, tt.after, tt.afterExists)
		}
	}
}
