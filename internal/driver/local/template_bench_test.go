package local

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
)

// BenchmarkCopyTreePostgreSQL times what a create from the pool does in
// place of initdb: copyTree of a real PostgreSQL pool directory into an
// empty directory on a fresh loop-mounted ext4 volume (as root; a plain
// directory otherwise), then syncFS. Each round copies once per number of
// copyWorkers (interleaved: the machine's load drifts) and it reports
// medians per variant: wN-copy-ms, wN-sync-ms, and wN-cpu-ms, the process's
// CPU time during the copy. Run it with
// `go test -run '^$' -bench BenchmarkCopyTreePostgreSQL -benchtime 15x ./internal/driver/local/`.
func BenchmarkCopyTreePostgreSQL(b *testing.B) {
	eng := postgresql.New(postgresql.Config{})
	if _, err := eng.Discover(context.Background()); errors.Is(err, datastore.ErrNotInstalled) {
		enginetest.Unavailable(b, "postgresql is not installed")
	} else if err != nil {
		b.Fatal(err)
	}
	// b.TempDir's parent is 0700; the engine user must traverse the root.
	root, err := os.MkdirTemp("", "hl")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		unmountAll(b, root) // never remove files through a mount
		removeUsers(b, root)
		removeCgroups(b, root)
		os.RemoveAll(root)
	})
	d, err := New(Config{
		Root:         root,
		Engines:      map[string]datastore.Engine{eng.Name(): eng},
		Logger:       slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Volumes:      VolumesDir,
		TemplatePool: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	waitFor(b, 3*time.Minute, "the pool is full", func() bool { return ready(d, eng.Name()) == 1 })
	d.Close()
	src := filepath.Join(root, templatesName, eng.Name()+"-0", templateData)
	m, err := readManifest(filepath.Dir(src))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("template: %d files, %d bytes", m.Files, m.Bytes)

	dstRoot := filepath.Join(root, "dst")
	if err := os.Mkdir(dstRoot, 0o755); err != nil {
		b.Fatal(err)
	}
	var a account
	if os.Geteuid() == 0 && volumeSupport(true) == nil {
		// The instance's own volume, as Provision makes it.
		img := filepath.Join(dstRoot, imageName)
		if err := d.makeImage(context.Background(), img, volumeBytes(1)); err != nil {
			b.Fatal(err)
		}
		mnt := filepath.Join(dstRoot, mountName)
		if err := os.Mkdir(mnt, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := run(context.Background(), "mount", "-t", "ext4", "-o", "loop,noatime,nodev,nosuid", img, mnt); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := run(context.Background(), "umount", mnt); err != nil {
				b.Error(err)
			}
		})
		dstRoot = mnt
		a = account{uid: 65534, gid: 65534, asRoot: true}
	}
	// The variants interleaved, one copy each per round (the machine's
	// load drifts): medians per variant of wall time (copy, sync) and of
	// the process's CPU time for the copy.
	variants := []int{1, 2, 4, 8}
	type sample struct{ copyT, syncT, cpu time.Duration }
	got := make([][]sample, len(variants))
	defer func(n int) { copyWorkers = n }(copyWorkers)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, w := range variants {
			copyWorkers = w
			dst := filepath.Join(dstRoot, "data-"+strconv.Itoa(i)+"-"+strconv.Itoa(w))
			if err := os.Mkdir(dst, 0o700); err != nil {
				b.Fatal(err)
			}
			cpu0 := cpuTime()
			start := time.Now()
			h, _, _, err := copyTree(src, dst, a)
			if err != nil {
				b.Fatal(err)
			}
			copied := time.Now()
			cpu := cpuTime() - cpu0
			if err := syncFS(dst); err != nil {
				b.Fatal(err)
			}
			got[j] = append(got[j], sample{copied.Sub(start), time.Since(copied), cpu})
			if h != m.Hash {
				b.Fatal("the copy's hash differs from the manifest")
			}
			b.StopTimer()
			if err := os.RemoveAll(dst); err != nil {
				b.Fatal(err)
			}
			if err := syncFS(dstRoot); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	med := func(ss []sample, f func(sample) time.Duration) float64 {
		v := make([]time.Duration, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return float64(v[len(v)/2].Microseconds()) / 1000
	}
	for j, w := range variants {
		name := "w" + strconv.Itoa(w)
		b.ReportMetric(med(got[j], func(s sample) time.Duration { return s.copyT }), name+"-copy-ms")
		b.ReportMetric(med(got[j], func(s sample) time.Duration { return s.syncT }), name+"-sync-ms")
		b.ReportMetric(med(got[j], func(s sample) time.Duration { return s.cpu }), name+"-cpu-ms")
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
