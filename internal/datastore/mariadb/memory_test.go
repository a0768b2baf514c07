package mariadb

import (
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
		{"no memory values", map[string]string{"max_connections": "1000", "wait_timeout": "60"}, 512, nil},
		{"buffer pool", map[string]string{"innodb_buffer_pool_size": "107374182400"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 100G", Bytes: 100 << 30}}},
		{"key buffer beside hoard's buffer pool", map[string]string{"key_buffer_size": "419430400"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 256M + key_buffer_size 400M", Bytes: 656 * mb}}},
		{"hoard's buffer pool follows the RAM", map[string]string{"innodb_log_buffer_size": "16777216"}, 4096,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 2G + innodb_log_buffer_size 16M", Bytes: 2064 * mb}}},
		{"a connection's buffer beside hoard's buffer pool", map[string]string{"sort_buffer_size": "1073741824"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 256M + sort_buffer_size 1G", Bytes: 1280 * mb}}},
		{"connections do not multiply", map[string]string{"join_buffer_size": "1048576", "sort_buffer_size": "8388608", "max_connections": "1000"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 256M + sort_buffer_size 8M + join_buffer_size 1M", Bytes: 265 * mb}}},
		{"all of them", map[string]string{"innodb_buffer_pool_size": "1610612736", "key_buffer_size": "8388608", "innodb_log_buffer_size": "16777216",
			"sort_buffer_size": "2097152", "join_buffer_size": "262144", "read_buffer_size": "131072", "read_rnd_buffer_size": "262144"}, 1024,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 1536M + key_buffer_size 8M + innodb_log_buffer_size 16M + " +
				"sort_buffer_size 2M + join_buffer_size 256K + read_buffer_size 128K + read_rnd_buffer_size 256K", Bytes: 1562*mb + 640<<10}}},
		{"odd size in bytes", map[string]string{"key_buffer_size": "1000"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 256M + key_buffer_size 1000", Bytes: 256*mb + 1000}}},
		{"the largest value", map[string]string{"innodb_buffer_pool_size": "18446744073701163008"}, 512,
			[]datastore.MemoryUse{{What: "innodb_buffer_pool_size 17592186044408M", Bytes: 18446744073701163008}}},
		{"unparsable", map[string]string{"innodb_buffer_pool_size": "lots"}, 512, nil},
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
	for _, ram := range []int{512, 1024, 2048, 4096, 10240, 16384, 262144} {
		values := e.Defaults(datastore.Spec{RAMMB: ram, Port: 3306})
		// Server defaults of the other buffers (MariaDB 10.11).
		values["key_buffer_size"], values["innodb_log_buffer_size"] = "134217728", "16777216"
		values["sort_buffer_size"], values["join_buffer_size"] = "2097152", "262144"
		values["read_buffer_size"], values["read_rnd_buffer_size"] = "131072", "262144"
		uses := e.MemoryUse(values, ram)
		if len(uses) != 1 {
			t.Errorf("MemoryUse(defaults of %d MB) = %v, want 1 use", ram, uses)
		}
		for _, u := range uses {
			if u.Bytes > float64(ram)*(1<<20) {
				t.Errorf("MemoryUse(defaults of %d MB): %s = %.0f bytes, more than the RAM", ram, u.What, u.Bytes)
			}
		}
	}
}
