package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/storetest"
	"github.com/hoard-db/hoard/internal/store/summaries"
)

// waitCached lists tenantID's summaries until the page comes from a
// current snapshot in memory, or fails the test after a deadline.
func waitCached(t *testing.T, s *Store, tenantID string) {
	t.Helper()
	ctx := t.Context()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); <-tick.C {
		if _, err := s.ListInstanceSummaries(ctx, tenantID, store.Page{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		gen, err := s.instanceGeneration(ctx, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		if s.sums.Get(tenantID, gen) != nil {
			return
		}
	}
	t.Fatalf("tenant %s's summaries never cached", tenantID)
}

// pagesDiff compares the pages ListInstanceSummaries serves with those
// read from the database (storetest.PagesDiff) and returns the first
// difference ("" if none).
func pagesDiff(t *testing.T, s *Store, tenantID string) string {
	t.Helper()
	ctx := t.Context()
	all, err := s.querySummaries(ctx, tenantID, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := storetest.PagesDiff(all, 37,
		func(p store.Page) ([]*model.Instance, error) { return s.querySummaries(ctx, tenantID, p) },
		func(p store.Page) ([]*model.Instance, error) { return s.ListInstanceSummaries(ctx, tenantID, p) })
	if err != nil {
		t.Fatal(err)
	}
	if d != "" {
		return "tenant " + tenantID + ": " + d
	}
	return ""
}

func checkPages(t *testing.T, s *Store, tenantID string) {
	t.Helper()
	if d := pagesDiff(t, s, tenantID); d != "" {
		t.Fatal(d)
	}
}

// TestSummaryCache checks that pages served from memory are those SQLite
// gives, that every change the store makes is seen by the very next list,
// and that a change made in SQL behind the store's back is seen within
// summaries.MaxTrusted.
func TestSummaryCache(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	mk := func(tenant string, i int) *model.Instance {
		net := map[string]int{"t": 1, "u": 2}[tenant]
		return &model.Instance{ID: fmt.Sprintf("%s-%04d", tenant, i), TenantID: tenant, Name: fmt.Sprintf("db-%d", i),
			Status: model.StatusActive, FlavorID: 1 + i%3, VolumeSize: 1 + i%5, Datastore: "mysql", DatastoreVersion: "10.11",
			Address: fmt.Sprintf("127.%d.%d.%d", net, i/250, i%250), Created: now, Updated: now}
	}
	for i := range 250 {
		if err := s.CreateInstance(ctx, mk("t", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := s.CreateInstance(ctx, mk("u", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitCached(t, s, "t")
	waitCached(t, s, "u")
	checkPages(t, s, "t")
	if snap := s.sums.Last("t"); snap == nil || !snap.Trusted(s.writes.Load(), time.Now()) {
		t.Fatal("a current snapshot just checked is not trusted")
	}

	changes := []struct {
		name string
		fn   func() error
		raw  bool // made behind the store's back
	}{
		{"rename", func() error {
			_, err := s.UpdateInstance(ctx, "t-0010", func(i *model.Instance) error { i.Name = "renamed"; return nil })
			return err
		}, false},
		{"status", func() error {
			_, err := s.SetObservedStatus(ctx, "t-0011", []model.InstanceStatus{model.StatusActive}, model.StatusShutdown)
			return err
		}, false},
		{"create", func() error { return s.CreateInstance(ctx, mk("t", 1000), nil, nil) }, false},
		{"delete", func() error { return s.DeleteInstance(ctx, "t-0012") }, false},
		{"raw SQL", func() error {
			_, err := s.db.ExecContext(ctx, `UPDATE instances SET volume_size = 9 WHERE id = 't-0013'`)
			return err
		}, true},
		{"move to another tenant", func() error {
			_, err := s.db.ExecContext(ctx, `UPDATE instances SET tenant_id = 'u' WHERE id = 't-0014'`)
			return err
		}, true},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			waitCached(t, s, "t")
			waitCached(t, s, "u")
			if err := c.fn(); err != nil {
				t.Fatal(err)
			}
			if c.raw {
				for _, tenant := range []string{"t", "u"} {
					d := pagesDiff(t, s, tenant)
					tick := time.NewTicker(20 * time.Millisecond)
					for deadline := time.Now().Add(summaries.MaxTrusted + 5*time.Second); d != "" && time.Now().Before(deadline); {
						<-tick.C // polling, with a deadline
						d = pagesDiff(t, s, tenant)
					}
					tick.Stop()
					if d != "" {
						t.Fatal(d)
					}
				}
			} else {
				checkPages(t, s, "t") // at once: no waiting for the cache
				checkPages(t, s, "u")
			}
			waitCached(t, s, "t")
			checkPages(t, s, "t") // and from the new snapshot
		})
	}
}
