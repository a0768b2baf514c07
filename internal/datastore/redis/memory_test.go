package redis

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestMemoryUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]string
		want   []datastore.MemoryUse
	}{
		{"no values", nil, nil},
		{"no memory values", map[string]string{"maxmemory-policy": "allkeys-lru", "hz": "100"}, nil},
		{"maxmemory", map[string]string{"maxmemory": "107374182400"}, []datastore.MemoryUse{{What: "maxmemory 100gb", Bytes: 100 << 30}}},
		{"odd maxmemory", map[string]string{"maxmemory": "1000"}, []datastore.MemoryUse{{What: "maxmemory 1000", Bytes: 1000}}},
		{"no limit", map[string]string{"maxmemory": "0"}, []datastore.MemoryUse{{What: "maxmemory 0 (no limit)", Bytes: math.Inf(1)}}},
		{"unparsable", map[string]string{"maxmemory": "1gb"}, nil},
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.MemoryUse(tt.values, 512)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MemoryUse(%v, 512) (-want +got):\n%s", tt.values, diff)
			}
		})
	}
}

// TestMemoryUseDefaultsFit: hoard's own maxmemory for a flavor fits in it.
func TestMemoryUseDefaultsFit(t *testing.T) {
	t.Parallel()
	e := New(Config{})
	for _, ram := range []int{64, 512, 1024, 16384, 262144} {
		uses := e.MemoryUse(e.Defaults(datastore.Spec{RAMMB: ram, Port: 6379}), ram)
		if len(uses) != 1 || uses[0].Bytes > float64(ram)*(1<<20) {
			t.Errorf("MemoryUse(defaults of %d MB) = %v, want one use within the RAM", ram, uses)
		}
	}
}
