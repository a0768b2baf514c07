package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/hoard-db/hoard/internal/store"
)

func testSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, err := s.InitSetting(ctx, "node", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got != "a" {
		t.Fatalf("first InitSetting = %q, want a", got)
	}
	if got, err = s.InitSetting(ctx, "node", "b"); err != nil || got != "a" {
		t.Fatalf("second InitSetting = %q, %v; want a (written once)", got, err)
	}
	if got, err = s.InitSetting(ctx, "other", "c"); err != nil || got != "c" {
		t.Fatalf("InitSetting of another key = %q, %v; want c", got, err)
	}

	// Concurrent first writers all see one winner.
	const n = 8
	var wg sync.WaitGroup
	seen := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			seen[i], errs[i] = s.InitSetting(ctx, "race", string(rune('a'+i)))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[i] != seen[0] {
			t.Fatalf("concurrent InitSetting saw %q and %q", seen[0], seen[i])
		}
	}
}
