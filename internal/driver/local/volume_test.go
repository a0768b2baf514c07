package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// loopDriver returns a driver with loop volumes, or skips the test where
// they cannot work (not root, no loop devices, no e2fsprogs) unless
// HOARD_REQUIRE_ENGINES is set.
func (h *harness) loopDriver() *Driver {
	h.t.Helper()
	if why := volumeSupport(os.Geteuid() == 0); why != nil {
		if os.Getenv("HOARD_REQUIRE_ENGINES") != "" {
			h.t.Fatalf("loop volumes are required (HOARD_REQUIRE_ENGINES) but unavailable: %v", why)
		}
		h.t.Skipf("skipping: loop volumes need root, /dev/loop-control and e2fsprogs: %v", why)
	}
	return h.driver(func(c *Config) { c.Volumes = VolumesLoop })
}

// unmountAll lazily unmounts every mount under root (cleanup after a
// failed test), deepest first.
func unmountAll(t testing.TB, root string) {
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return
	}
	points := mountsUnder(t, resolved)
	for i := len(points) - 1; i >= 0; i-- {
		t.Logf("cleanup: unmounting %s", points[i])
		if out, err := exec.Command("umount", "-l", points[i]).CombinedOutput(); err != nil {
			t.Errorf("umount -l %s: %v: %s", points[i], err, out)
		}
	}
}

