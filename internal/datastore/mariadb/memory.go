package mariadb

import (
	"math"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.MemorySizer = (*Engine)(nil)

// globalBuffers are the catalogue's buffers that the server allocates
// once, for the whole server: they must fit in the flavor's RAM together.
// See https://mariadb.com/kb/en/mariadb-memory-allocation/.
var globalBuffers = []string{"innodb_buffer_pool_size", "key_buffer_size", "innodb_log_buffer_size"}

// sessionBuffers are the catalogue's buffers that every connection may
// allocate (one of each, for a sort, a join or a scan): together, times
// max_connections, they must fit in the flavor's RAM. tmp_table_size and
// max_heap_table_size are left out: they bound in-memory temporary tables,
// which few connections hold at the same time.
var sessionBuffers = []string{"sort_buffer_size", "join_buffer_size", "read_buffer_size", "read_rnd_buffer_size"}

// MemoryUse implements datastore.MemorySizer with two uses: the global
// buffers (innodb_buffer_pool_size, key_buffer_size,
// innodb_log_buffer_size) if values set one, hoard's buffer pool for ramMB
// counting where values leave it out; and the per-connection buffers that
// values set times max_connections (the group's or hoard's for ramMB).
// Buffers that neither values nor hoard set count nothing: the server's
// defaults (key_buffer_size 128M, sort_buffer_size 2M, ...) are not
// judged, so max_connections alone is never refused.
func (e *Engine) MemoryUse(values map[string]string, ramMB int) []datastore.MemoryUse {
	ram := min(max(ramMB, 0), maxRAMMB)
	defaults := map[string]string{
		"innodb_buffer_pool_size": strconv.Itoa(bufferPoolMB(ram)) + "M",
		"max_connections":         strconv.Itoa(maxConnections(ram)),
	}
	value := func(name string) (float64, bool) {
		if v, ok := values[name]; ok {
			return parseSize(v)
		}
		return parseSize(defaults[name])
	}
	var uses []datastore.MemoryUse
	if u, ok := sumOf(globalBuffers, values, value); ok {
		uses = append(uses, u)
	}
	if u, ok := sumOf(sessionBuffers, values, value); ok {
		if conns, ok := value("max_connections"); ok {
			if strings.Contains(u.What, " + ") {
				u.What = "(" + u.What + ")"
			}
			u.What += " × max_connections " + strconv.FormatFloat(conns, 'f', -1, 64)
			u.Bytes *= conns
			uses = append(uses, u)
		}
	}
	return uses
}

// sumOf adds up the settings names (their value by value) if values sets
// at least one of them.
func sumOf(names []string, values map[string]string, value func(string) (float64, bool)) (datastore.MemoryUse, bool) {
	var u datastore.MemoryUse
	set := false
	var terms []string
	for _, n := range names {
		_, ok := values[n]
		set = set || ok
		if b, ok := value(n); ok {
			terms = append(terms, n+" "+formatSize(b))
			u.Bytes += b
		}
	}
	u.What = strings.Join(terms, " + ")
	return u, set && len(terms) > 0
}

// sizeUnits are the suffixes of my.cnf sizes, largest first.
var sizeUnits = []struct {
	suffix string
	bytes  float64
}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}

// parseSize reads a size in bytes: a canonical integer (a group value) or
// one with a K, M, G or T suffix (hoard's own settings, "256M").
func parseSize(s string) (float64, bool) {
	mult := 1.0
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.bytes
			break
		}
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f * mult, true
}

// formatSize writes bytes b as my.cnf would: with the largest suffix that
// divides it ("100G"), else in bytes.
func formatSize(b float64) string {
	for _, u := range sizeUnits {
		if b >= u.bytes && math.Trunc(b/u.bytes) == b/u.bytes {
			return strconv.FormatFloat(b/u.bytes, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(b, 'f', -1, 64)
}
