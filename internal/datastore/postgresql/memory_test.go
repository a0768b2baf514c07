package postgresql

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestMemoryUse(t *testing.T) {
	t.Parallel()
	const mb = 1 << 20
	tests := []struct {
		name   string
		values map[string]string
		ramMB  int
		want   []datastore.MemoryUse
	}{
		{"no values", nil, 512, nil},
		{"no memory values", map[string]string{"max_connections": "500", "autovacuum_max_workers": "10", "temp_buffers": "1024"}, 512, nil},
		{"shared buffers in pages", map[string]string{"shared_buffers": "13107200"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 100GB", Bytes: 100 << 30}}},
		{"wal buffers beside hoard's shared buffers", map[string]string{"wal_buffers": "2048"}, 1024,
			[]datastore.MemoryUse{{What: "shared_buffers 256MB + wal_buffers 16MB", Bytes: 272 * mb}}},
		{"automatic wal buffers", map[string]string{"wal_buffers": "-1", "shared_buffers": "65536"}, 1024,
			[]datastore.MemoryUse{{What: "shared_buffers 512MB + wal_buffers 16MB", Bytes: 528 * mb}}},
		{"work_mem in kB times hoard's connections", map[string]string{"work_mem": "65536"}, 512,
			[]datastore.MemoryUse{{What: "work_mem 64MB × max_connections 100", Bytes: 6400 * mb}}},
		{"work_mem times the group's connections", map[string]string{"work_mem": "1000", "max_connections": "20"}, 512,
			[]datastore.MemoryUse{{What: "work_mem 1000kB × max_connections 20", Bytes: 20000 << 10}}},
		{"maintenance_work_mem and the autovacuum workers", map[string]string{"maintenance_work_mem": "262144"}, 512,
			[]datastore.MemoryUse{{What: "maintenance_work_mem 256MB + autovacuum_max_workers 3 × maintenance_work_mem 256MB", Bytes: 1024 * mb}}},
		{"autovacuum_work_mem", map[string]string{"autovacuum_work_mem": "1048576", "autovacuum_max_workers": "2"}, 512,
			[]datastore.MemoryUse{{What: "maintenance_work_mem 64MB + autovacuum_max_workers 2 × autovacuum_work_mem 1GB", Bytes: 2112 * mb}}},
		{"all three", map[string]string{"shared_buffers": "16384", "work_mem": "4096", "maintenance_work_mem": "65536", "autovacuum_work_mem": "-1"}, 512,
			[]datastore.MemoryUse{
				{What: "shared_buffers 128MB", Bytes: 128 * mb},
				{What: "work_mem 4MB × max_connections 100", Bytes: 400 * mb},
				{What: "maintenance_work_mem 64MB + autovacuum_max_workers 3 × maintenance_work_mem 64MB", Bytes: 256 * mb},
			}},
		{"unparsable", map[string]string{"work_mem": "0x10", "shared_buffers": "Inf"}, 512, nil},
	}
	e := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.MemoryUse(tt.values, tt.ramMB)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("MemoryUse(%v, %d) (-want +got):\n%s", tt.values, tt.ramMB, diff)
			}
		})
	}
}

// TestMemoryUseDefaultsFit: hoard's own settings for a flavor and the
// server's defaults, given as a group's values, always fit in its RAM.
func TestMemoryUseDefaultsFit(t *testing.T) {
	t.Parallel()
	e := New(Config{})
	for _, ram := range []int{512, 1024, 2048, 4096, 16384, 262144} {
		values := e.Defaults(datastore.Spec{RAMMB: ram, Port: 5432})
		// Server defaults (PostgreSQL 15).
		values["work_mem"], values["maintenance_work_mem"] = "4096", strconv.Itoa(64<<10)
		values["autovacuum_work_mem"], values["wal_buffers"], values["temp_buffers"] = "-1", "-1", "1024"
		uses := e.MemoryUse(values, ram)
		if len(uses) != 3 {
			t.Errorf("MemoryUse(defaults of %d MB) = %v, want 3 uses", ram, uses)
		}
		for _, u := range uses {
			if u.Bytes > float64(ram)*(1<<20) {
				t.Errorf("MemoryUse(defaults of %d MB): %s = %.0f bytes, more than the RAM", ram, u.What, u.Bytes)
			}
		}
	}
}
