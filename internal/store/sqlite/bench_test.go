package sqlite

import (
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

func BenchmarkListInstances(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		marker := fmt.Sprintf("inst-%05d", i*7919%(benchRows-20))
		got, err := s.ListInstances(ctx, "tenant", store.Page{Marker: marker, Limit: 20})
		if err != nil || len(got) != 20 {
			b.Fatalf("ListInstances = %d, %v", len(got), err)
		}
		i++
	}
}