// mountsUnder lists the mount points at or under dir.
func mountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	all, err := parseMountPoints(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// fsSize is the size of the filesystem mounted at path (statfs).
func fsSize(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

// checkVolume checks that instance id has its image and exactly one mount
// of a filesystem of about gb GiB, and that the data file kept survives.
func checkVolume(t *testing.T, d *Driver, id string, gb int) {
	t.Helper()
	dir := d.dir(id)
	if n := len(mountsUnder(t, d.mountPath(id))); n != 1 {
		t.Fatalf("%d mounts at %s, want 1", n, d.mountPath(id))
	}
	fi, err := os.Stat(filepath.Join(dir, imageName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(gb)*gib {
		t.Errorf("image is %d bytes, want %d GiB", fi.Size(), gb)
	}
	// statfs leaves out the filesystem's metadata: a few percent.
	size := fsSize(t, filepath.Join(dir, mountName))
	if lo, hi := int64(gb)*gib*9/10, int64(gb)*gib; size < lo || size > hi {
		t.Errorf("filesystem is %d bytes, want about %d GiB", size, gb)
	}
	if exists(filepath.Join(dir, "data")) {
		t.Error("a plain data directory exists beside the volume")
	}
}

func TestVolumeLifecycle(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.loopDriver()
	ctx := context.Background()
	s := h.spec("vol")
	for range 2 { // idempotent: one image, one mount
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	checkVolume(t, d, "vol", 1)
	data := filepath.Join(h.root, "vol", mountName, "data")
	if ds := d.EngineSpec(s); ds.DataDir != data {
		t.Errorf("data directory = %s, want %s", ds.DataDir, data)
	}
	if got := readFile(t, filepath.Join(data, "init-count")); got != "init\n" {
		t.Errorf("init-count = %q, want one init on the volume", got)
	}
	for _, tt := range []struct {
		path     string
		perm     os.FileMode
		uid, gid uint32
	}{
		{mountName, 0o750, 0, instanceAccount(t, d, "vol").gid},
		{mountName + "/data", 0o700, instanceAccount(t, d, "vol").uid, instanceAccount(t, d, "vol").gid},
		{mountName + "/files", 0o700, instanceAccount(t, d, "vol").uid, instanceAccount(t, d, "vol").gid},
	} {
		fi, err := os.Stat(filepath.Join(h.root, "vol", tt.path))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != tt.perm || st.Uid != tt.uid || st.Gid != tt.gid {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", tt.path, fi.Mode().Perm(), st.Uid, st.Gid, tt.perm, tt.uid, tt.gid)
		}
	}
	if n, err := d.UsedBytes(ctx, "vol"); err != nil || n != int64(len("init\n")) {
		t.Errorf("UsedBytes = %d, %v; want %d", n, err, len("init\n"))
	}

	// The size is enforced: the filesystem refuses more than it holds.
	f, err := os.Create(filepath.Join(data, "big"))
	if err != nil {
		t.Fatal(err)
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, 2*gib)
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("allocating 2 GiB on a 1 GiB volume: %v, want ENOSPC", err)
	}
	os.Remove(filepath.Join(data, "big"))

	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	checkVolume(t, d, "vol", 1)
	hd := h.handle("vol")

	if err := d.Destroy(ctx, "vol"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("engine still runs after Destroy")
	}
	if m := mountsUnder(t, d.realRoot); len(m) != 0 {
		t.Errorf("mounts left after Destroy: %v", m)
	}
	if exists(filepath.Join(h.root, "vol")) {
		t.Error("instance directory (and image) still there")
	}
}

// TestVolumeRecover: after a "host reboot" (engine gone, volume unmounted)
// Recover mounts the volume again and starts the engine; an orphan's mount
// and image are removed.
func TestVolumeRecover(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	a := h.loopDriver()
	ctx := context.Background()
	keep, orph := h.spec("keep"), h.spec("orph")
	for _, s := range []driver.Spec{keep, orph} {
		if err := a.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		waitReady(t, s)
	}
	hk := h.handle("keep")
	a.Close()
	if err := syscall.Kill(-hk.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "engine is dead", func() bool { return gone(hk.PID, hk.StartTime) })
	if err := a.unmount("keep"); err != nil {
		t.Fatal(err)
	}

	b := h.loopDriver()
	if err := b.Recover(ctx, []driver.Spec{keep}); err != nil {
		t.Fatal(err)
	}
	checkVolume(t, b, "keep", 1)
	if got := readFile(t, filepath.Join(h.root, "keep", mountName, "data", "init-count")); got != "init\n" {
		t.Errorf("init-count = %q after re-mount", got)
	}
	waitReady(t, keep)
	if hd := h.handle("keep"); hd.PID == hk.PID || !hd.Want {
		t.Errorf("handle after Recover = %+v", hd)
	}
	if m := mountsUnder(t, b.mountPath("orph")); len(m) != 0 {
		t.Errorf("orphan still mounted: %v", m)
	}
	if exists(filepath.Join(h.root, "orph")) {
		t.Error("orphan directory (and image) still there")
	}
	if err := b.Destroy(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, b.realRoot); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestVolumeResize grows a volume with data on it, then repeats the grow
// (a no-op that leaves the engine alone).
func TestVolumeResize(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.loopDriver()
	ctx := context.Background()
	s := h.spec("grow")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	kept := filepath.Join(h.root, "grow", mountName, "data", "kept")
	if err := os.WriteFile(kept, []byte("before"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := h.handle("grow")
	s.VolumeGB = 2
	if err := d.ResizeVolume(ctx, s); err != nil {
		t.Fatal(err)
	}
	checkVolume(t, d, "grow", 2)
	if got := readFile(t, kept); got != "before" {
		t.Errorf("data after grow = %q", got)
	}
	if !gone(before.PID, before.StartTime) {
		t.Error("engine was not stopped for the grow")
	}
	after := h.handle("grow")
	if !after.Want || after.Spec.VolumeGB != 2 {
		t.Errorf("handle after grow = %+v", after)
	}
	waitReady(t, s)
	if err := d.ResizeVolume(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := h.handle("grow"); got.PID != after.PID {
		t.Errorf("a grow to the size reached restarted the engine (pid %d → %d)", after.PID, got.PID)
	}
	checkVolume(t, d, "grow", 2)
	if err := d.Destroy(ctx, "grow"); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, d.realRoot); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestVolumeResizeInterrupted stops a grow after each of its steps, as a
// crash would, restarts hoard (a new driver and Recover), and repeats the
// grow: it must converge with the data kept and the engine running.
func TestVolumeResizeInterrupted(t *testing.T) {
	steps := []string{"stop", "unmount", "truncate", "e2fsck", "resize2fs"}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
			a := h.loopDriver()
			ctx := context.Background()
			s := h.spec("cr")
			if err := a.Provision(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := a.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			waitReady(t, s)
			kept := filepath.Join(h.root, "cr", mountName, "data", "kept")
			if err := os.WriteFile(kept, []byte("before"), 0o600); err != nil {
				t.Fatal(err)
			}
			crash := errors.New("crash")
			a.growHook = func(name string) error {
				if name == step {
					return crash
				}
				return nil
			}
			s.VolumeGB = 2
			if err := a.ResizeVolume(ctx, s); !errors.Is(err, crash) {
				t.Fatalf("ResizeVolume = %v, want the crash after %s", err, step)
			}
			a.Close()

			b := h.loopDriver()
			if err := b.Recover(ctx, []driver.Spec{s}); err != nil {
				t.Fatal(err)
			}
			if err := b.ResizeVolume(ctx, s); err != nil {
				t.Fatal(err)
			}
			checkVolume(t, b, "cr", 2)
			if got := readFile(t, kept); got != "before" {
				t.Errorf("data after grow = %q", got)
			}
			waitReady(t, s)
			if st, err := b.State(ctx, "cr"); err != nil || st != driver.StateRunning {
				t.Errorf("State = %v, %v; want running", st, err)
			}
			if err := b.Destroy(ctx, "cr"); err != nil {
				t.Fatal(err)
			}
			if m := mountsUnder(t, b.realRoot); len(m) != 0 {
				t.Errorf("mounts left: %v", m)
			}
		})
	}
}

// TestVolumeKeepsPlainDirectory: an instance made without volumes (before
// they existed) keeps its plain data directory under a loop driver.
func TestVolumeKeepsPlainDirectory(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	ctx := context.Background()
	s := h.spec("old")
	old := h.driver(nil) // VolumesDir
	if err := old.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	old.Close()
	d := h.loopDriver()
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	s.VolumeGB = 2
	if err := d.ResizeVolume(ctx, s); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.root, "old")
	if exists(filepath.Join(dir, imageName)) || exists(filepath.Join(dir, mountName)) {
		t.Error("an old instance got a volume")
	}
	if got := readFile(t, filepath.Join(dir, "data", "init-count")); got != "init\n" {
		t.Errorf("init-count = %q", got)
	}
	if err := d.Destroy(ctx, "old"); err != nil {
		t.Fatal(err)
	}
}

func TestResolveVolumes(t *testing.T) {
	tests := []struct {
		want   string
		asRoot bool
		got    string
		err    bool
	}{
		{"", false, VolumesDir, true}, // dir, with the reason
		{"dir", false, VolumesDir, false},
		{"dir", true, VolumesDir, false},
		{"loop", false, "", true},
		{"zfs", true, "", true},
	}
	for _, tt := range tests {
		got, err := resolveVolumes(tt.want, tt.asRoot)
		if got != tt.got || (err != nil) != tt.err {
			t.Errorf("resolveVolumes(%q, %v) = %q, %v; want %q, error %v", tt.want, tt.asRoot, got, err, tt.got, tt.err)
		}
	}
}

func TestParseMountPoints(t *testing.T) {
	in := "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw\n" +
		`42 27 7:0 / /tmp/a\040b/vol rw,noatime - ext4 /dev/loop0 rw` + "\n" +
		`43 27 7:1 / /tmp/back\134slash rw - ext4 /dev/loop1 rw` + "\n"
	got, err := parseMountPoints(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/dev", "/tmp/a b/vol", `/tmp/back\slash`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("parseMountPoints = %q, want %q", got, want)
	}
	if _, err := parseMountPoints(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("short line accepted")
	}
}

func FuzzParseMountPoints(f *testing.F) {
	f.Add([]byte("42 27 7:0 / /tmp/a\\040b rw - ext4 /dev/loop0 rw\n"))
	f.Add([]byte("1 2 3 4 \\\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		points, err := parseMountPoints(bytes.NewReader(b))
		if err != nil && points != nil {
			t.Errorf("error %v with points %q", err, points)
		}
	})
}

// superblock builds an ext4 superblock.
func superblock(blocksLo, logBlock, incompat, blocksHi uint32) []byte {
	sb := make([]byte, sbSize)
	le := binary.LittleEndian
	le.PutUint32(sb[0x4:], blocksLo)
	le.PutUint32(sb[0x18:], logBlock)
	le.PutUint16(sb[0x38:], sbMagic)
	le.PutUint32(sb[0x60:], incompat)
	le.PutUint32(sb[0x150:], blocksHi)
	return sb
}

func TestParseExt4Size(t *testing.T) {
	tests := []struct {
		name string
		sb   []byte
		want int64
		err  bool
	}{
		{"1 GiB of 4 KiB blocks", superblock(262144, 2, 0, 0), gib, false},
		{"hi ignored without 64bit", superblock(1024, 0, 0, 1), 1 << 20, false},
		{"64bit", superblock(0, 2, incompat64Bit, 1), 1 << 44, false},
		{"short", make([]byte, 10), 0, true},
		{"no magic", make([]byte, sbSize), 0, true},
		{"bad block size", superblock(1, 40, 0, 0), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExt4Size(tt.sb)
			if got != tt.want || (err != nil) != tt.err {
				t.Errorf("parseExt4Size = %d, %v; want %d, error %v", got, err, tt.want, tt.err)
			}
		})
	}
	// And a real image, when mkfs.ext4 is there.
	if _, err := tool("mkfs.ext4"); err != nil {
		if os.Getenv("HOARD_REQUIRE_ENGINES") != "" {
			t.Fatalf("mkfs.ext4 is required (HOARD_REQUIRE_ENGINES) but missing: %v", err)
		}
		t.Skip("no mkfs.ext4")
	}
	h := newHarness(t, &fakeEngine{serve: "serve"})
	d := h.driver(nil)
	img := filepath.Join(h.root, "t.img")
	if err := d.makeImage(context.Background(), img, 64<<20); err != nil {
		t.Fatal(err)
	}
	file, fs, err := imageSizes(img)
	if err != nil || file != 64<<20 || fs != 64<<20 {
		t.Errorf("imageSizes = %d, %d, %v; want 64 MiB twice", file, fs, err)
	}
}

func FuzzParseExt4Size(f *testing.F) {
	f.Add(superblock(262144, 2, 0, 0))
	f.Add(superblock(0, 2, incompat64Bit, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseExt4Size(b)
		if err != nil && n != 0 || n < 0 {
			t.Errorf("parseExt4Size = %d, %v", n, err)
		}
	})
}

// hangingProcess is an engine that ignores its stop signal and never
// answers, as mariadbd does while Aria recovery waits for space on a full
// volume.
type hangingProcess struct{ fakeProcess }

func (hangingProcess) ServerArgs(datastore.Spec) []string {
	return []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"}
}

// hangingEngine is fakeEngine with hangingProcess.
type hangingEngine struct{ *fakeEngine }

func (e hangingEngine) Process() datastore.Process { return hangingProcess{fakeProcess{e.fakeEngine}} }

// TestStopRestartedEngineNeverReady: stopping an engine that supervision
// restarted and that never answered since (a full volume's crash loop,
// which the user leaves by a volume resize) kills it after a short grace
// instead of waiting out StopTimeout.
func TestStopRestartedEngineNeverReady(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "deaf"})
	const stopTimeout = 20 * time.Second
	d := h.driver(func(c *Config) {
		c.Engines = map[string]datastore.Engine{"fake": hangingEngine{h.eng}}
		c.StopTimeout = stopTimeout
		c.ReadyTimeout = time.Minute
	})
	ctx := context.Background()
	s := h.spec("hang")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := h.handle("hang")
	if err := syscall.Kill(-first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.event(driver.EventExited)
	var second *handle
	eventually(t, "a restart", func() bool {
		b, err := os.ReadFile(filepath.Join(h.root, "hang", handleName))
		if err != nil {
			return false
		}
		hd, err := decodeHandle(b)
		if err != nil || hd.PID == 0 || hd.PID == first.PID {
			return false
		}
		second = hd
		return true
	})
	start := time.Now()
	if err := d.Stop(ctx, "hang"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= stopTimeout/2 {
		t.Errorf("Stop took %s, want about %s (the short grace), not StopTimeout %s", took, startingStopGrace, stopTimeout)
	}
	if !gone(second.PID, second.StartTime) {
		t.Error("engine still runs after Stop")
	}
	if st, err := d.State(ctx, "hang"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
}
