package postgresql

import (
	"math"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.MemorySizer = (*Engine)(nil)

// memorySettings are the catalogue's settings that size memory, in the
// order a refusal names them, with their units in bytes (pg_settings.unit,
// with the default 8kB block size). See
// https://www.postgresql.org/docs/current/runtime-config-resource.html.
var memorySettings = []struct {
	name string
	unit float64
}{
	// Shared memory, allocated at start-up.
	{"shared_buffers", 8 << 10},
	{"wal_buffers", 8 << 10},
	// What one session may allocate: for a sort or hash, for temporary
	// tables, for a maintenance operation (VACUUM, CREATE INDEX), and an
	// autovacuum worker's.
	{"work_mem", 1 << 10},
	{"temp_buffers", 8 << 10},
	{"maintenance_work_mem", 1 << 10},
	{"autovacuum_work_mem", 1 << 10},
}

// MemoryUse implements datastore.MemorySizer with one use, if values set
// one of its settings: what the server needs to run one session of each
// kind, its shared memory (shared_buffers, wal_buffers) plus one work_mem,
// one temp_buffers, one maintenance_work_mem and one autovacuum_work_mem.
// Hoard's shared_buffers for ramMB (25%) counts where values leave it
// out; the other settings count only as values set them (the server's
// defaults are not judged). -1, PostgreSQL's automatic size, is 1/32 of
// shared_buffers (64kB to 16MB) for wal_buffers and maintenance_work_mem
// (counted already) for autovacuum_work_mem.
//
// Nothing is multiplied by max_connections or autovacuum_max_workers:
// those buffers are allocated on demand, and the product would refuse
// ordinary tuning (work_mem 8MB with hoard's 100 connections of a 512 MB
// flavor is 800MB; PostgreSQL's own 4MB default is already 400MB).
func (e *Engine) MemoryUse(values map[string]string, ramMB int) []datastore.MemoryUse {
	ram := min(max(ramMB, 0), maxRAMMB)
	defaults := map[string]string{"shared_buffers": strconv.Itoa(sharedBuffersMB(ram) * pagesPerMB)}
	var u datastore.MemoryUse
	var terms []string
	set := false
	sharedBuffers := -1.0
	for _, ms := range memorySettings {
		v, ok := values[ms.name]
		set = set || ok
		if !ok {
			v = defaults[ms.name]
		}
		if !numberRE.MatchString(v) {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		b := n * ms.unit
		switch {
		case n >= 0:
		case ms.name == "wal_buffers" && sharedBuffers >= 0:
			b = min(max(sharedBuffers/32, 64<<10), 16<<20)
		default:
			continue
		}
		if ms.name == "shared_buffers" {
			sharedBuffers = b
		}
		terms = append(terms, ms.name+" "+formatSize(b))
		u.Bytes += b
	}
	if !set || len(terms) == 0 {
		return nil
	}
	u.What = strings.Join(terms, " + ")
	return []datastore.MemoryUse{u}
}

// sizeUnits are PostgreSQL's memory units, largest first.
var sizeUnits = []struct {
	suffix string
	bytes  float64
}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}}

// formatSize writes bytes b as postgresql.conf would: with the largest
// unit that divides it ("64MB"), else in bytes ("100B").
func formatSize(b float64) string {
	for _, u := range sizeUnits {
		if b >= u.bytes && math.Trunc(b/u.bytes) == b/u.bytes {
			return strconv.FormatFloat(b/u.bytes, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(b, 'f', -1, 64) + "B"
}
