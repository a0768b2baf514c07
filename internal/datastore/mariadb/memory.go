package mariadb

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.MemorySizer = (*Engine)(nil)

// globalBuffers are the catalogue's buffers that the server allocates
// once, for the whole server. See
// https://mariadb.com/kb/en/mariadb-memory-allocation/.
var globalBuffers = []string{"innodb_buffer_pool_size", "key_buffer_size", "innodb_log_buffer_size"}

// sessionBuffers are the catalogue's buffers that a connection allocates
// when it needs them (a sort, a join, a scan). tmp_table_size and
// max_heap_table_size are left out: they bound in-memory temporary tables,
// which few statements create.
var sessionBuffers = []string{"sort_buffer_size", "join_buffer_size", "read_buffer_size", "read_rnd_buffer_size"}

// MemoryUse implements datastore.MemorySizer with one use, if values set
// one of its buffers: what the server needs to serve one connection, its
// global buffers (innodb_buffer_pool_size, key_buffer_size,
// innodb_log_buffer_size) plus one connection's buffers (sort_buffer_size,
// join_buffer_size, read_buffer_size, read_rnd_buffer_size). Hoard's
// buffer pool for ramMB counts where values leave it out; the other
// buffers count only as values set them (the server's defaults are not
// judged).
//
// The connection's buffers are not multiplied by max_connections: they
// are allocated on demand, seldom by every connection at once, and the
// product would refuse ordinary tuning of small flavors (sort_buffer_size
// 8M with hoard's 100 connections of a 512 MB flavor is 800M).
func (e *Engine) MemoryUse(values map[string]string, ramMB int) []datastore.MemoryUse {
	ram := min(max(ramMB, 0), maxRAMMB)
	defaults := map[string]string{"innodb_buffer_pool_size": strconv.Itoa(bufferPoolMB(ram)) + "M"}
	var u datastore.MemoryUse
	var terms []string
	set := false
	for _, name := range append(slices.Clone(globalBuffers), sessionBuffers...) {
		v, ok := values[name]
		set = set || ok
		if !ok {
			v = defaults[name]
		}
		if b, ok := parseSize(v); ok {
			terms = append(terms, name+" "+formatSize(b))
			u.Bytes += b
		}
	}
	if !set || len(terms) == 0 {
		return nil
	}
	u.What = strings.Join(terms, " + ")
	return []datastore.MemoryUse{u}
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
