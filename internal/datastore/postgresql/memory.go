package postgresql

import (
	"math"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.MemorySizer = (*Engine)(nil)

// memoryUnits are the units of the catalogue's memory settings, in bytes,
// as pg_settings.unit gives them with the default 8kB block size.
var memoryUnits = map[string]float64{
	"shared_buffers":       8 << 10,
	"wal_buffers":          8 << 10,
	"work_mem":             1 << 10,
	"maintenance_work_mem": 1 << 10,
	"autovacuum_work_mem":  1 << 10,
}

// Server defaults the maintenance use counts where neither the group nor
// hoard sets them (PostgreSQL 13 to 17).
const (
	defaultMaintenanceWorkMemKB = 64 << 10
	defaultAutovacuumWorkers    = 3
)

// MemoryUse implements datastore.MemorySizer with up to three uses, each
// only if values set one of its settings (see
// https://www.postgresql.org/docs/current/runtime-config-resource.html):
//
//   - shared memory, allocated at start-up: shared_buffers (hoard's 25% of
//     ramMB where values leave it out) and wal_buffers if values set it
//     (-1 is PostgreSQL's 1/32 of shared_buffers, 64kB to 16MB);
//   - the connections': work_mem if values set it, times max_connections
//     (the group's or hoard's for ramMB). A query may use several work_mem
//     (hash_mem_multiplier more for hashes): one per connection is a
//     floor, not a bound. temp_buffers is left out: only sessions that use
//     temporary tables allocate it, and its default (8MB) times hoard's
//     connections would not fit a 512 MB flavor;
//   - maintenance: maintenance_work_mem, plus autovacuum_max_workers times
//     autovacuum_work_mem (maintenance_work_mem where it is -1), which the
//     PostgreSQL documentation warns about; the server's defaults (64MB, 3
//     workers) count where values leave them out.
//
// max_connections or autovacuum_max_workers alone is never judged.
func (e *Engine) MemoryUse(values map[string]string, ramMB int) []datastore.MemoryUse {
	ram := min(max(ramMB, 0), maxRAMMB)
	defaults := map[string]string{
		"shared_buffers":         strconv.Itoa(sharedBuffersMB(ram) * pagesPerMB),
		"max_connections":        strconv.Itoa(maxConnections(ram)),
		"maintenance_work_mem":   strconv.Itoa(defaultMaintenanceWorkMemKB),
		"autovacuum_max_workers": strconv.Itoa(defaultAutovacuumWorkers),
	}
	// number returns a setting's value (the group's, else the default):
	// in bytes for a memory setting that is not negative.
	number := func(name string) (float64, bool) {
		v, ok := values[name]
		if !ok {
			v = defaults[name]
		}
		if !numberRE.MatchString(v) {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		if unit, ok := memoryUnits[name]; ok && f >= 0 {
			f *= unit
		}
		return f, true
	}
	set := func(names ...string) bool {
		for _, n := range names {
			if _, ok := values[n]; ok {
				return true
			}
		}
		return false
	}
	var uses []datastore.MemoryUse
	if set("shared_buffers", "wal_buffers") {
		var u use
		sb, sbOK := number("shared_buffers")
		if sbOK {
			u.add("shared_buffers", sb)
		}
		if wb, ok := number("wal_buffers"); ok && set("wal_buffers") {
			if wb < 0 && sbOK {
				wb = min(max(sb/32, 64<<10), 16<<20) // -1: PostgreSQL's automatic size
			}
			if wb >= 0 {
				u.add("wal_buffers", wb)
			}
		}
		uses = u.appendTo(uses)
	}
	if wm, ok := number("work_mem"); ok && set("work_mem") {
		if conns, ok := number("max_connections"); ok {
			uses = append(uses, datastore.MemoryUse{
				What:  "work_mem " + formatSize(wm) + " × max_connections " + strconv.FormatFloat(conns, 'f', -1, 64),
				Bytes: wm * conns,
			})
		}
	}
	if set("maintenance_work_mem", "autovacuum_work_mem") {
		var u use
		mwm, mwmOK := number("maintenance_work_mem")
		if mwmOK {
			u.add("maintenance_work_mem", mwm)
		}
		name := "autovacuum_work_mem"
		awm, awmOK := number(name)
		if !awmOK || awm < 0 { // -1: the workers use maintenance_work_mem
			name, awm, awmOK = "maintenance_work_mem", mwm, mwmOK
		}
		if workers, ok := number("autovacuum_max_workers"); ok && awmOK && awm >= 0 {
			u.terms = append(u.terms, "autovacuum_max_workers "+strconv.FormatFloat(workers, 'f', -1, 64)+" × "+name+" "+formatSize(awm))
			u.bytes += workers * awm
		}
		uses = u.appendTo(uses)
	}
	return uses
}

// use collects the terms of one datastore.MemoryUse.
type use struct {
	terms []string
	bytes float64
}

func (u *use) add(name string, b float64) {
	u.terms = append(u.terms, name+" "+formatSize(b))
	u.bytes += b
}

// appendTo appends u to uses unless it counts nothing.
func (u *use) appendTo(uses []datastore.MemoryUse) []datastore.MemoryUse {
	if len(u.terms) == 0 {
		return uses
	}
	return append(uses, datastore.MemoryUse{What: strings.Join(u.terms, " + "), Bytes: u.bytes})
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
