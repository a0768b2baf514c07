package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
)

// BenchmarkConcurrentCreate measures the time until 20 instances created at
// once through the API are all ACTIVE, against 20 bare mariadbd initialised
// and started at once by hand (the same recipe), in the same run. The
// template pool is off: every create runs its own init.
func BenchmarkConcurrentCreate(b *testing.B) {
	const n = 20
	ctx := context.Background()
	h := startHoardB(b, "HOARD_MAX_INSTANCES=200")
	sc := h.client(ctx)
	eng := mariadb.New(mariadb.Config{})

	b.ResetTimer()
	bare := bareConcurrent(b, eng, n)

	b.StartTimer()
	t0 := time.Now()
	ids := createMany(ctx, b, sc, n, "conc")
	api := time.Since(t0)
	b.StopTimer()
	deleteAll(ctx, b, sc, ids)

	b.ReportMetric(api.Seconds()/bare.Seconds(), "all-active/bare")
	fmt.Printf("\n%-34s %12s %12s %8s\n", "concurrency", "bare", "hoard API", "ratio")
	fmt.Printf("%-34s %12s %12s %8.2f\n", fmt.Sprintf("%d created at once → all ACTIVE", n),
		bare.Round(time.Millisecond), api.Round(time.Millisecond), api.Seconds()/bare.Seconds())
}

// BenchmarkConcurrentCreateTemplates is BenchmarkConcurrentCreate with a
// template pool of 20 (HOARD_TEMPLATE_POOL=20): every create copies a
// pre-initialised data directory instead of running mariadb-install-db.
// Neither side is timed until the pool is full (hoard_template_ready of
// every engine at 20: the filler builds MariaDB and PostgreSQL directories
// round by round, and a build left running would load both sides); the
// refill that the creates start runs, niced, during hoard's timing, as it
// would on a host.
func BenchmarkConcurrentCreateTemplates(b *testing.B) {
	const n = 20
	ctx := context.Background()
	h := startHoardB(b, "HOARD_MAX_INSTANCES=200", "HOARD_TEMPLATE_POOL="+strconv.Itoa(n))
	sc := h.client(ctx)
	eng := mariadb.New(mariadb.Config{})
	t0 := time.Now()
	waitTemplatesFull(b, h, n)
	fmt.Printf("\ntemplate pool of %d per engine full after %s\n", n, time.Since(t0).Round(time.Second))

	b.ResetTimer()
	bare := bareConcurrent(b, eng, n)

	b.StartTimer()
	t0 = time.Now()
	ids := createMany(ctx, b, sc, n, "conc")
	api := time.Since(t0)
	b.StopTimer()
	pooled := 0
	for _, id := range ids {
		if createdFromTemplate(h, id) {
			pooled++
		}
	}
	deleteAll(ctx, b, sc, ids)

	b.ReportMetric(api.Seconds()/bare.Seconds(), "all-active/bare")
	b.ReportMetric(float64(pooled), "from-pool")
	fmt.Printf("\n%-44s %12s %12s %8s\n", "concurrency, template pool "+strconv.Itoa(n), "bare", "hoard API", "ratio")
	fmt.Printf("%-44s %12s %12s %8.2f\n", fmt.Sprintf("%d created at once → all ACTIVE (%d from the pool)", n, pooled),
		bare.Round(time.Millisecond), api.Round(time.Millisecond), api.Seconds()/bare.Seconds())
	if pooled != n {
		b.Errorf("%d of %d creates used the template pool, want all", pooled, n)
	}
}

// bareConcurrent initialises and starts n bare engines at once by hand and
// returns the time until every one answers (timed: the caller starts and
// resets the timer; it is stopped on return). The engines are stopped and
// removed.
func bareConcurrent(b *testing.B, eng datastore.Engine, n int) time.Duration {
	b.Helper()
	b.StopTimer()
	bares := make([]*bareEngine, n)
	for i := range bares {
		bares[i] = newBareEngine(b, eng)
	}
	b.StartTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, m := range bares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.init(b)
			m.start(b)
			m.waitReady(b)
		}()
	}
	wg.Wait()
	bare := time.Since(t0)
	b.StopTimer()
	for _, m := range bares {
		if m.cmd != nil && m.cmd.Process != nil {
			m.stop(b)
		}
		m.cleanup()
	}
	if b.Failed() { // a helper failed in its goroutine (Fatal ended only that goroutine)
		b.FailNow()
	}
	return bare
}

