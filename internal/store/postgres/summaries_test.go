package postgres

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/storetest"
)

// waitTrusted lists tenantID's summaries until a page comes from a
// snapshot trusted without a query (listener up, nothing changed since
// it was checked), or fails the test after a deadline.
func waitTrusted(t *testing.T, s *Store, tenantID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.ListInstanceSummaries(t.Context(), tenantID, store.Page{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		if snap := s.sums.Last(tenantID); snap != nil && s.listening.Load() && snap.Trusted(s.changes.Load(), time.Now()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s's summaries never served from a trusted snapshot", tenantID)
		}
		<-time.After(5 * time.Millisecond)
	}
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
	d, err := storetest.PagesDiff(all, 7,
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

// TestSummaryCache: pages served from memory are the database's; this
// store's own changes are seen by the very next list; another store's
// (another hoard process on the same database) are seen once notified.
func TestSummaryCache(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	mk := func(s *Store, tenant, id string) {
		t.Helper()
		inst := &model.Instance{ID: id, TenantID: tenant, Name: "n-" + id, Status: model.StatusBuild, FlavorID: 1,
			VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11", Created: time.Now(), Updated: time.Now()}
		if err := s.CreateInstance(ctx, inst, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Ids whose order is not the same under every collation.
	for i, id := range []string{"a-1", "a1", "A-2", "b", "B_3", "c.4", "0"} {
		mk(a, "t", id)
		mk(a, "u", fmt.Sprintf("u-%d", i))
	}
	waitTrusted(t, a, "t")
	if d := pagesDiff(t, a, "t"); d != "" {
		t.Fatal(d)
	}

	seen := func(s *Store, id string) bool {
		rows, err := s.ListInstanceSummaries(ctx, "t", store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.ID == id {
				return true
			}
		}
		return false
	}
	// Own change: the next list has it.
	mk(a, "t", "own")
	if !seen(a, "own") {
		t.Error("a store's own create is missing from its next list")
	}
	if _, err := a.UpdateInstance(ctx, "own", func(i *model.Instance) error { i.Name = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	rows, err := a.ListInstanceSummaries(ctx, "t", store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == "own" && r.Name != "renamed" {
			t.Errorf("a store's own rename is missing from its next list: %q", r.Name)
		}
	}

	// Another process's change: seen once its notification arrives.
	waitTrusted(t, a, "t")
	before := a.changes.Load()
	mk(b, "t", "other")
	// a learns of it by notification, not by its own writes or a timeout.
	deadline0 := time.Now().Add(5 * time.Second)
	for a.changes.Load() == before {
		if time.Now().After(deadline0) {
			t.Fatal("no notification of another store's create reached this store")
		}
		<-time.After(time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !seen(a, "other") {
		if time.Now().After(deadline) {
			t.Fatal("another store's create never showed in this store's list")
		}
		<-time.After(time.Millisecond)
	}
	if err := b.DeleteInstance(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for seen(a, "other") {
		if time.Now().After(deadline) {
			t.Fatal("another store's delete never showed in this store's list")
		}
		<-time.After(time.Millisecond)
	}
	waitTrusted(t, a, "t")
	if d := pagesDiff(t, a, "t"); d != "" {
		t.Fatal(d)
	}
	if d := pagesDiff(t, a, "u"); d != "" {
		t.Fatal(d)
	}
}

// TestGetInstanceAndReplicas: one batch gives what GetInstance and
// ListReplicas give.
func TestGetInstanceAndReplicas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	mk := func(id, replicaOf string) {
		t.Helper()
		inst := &model.Instance{ID: id, TenantID: "t", Name: id, Status: model.StatusActive, ReplicaOf: replicaOf,
			Created: time.Now(), Updated: time.Now()}
		if err := s.CreateInstance(ctx, inst, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	mk("src", "")
	mk("r2", "src")
	mk("r1", "src")
	mk("alone", "")
	for _, id := range []string{"src", "r1", "alone"} {
		wantInst, err := s.GetInstance(ctx, "t", id)
		if err != nil {
			t.Fatal(err)
		}
		wantReps, err := s.ListReplicas(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		inst, reps, err := s.GetInstanceAndReplicas(ctx, "t", id)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(wantInst, inst); d != "" {
			t.Errorf("GetInstanceAndReplicas(%s) instance (-want +got):\n%s", id, d)
		}
		if d := cmp.Diff(wantReps, reps); d != "" {
			t.Errorf("GetInstanceAndReplicas(%s) replicas (-want +got):\n%s", id, d)
		}
	}
	for _, tt := range []struct{ tenant, id string }{{"other", "src"}, {"t", "missing"}, {"", "missing"}} {
		if _, _, err := s.GetInstanceAndReplicas(ctx, tt.tenant, tt.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetInstanceAndReplicas(%q, %q) = %v, want ErrNotFound", tt.tenant, tt.id, err)
		}
	}
}
