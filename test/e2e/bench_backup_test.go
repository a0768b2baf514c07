package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore/mariadb"
)

// BenchmarkMariaDBBackupRestore measures, interleaved in the same run on
// the same instance and data (200,000 rows, as engines.md §4):
//
//   - backup through the API (POST /backups until COMPLETED) against
//     `mariadb-backup --backup --stream=xbstream | gzip -1` by hand;
//   - restore through the API (create with restorePoint until ACTIVE)
//     against, by hand, gunzip | mbstream -x, --prepare, --copy-back,
//     chown and starting a bare mariadbd until it answers.
//
// Throughput is the instance's data directory size divided by the median
// time, in MB/s (1 MB = 10^6 bytes). Run it with `make bench`.
func BenchmarkMariaDBBackupRestore(b *testing.B) {
	ctx := context.Background()
	h := startHoardB(b)
	sc := h.client(ctx)
	o := createOpts("bench-backup")
	o.Size = 2
	src, err := instances.Create(ctx, sc, o).Extract()
	if err != nil {
		b.Fatal(err)
	}
	waitStatusB(ctx, b, sc, src.ID, "ACTIVE")
	if out, err := exec.Command("mariadb", "--socket="+h.instanceSocket(src.ID), "-uroot", "shop", "-e",
		"CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40), amount DECIMAL(10,2), created DATETIME);"+
			"INSERT INTO orders (customer, amount, created) SELECT CONCAT('c', seq), seq * 1.25, NOW() FROM seq_1_to_200000").CombinedOutput(); err != nil {
		b.Fatalf("fill: %v\n%s", err, out)
	}
	dataBytes := dirBytes(h.instanceDataDir(src.ID))
	eng := mariadb.New(mariadb.Config{})

	var apiBackup, bareBackup, apiRestore, bareRestore []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// By hand: stream, compress, store.
		work := b.TempDir()
		art := filepath.Join(work, "bk.xbstream.gz")
		d0 := time.Now()
		sh := fmt.Sprintf("mariadb-backup --backup --stream=xbstream --user=root --socket=%s --target-dir=%s 2>%s | gzip -1 > %s",
			h.instanceSocket(src.ID), work, filepath.Join(work, "backup.log"), art)
		if out, err := exec.Command("bash", "-o", "pipefail", "-c", sh).CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(work, "backup.log"))
			b.Fatalf("mariadb-backup by hand: %v\n%s\n%s", err, out, log)
		}
		bareBackup = append(bareBackup, time.Since(d0))

		// Through the API.
		d0 = time.Now()
		bk, err := tryCreateBackup(ctx, sc, fmt.Sprintf("bench-%d", i), src.ID, "")
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, backupTimeout, "backup completed", func() bool {
			got, err := getBackup(ctx, sc, bk.ID)
			if err == nil && got.Status == "FAILED" {
				b.Fatalf("backup %s FAILED", bk.ID)
			}
			return err == nil && got.Status == "COMPLETED"
		})
		apiBackup = append(apiBackup, time.Since(d0))
		waitStatusB(ctx, b, sc, src.ID, "ACTIVE")

		// Restore by hand into a bare instance, then start it.
		bare := newBareEngine(b, eng)
		d0 = time.Now()
		x := filepath.Join(work, "x")
		sh = fmt.Sprintf("mkdir %[1]s && gzip -dc %[2]s | mbstream -x -C %[1]s && mariadb-backup --prepare --target-dir=%[1]s >/dev/null 2>&1"+
			" && mariadb-backup --copy-back --target-dir=%[1]s --datadir=%[3]s >/dev/null 2>&1 && chown -R hoard:hoard %[3]s",
			x, art, bare.spec.DataDir)
		if out, err := exec.Command("bash", "-o", "pipefail", "-c", sh).CombinedOutput(); err != nil {
			b.Fatalf("restore by hand: %v\n%s", err, out)
		}
		bare.start(b)
		bare.waitReady(b)
		bareRestore = append(bareRestore, time.Since(d0))
		bare.stop(b)
		bare.cleanup()

		// Restore through the API.
		d0 = time.Now()
		rid, err := restore(ctx, sc, fmt.Sprintf("bench-restore-%d", i), bk.ID, 2)
		if err != nil {
			b.Fatal(err)
		}
		waitStatusB(ctx, b, sc, rid, "ACTIVE")
		apiRestore = append(apiRestore, time.Since(d0))
		if err := instances.Delete(ctx, sc, rid).ExtractErr(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, time.Minute, "restored instance deleted", func() bool {
			_, err := instances.Get(ctx, sc, rid).Extract()
			return gophercloud.ResponseCodeIs(err, 404)
		})
		if _, err := sc.Delete(ctx, sc.ServiceURL("backups", bk.ID), &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(dataBytes) / 1e6 / d.Seconds() }
	ab, bb := median(apiBackup), median(bareBackup)
	ar, br := median(apiRestore), median(bareRestore)
	b.ReportMetric(mbps(ab), "backup-MB/s")
	b.ReportMetric(mbps(ar), "restore-MB/s")
	fmt.Printf("\n%-40s %14s %14s %8s\n", "mariadb backup, "+strconv.FormatFloat(float64(dataBytes)/1e6, 'f', 0, 64)+" MB data (median of "+strconv.Itoa(b.N)+")", "by hand", "hoard API", "ratio")
	fmt.Printf("%-40s %7s %6.1fMB/s %7s %6.1fMB/s %8.2f\n", "backup", bb.Round(time.Millisecond), mbps(bb), ab.Round(time.Millisecond), mbps(ab), float64(ab)/float64(bb))
	fmt.Printf("%-40s %7s %6.1fMB/s %7s %6.1fMB/s %8.2f\n", "restore (to a running engine)", br.Round(time.Millisecond), mbps(br), ar.Round(time.Millisecond), mbps(ar), float64(ar)/float64(br))
}

// dirBytes sums the sizes of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
