package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// The benchmarks of the SQLite store's reads (internal/store/sqlite's
// bench_test.go), on a pgtest server: the store's part of the API
// benchmark's requests (test/e2e BenchmarkAPIPostgresStore).

const benchRows = 10_000

// benchStore returns a store with benchRows instances of one tenant, with
// ids inst-00000 ... inst-09999, and the table analysed and vacuumed (as
// autovacuum would leave it), so that a page can be an index-only scan.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := openTemp(b)
	ctx := b.Context()
	now := time.Now().UTC()
	marks := make([]string, len(instanceArgs(&model.Instance{})))
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	insert := `INSERT INTO instances (` + instanceCols + `) VALUES (` + strings.Join(marks, ", ") + `)`
	// One transaction: inserting 10,000 rows one commit at a time is slow.
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for i := range benchRows {
			inst := &model.Instance{
				ID: fmt.Sprintf("inst-%05d", i), TenantID: "tenant", Name: fmt.Sprintf("db-%d", i),
				Status: model.StatusActive, FlavorID: 1, VolumeSize: 1, Datastore: "mysql", DatastoreVersion: "10.11",
				Address: fmt.Sprintf("127.1.%d.%d", i/250, i%250+1), Port: 3306, AdminSecret: make([]byte, 64),
				Created: now, Updated: now,
			}
			if _, err := tx.Exec(ctx, insert, instanceArgs(inst)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE instances`); err != nil {
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

// BenchmarkListInstanceSummaries is the store's part of a page of the
// summary list view (GET /instances).
func BenchmarkListInstanceSummaries(b *testing.B) {
	s := benchStore(b)
	for _, limit := range []int{20, apiPage} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) { benchList(b, limit, s.ListInstanceSummaries) })
	}
}