// createMany creates n instances at once (smallest flavor, 1 GB) and
// waits until all are ACTIVE; it returns their ids.
func createMany(ctx context.Context, b *testing.B, sc *gophercloud.ServiceClient, n int, prefix string) []string {
	b.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := createOpts(fmt.Sprintf("%s-%d", prefix, i))
			o.Databases, o.Users = nil, nil
			inst, err := instances.Create(ctx, sc, o).Extract()
			if err != nil {
				errs <- err
				return
			}
			ids[i] = inst.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for _, id := range ids {
		waitStatusB(ctx, b, sc, id, "ACTIVE")
	}
	return ids
}

func deleteAll(ctx context.Context, b *testing.B, sc *gophercloud.ServiceClient, ids []string) {
	b.Helper()
	for _, id := range ids {
		if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil {
			b.Fatal(err)
		}
	}
	for _, id := range ids {
		waitFor(b, time.Minute, "instance deleted", func() bool {
			_, err := instances.Get(ctx, sc, id).Extract()
			return gophercloud.ResponseCodeIs(err, 404)
		})
	}
}

// rssKB is the resident set size of a process in kB (VmRSS).
func rssKB(pid int) int {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}

// memoryBudgetKB caps what the idle engines of BenchmarkMemory may use.
const memoryBudgetKB = 12 << 20

// BenchmarkMemory reports the RSS of `hoard serve` with 0, 10 and 100 idle
// ACTIVE instances (smallest flavor), the engines' RSS separately. If 100
// engines would not fit in about 12 GB (extrapolated from 10), it measures
// 50 instead and says so.
func BenchmarkMemory(b *testing.B) {
	ctx := context.Background()
	h := startHoardB(b, "HOARD_MAX_INSTANCES=200")
	sc := h.client(ctx)
	pid := h.cmd.Process.Pid
	settle := func() { pollPause(3 * time.Second) } // let supervision and usage caches reach steady state

	type point struct{ n, hoardKB, enginesKB int }
	var pts []point
	measure := func(n int) {
		settle()
		e := 0
		for _, p := range enginePIDs(h.dataDir) {
			e += rssKB(p)
		}
		pts = append(pts, point{n, rssKB(pid), e})
	}
	b.ResetTimer()
	measure(0)
	var all []string
	all = append(all, createMany(ctx, b, sc, 10, "mem")...)
	measure(10)
	target := 100
	if per := pts[1].enginesKB / 10; per*100 > memoryBudgetKB {
		target = 50
		fmt.Printf("\nmemory: 100 engines would need about %d MB; measuring 50\n", per*100/1024)
	}
	for len(all) < target {
		all = append(all, createMany(ctx, b, sc, min(20, target-len(all)), fmt.Sprintf("mem%d", len(all)))...)
	}
	measure(target)
	b.StopTimer()
	deleteAll(ctx, b, sc, all)

	fmt.Printf("\n%-34s %12s %12s %14s\n", "memory (RSS)", "hoard serve", "engines", "hoard/instance")
	for _, p := range pts {
		per := "-"
		if p.n > 0 {
			per = fmt.Sprintf("%.0f kB", float64(p.hoardKB-pts[0].hoardKB)/float64(p.n))
		}
		fmt.Printf("%-34s %9d MB %9d MB %14s\n", fmt.Sprintf("%d idle instances", p.n), p.hoardKB/1024, p.enginesKB/1024, per)
	}
	last := pts[len(pts)-1]
	b.ReportMetric(float64(pts[0].hoardKB)/1024, "hoard-idle-MB")
	b.ReportMetric(float64(last.hoardKB)/1024, fmt.Sprintf("hoard-%d-MB", last.n))
	b.ReportMetric(float64(last.enginesKB)/1024/float64(last.n), "engine-MB")
}
