package e2e

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
)

// BenchmarkHAFailover measures, on MariaDB, in one run:
//
//   - failover: from a kill -9 of an HA group's source engine (kept from
//     starting again) to the first write that succeeds through the group's
//     write address, against the baseline of the same kill on a standalone
//     instance, which hoard's supervisor restarts (kill to first write
//     through the instance's own address): failover-s, crash-restart-s and
//     their ratio (the goal is failover under 10 s);
//   - replica lag under a steady load of about 1,000 rows/s through the
//     write address: how long a marker row takes to be readable through the
//     read address (a replica), against how long it takes to be readable
//     on the source itself: lag-p50-ms, lag-max-ms, and the ratio of the
//     medians (the goal is a lag under 1 s).
//
// Run it with `make bench` (or -bench BenchmarkHAFailover -benchtime 1x).
func BenchmarkHAFailover(b *testing.B) {
	h := startHoardB(b)
	ctx := context.Background()
	sc := h.client(ctx)
	he := haEngines[0] // mysql

	// The baseline: a standalone instance's engine killed and restarted.
	solo, err := instances.Create(ctx, sc, instances.CreateOpts{Name: "solo", FlavorRef: "1", Size: 1,
		Databases: databases.BatchCreateOpts{{Name: "shop"}},
		Users:     users.BatchCreateOpts{{Name: "app", Password: "app-pw-123", Databases: databases.BatchCreateOpts{{Name: "shop"}}}},
		Datastore: &instances.DatastoreOpts{Type: "mysql"}}).Extract()
	if err != nil {
		b.Fatal(err)
	}
	waitStatusB(ctx, b, sc, solo.ID, "ACTIVE")
	soloInst, err := instances.Get(ctx, sc, solo.ID).Extract()
	if err != nil {
		b.Fatal(err)
	}
	restart := killToWrite(ctx, b, h, he, solo.ID, net.JoinHostPort(soloInst.Hostname, "3306"), false)

	id := createHA(ctx, b, sc, "mysql")
	v := waitHA(ctx, b, sc, id, "the group ACTIVE", 4*time.Minute, func(v haView) bool {
		return v.HA.State == "ACTIVE" && len(v.HA.Replicas) == 2
	})
	src := v.HA.ReplicaSource[0].ID
	if err := databases.Create(ctx, sc, src, databases.BatchCreateOpts{{Name: "shop"}}).ExtractErr(); err != nil {
		b.Fatal(err)
	}
	if err := users.Create(ctx, sc, src, users.BatchCreateOpts{{Name: "app", Password: "app-pw-123",
		Databases: databases.BatchCreateOpts{{Name: "shop"}}}}).ExtractErr(); err != nil {
		b.Fatal(err)
	}
	write, read := v.endpoint("write"), v.endpoint("read")

	// Lag at ~1,000 rows/s.
	srcLag, replicaLag := lagUnderLoad(ctx, b, write, read, 1000, 10*time.Second)
	b.ReportMetric(float64(median(srcLag).Milliseconds()), "source-visible-p50-ms")
	b.ReportMetric(float64(median(replicaLag).Milliseconds()), "lag-p50-ms")
	b.ReportMetric(float64(maxDur(replicaLag).Milliseconds()), "lag-max-ms")
	b.ReportMetric(float64(median(replicaLag))/float64(max(median(srcLag), time.Millisecond)), "lag/source-visible")

	failover := killToWrite(ctx, b, h, he, src, write, true)
	b.ReportMetric(restart.Seconds(), "crash-restart-s")
	b.ReportMetric(failover.Seconds(), "failover-s")
	b.ReportMetric(failover.Seconds()/restart.Seconds(), "failover/crash-restart")
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// killToWrite kills the engine of instance id (keeping it from starting
// again when keepDown) while a client writes through addr, and returns the
// time from the kill to the first write that succeeds after it.
func killToWrite(ctx context.Context, b *testing.B, h *hoard, he haEngine, id, addr string, keepDown bool) time.Duration {
	b.Helper()
	insert, closeW := he.writer(addr)
	defer closeW()
	if err := insert(ctx, 1_000_000); err != nil && !strings.Contains(err.Error(), "Duplicate") {
		b.Fatalf("write before the kill: %v", err)
	}
	dataDir := instanceDataDir(b, h, id)
	instDir := dataDir[:strings.Index(dataDir, id)+len(id)]
	if keepDown {
		if err := os.Chmod(dataDir, 0); err != nil {
			b.Fatal(err)
		}
	}
	pids := instanceProcs(instDir)
	if len(pids) == 0 {
		b.Fatalf("no engine process of %s", id)
	}
	start := time.Now()
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	}
	deadline := start.Add(2 * time.Minute)
	for i := 2_000_000; ; i++ {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := insert(wctx, i)
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("no write succeeded within 2 minutes of the kill: %v", err)
		}
		pollPause(20 * time.Millisecond)
	}
}

// lagUnderLoad writes rows at rate per second through write for d, and
// every 100 ms a marker row, whose visibility it times through write (the
// source) and through read (a replica).
func lagUnderLoad(ctx context.Context, b *testing.B, write, read string, rate int, d time.Duration) (srcLag, replicaLag []time.Duration) {
	b.Helper()
	wdb, rdb, sdb := mysqlAt(write), mysqlAt(read), mysqlAt(write)
	defer wdb.Close()
	defer rdb.Close()
	defer sdb.Close()
	for _, q := range []string{"CREATE TABLE IF NOT EXISTS load_rows (i INT PRIMARY KEY)", "CREATE TABLE IF NOT EXISTS markers (i INT PRIMARY KEY)"} {
		if _, err := wdb.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	// Five writers (a semi-synchronous commit waits for a replica's
	// acknowledgement: one connection alone is latency-bound), each
	// committing rate/500 rows every 10 ms.
	const writers = 5 // rate/100 must be a multiple
	wdb.SetMaxOpenConns(writers)
	stop := make(chan struct{})
	done := make(chan int, writers)
	for w := range writers {
		go func() {
			n := 0
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					done <- n
					return
				case <-tick.C:
				}
				for range rate / 100 / writers {
					if _, err := wdb.ExecContext(ctx, "INSERT INTO load_rows VALUES (?)", w*100_000_000+n); err == nil {
						n++
					}
				}
			}
		}()
	}
	end := time.Now().Add(d)
	for m := 0; time.Now().Before(end); m++ {
		if _, err := sdb.ExecContext(ctx, "INSERT INTO markers VALUES (?)", m); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		var sawSrc, sawReplica bool
		for !(sawSrc && sawReplica) {
			var n int
			if !sawSrc && sdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM markers WHERE i = ?", m).Scan(&n) == nil && n == 1 {
				srcLag, sawSrc = append(srcLag, time.Since(t0)), true
			}
			if !sawReplica && rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM markers WHERE i = ?", m).Scan(&n) == nil && n == 1 {
				replicaLag, sawReplica = append(replicaLag, time.Since(t0)), true
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatalf("marker %d not visible on the replica after 30 s", m)
			}
		}
		pollPause(100 * time.Millisecond)
	}
	close(stop)
	rows := 0
	for range writers {
		rows += <-done
	}
	b.ReportMetric(float64(rows)/d.Seconds(), "rows/s")
	return srcLag, replicaLag
}
