package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
	"github.com/hoard-db/hoard/internal/datastore/redis"
)

// BenchmarkWarmPoolCreate measures create-to-ACTIVE through the API when
// the warm pool (--warm-pool) holds a started instance, against the bare
// init + first start by hand (BenchmarkTemplateCreate's baseline),
// interleaved in the same run. The create asks for the engine's database
// and user as a tenant's would (the baseline makes neither), and its time
// runs until a GET shows ACTIVE, polled every millisecond. Before each
// timed create the pool is full again (its refill, a whole create, is not
// timed). Run it with `make bench`, or
// `go test -run '^$' -bench BenchmarkWarmPoolCreate -benchtime 5x ./test/e2e/`.
func BenchmarkWarmPoolCreate(b *testing.B) {
	for _, c := range []struct {
		ds  string
		eng datastore.Engine
	}{
		{"mysql", mariadb.New(mariadb.Config{})},
		{"postgresql", postgresql.New(postgresql.Config{})},
		{"redis", redis.New(redis.Config{})},
	} {
		b.Run(c.ds, func(b *testing.B) { benchWarmCreate(b, c.ds, c.eng) })
	}
}

func benchWarmCreate(b *testing.B, ds string, eng datastore.Engine) {
	ctx := context.Background()
	if _, err := eng.Discover(ctx); err != nil {
		enginetest.Unavailable(b, "%s: %v", ds, err)
	}
	h := startHoardB(b, "HOARD_WARM_POOL="+ds+"=1,flavor=1,volume=1")
	sc := h.client(ctx)
	opts := createOpts("bench")
	for _, ec := range engineCases {
		if ec.datastore == ds {
			opts = ec.opts
		}
	}
	full := func() bool { return warmReady(h, ds) == 1 }

	bare, api := benchPoolCreates(ctx, b, sc, eng, opts, "bench-warm-"+ds, "the warm pool is full", full)
	bc, ac := median(bare), median(api)
	b.ReportMetric(ac.Seconds()/bc.Seconds(), "create/bare")
	b.ReportMetric(float64(ac.Microseconds())/1000, "create-ms")
	fmt.Printf("\n%-40s %12s %12s %8s\n", ds+" from the warm pool (median of "+strconv.Itoa(b.N)+")", "bare", "hoard API", "ratio")
	fmt.Printf("%-40s %12s %12s %8.2f\n", "create → ACTIVE", bc.Round(time.Millisecond), ac.Round(100*time.Microsecond), ac.Seconds()/bc.Seconds())
	fmt.Printf("samples: bare %v, hoard %v\n", bare, api)
}
