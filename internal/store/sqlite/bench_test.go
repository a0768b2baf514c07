package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

const benchRows = 10_000

// benchStore returns a store with benchRows instances of one tenant, with ids
// inst-00000 ... inst-09999.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := openTemp(b)
	ctx := b.Context()
	now := time.Now().UTC()
	// One transaction: inserting 10,000 rows one commit at a time is slow.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := range benchRows {
		inst := &model.Instance{
			ID: fmt.Sprintf("inst-%05d", i), TenantID: "tenant", Name: fmt.Sprintf("db-%d", i),
			Status: model.StatusActive, FlavorID: 1, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11",
			Address: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1), Port: 3306, AdminSecret: make([]byte, 64),
			Created: now, Updated: now,
		}
		args := instanceArgs(inst)
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
		if _, err := tx.ExecContext(ctx, `INSERT INTO instances (`+instanceCols+`) VALUES (`+marks+`)`, args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetInstance(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("inst-%05d", i*7919%benchRows)
		if _, err := s.GetInstance(ctx, "tenant", id); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// apiPage is the page the API asks the store for at limit=100: one more
// row, to know whether a next page exists.
const apiPage = 101

// benchList pages through the store with list, pages of limit rows from
// pseudo-random markers.
func benchList(b *testing.B, limit int, list func(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, error)) {
	ctx := b.Context()
	i := 0
	for b.Loop() {
		marker := fmt.Sprintf("inst-%05d", i*7919%(benchRows-limit))
		got, err := list(ctx, "tenant", store.Page{Marker: marker, Limit: limit})
		if err != nil || len(got) != limit {
			b.Fatalf("list = %d, %v", len(got), err)
		}
		i++
	}
}

func BenchmarkListInstances(b *testing.B) {
	s := benchStore(b)
	for _, limit := range []int{20, apiPage} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) { benchList(b, limit, s.ListInstances) })
	}
}

// BenchmarkListInstanceSummaries is the store's part of a page of the
// summary list view (GET /instances).
func BenchmarkListInstanceSummaries(b *testing.B) {
	s := benchStore(b)
	for _, limit := range []int{20, apiPage} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) { benchList(b, limit, s.ListInstanceSummaries) })
	}
}
