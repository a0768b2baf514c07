package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
)

// BenchmarkTemplateCreate measures create-to-ACTIVE through the API when
// the template pool (--template-pool, default 2) holds a pre-initialised
// data directory, against the bare init + first start by hand (as
// BenchmarkMariaDBCreateRestart's baseline), interleaved in the same run.
// Before each timed create the pool is full again: the refill after the
// previous create (a niced init in the background) is not timed, as a
// create on a host whose pool has had its seconds to refill. The goal is
// a ratio of at most 0.5. Run it with `make bench`, or
// `go test -run '^$' -bench BenchmarkTemplateCreate -benchtime 3x ./test/e2e/`.
func BenchmarkTemplateCreate(b *testing.B) {
	for _, c := range []struct {
		ds  string
		eng datastore.Engine
	}{
		{"mysql", mariadb.New(mariadb.Config{})},
		{"postgresql", postgresql.New(postgresql.Config{})},
	} {
		b.Run(c.ds, func(b *testing.B) { benchTemplateCreate(b, c.ds, c.eng) })
	}
}

func benchTemplateCreate(b *testing.B, ds string, eng datastore.Engine) {
	ctx := context.Background()
	if _, err := eng.Discover(ctx); err != nil {
		enginetest.Unavailable(b, "%s: %v", ds, err)
	}
	const pool = 2
	h := startHoardB(b, "HOARD_TEMPLATE_POOL="+strconv.Itoa(pool))
	sc := h.client(ctx)
	opts := createOpts("bench")
	for _, ec := range engineCases {
		if ec.datastore == ds {
			opts = ec.opts
		}
	}
	opts.Databases, opts.Users = nil, nil
	poolDir := filepath.Join(h.dataDir, "instances", ".templates")
	full := func() bool {
		for i := 0; i < pool; i++ {
			if _, err := os.Stat(filepath.Join(poolDir, fmt.Sprintf("%s-%d", eng.Name(), i), "manifest.json")); err != nil {
				return false
			}
		}
		return true
	}

	bare, api := benchPoolCreates(ctx, b, sc, eng, opts, "bench-tmpl-"+ds, "the template pool is full", full)
	bc, ac := median(bare), median(api)
	b.ReportMetric(ac.Seconds()/bc.Seconds(), "create/bare")
	fmt.Printf("\n%-40s %12s %12s %8s\n", ds+" from the pool (median of "+strconv.Itoa(b.N)+")", "bare", "hoard API", "ratio")
	fmt.Printf("%-40s %12s %12s %8.2f\n", "create → ACTIVE", bc.Round(time.Millisecond), ac.Round(time.Millisecond), ac.Seconds()/bc.Seconds())
	fmt.Printf("samples: bare %v, hoard %v\n", bare, api)
}

// benchPoolCreates times, b.N times, the bare init + first start of eng by
// hand and a create of opts through the API until a GET shows ACTIVE,
// polled every millisecond (then deleted, untimed). Before each, it waits
// until full reports the pool being measured full again (untimed).
func benchPoolCreates(ctx context.Context, b *testing.B, sc *gophercloud.ServiceClient, eng datastore.Engine,
	opts instances.CreateOpts, name, fullWhat string, full func() bool) (bare, api []time.Duration) {
	b.Helper()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		waitFor(b, 5*time.Minute, fullWhat, full)
		b.StartTimer()
		m := newBareEngine(b, eng)
		d0 := time.Now()
		m.init(b)
		m.start(b)
		m.waitReady(b)
		bare = append(bare, time.Since(d0))
		m.stop(b)
		m.cleanup()

		b.StopTimer()
		waitFor(b, 5*time.Minute, fullWhat, full)
		b.StartTimer()
		o := opts
		o.Name = fmt.Sprintf("%s-%d", name, i)
		d0 = time.Now()
		inst, err := instances.Create(ctx, sc, o).Extract()
		if err != nil {
			b.Fatal(err)
		}
		for {
			got, err := instances.Get(ctx, sc, inst.ID).Extract()
			if err == nil && got.Status == "ACTIVE" {
				break
			}
			if err == nil && (got.Status == "ERROR" || got.Status == "FAILED") || time.Since(d0) > activeTimeout {
				b.Fatalf("instance %s: %v, %v", inst.ID, got, err)
			}
			pollPause(time.Millisecond) // the measurement's resolution
		}
		api = append(api, time.Since(d0))
		b.StopTimer()
		if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, time.Minute, "bench instance deleted", func() bool {
			_, err := instances.Get(ctx, sc, inst.ID).Extract()
			return gophercloud.ResponseCodeIs(err, 404)
		})
		b.StartTimer()
	}
	b.StopTimer()
	return bare, api
}
