package redis

import (
	"math"
	"strconv"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.MemorySizer = (*Engine)(nil)

// MemoryUse implements datastore.MemorySizer: maxmemory, in bytes, is the
// one setting that sizes Redis's memory (the dataset; 0 is no limit, which
// counts as more than any RAM). The catalogue keeps maxmemory out (hoard
// sets it from the flavor, half the RAM), so no group sets it today; the
// check stands for the day it lets groups change it. Every other setting
// of the catalogue sizes encodings, not memory.
func (e *Engine) MemoryUse(values map[string]string, _ int) []datastore.MemoryUse {
	v, ok := values["maxmemory"]
	if !ok || !numberRE.MatchString(v) {
		return nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return nil
	}
	if n == 0 {
		return []datastore.MemoryUse{{What: "maxmemory 0 (no limit)", Bytes: math.Inf(1)}}
	}
	return []datastore.MemoryUse{{What: "maxmemory " + formatSize(n), Bytes: n}}
}

// formatSize writes bytes b as redis.conf would: with the largest unit
// that divides it ("100mb"), else in bytes.
func formatSize(b float64) string {
	for _, u := range []struct {
		suffix string
		bytes  float64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}} {
		if b >= u.bytes && math.Trunc(b/u.bytes) == b/u.bytes {
			return strconv.FormatFloat(b/u.bytes, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatFloat(b, 'f', -1, 64)
}
