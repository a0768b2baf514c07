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
		{"no memory values", map[string]string{"max_connections": "500", "autovacuum_max_workers": "10", "jit": "false"}, 512, nil},
		{"shared buffers in pages", map[string]string{"shared_buffers": "13107200"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 100GB", Bytes: 100 << 30}}},
		{"wal buffers beside hoard's shared buffers", map[string]string{"wal_buffers": "2048"}, 1024,
			[]datastore.MemoryUse{{What: "shared_buffers 256MB + wal_buffers 16MB", Bytes: 272 * mb}}},
		{"automatic wal buffers", map[string]string{"wal_buffers": "-1", "shared_buffers": "8192"}, 1024,
			[]datastore.MemoryUse{{What: "shared_buffers 64MB + wal_buffers 2MB", Bytes: 66 * mb}}},
		{"work_mem in kB", map[string]string{"work_mem": "1048576"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 128MB + work_mem 1GB", Bytes: 1152 * mb}}},
		{"connections do not multiply", map[string]string{"work_mem": "16384", "shared_buffers": "8192", "max_connections": "500"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 64MB + work_mem 16MB", Bytes: 80 * mb}}},
		{"odd work_mem", map[string]string{"work_mem": "1000"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 128MB + work_mem 1000kB", Bytes: 128*mb + 1000<<10}}},
		{"all of them", map[string]string{"shared_buffers": "16384", "wal_buffers": "512", "work_mem": "4096", "temp_buffers": "1024",
			"maintenance_work_mem": "65536", "autovacuum_work_mem": "131072"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 128MB + wal_buffers 4MB + work_mem 4MB + temp_buffers 8MB + " +
				"maintenance_work_mem 64MB + autovacuum_work_mem 128MB", Bytes: 336 * mb}}},
		{"autovacuum_work_mem -1 is maintenance_work_mem", map[string]string{"autovacuum_work_mem": "-1"}, 512,
			[]datastore.MemoryUse{{What: "shared_buffers 128MB", Bytes: 128 * mb}}},
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
// server's defaults, given as a group's values, fit in its RAM.
func TestMemoryUseDefaultsFit(t *testing.T) {
	t.Parallel()
	e := New(Config{})
	for _, ram := range []int{256, 512, 1024, 2048, 4096, 16384, 262144} {
		values := e.Defaults(datastore.Spec{RAMMB: ram, Port: 5432})
		// Server defaults (PostgreSQL 15).
		values["work_mem"], values["maintenance_work_mem"], values["temp_buffers"] = "4096", strconv.Itoa(64<<10), "1024"
		values["autovacuum_work_mem"], values["wal_buffers"] = "-1", "-1"
		uses := e.MemoryUse(values, ram)
		if len(uses) != 1 || uses[0].Bytes > float64(ram)*(1<<20) {
			t.Errorf("MemoryUse(defaults of %d MB) = %v, want one use within the RAM", ram, uses)
		}
	}
}
