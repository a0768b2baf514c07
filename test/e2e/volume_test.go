package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// mountsUnder lists the mount points at or under dir (/proc/self/mountinfo,
// field 5, with the kernel's escapes of spaces and backslashes undone).
func mountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if p := r.Replace(f[4]); p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// unmountUnder lazily unmounts what a test left mounted under dir (hoard
// killed before it could delete its instances), so that no loop device
// and no mount outlives the test.
func unmountUnder(t testing.TB, dir string) {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return
	}
	points := mountsUnder(t, resolved)
	for i := len(points) - 1; i >= 0; i-- {
		if out, err := exec.Command("umount", "-l", points[i]).CombinedOutput(); err != nil {
			t.Errorf("umount -l %s: %v: %s", points[i], err, out)
		}
	}
}

// instanceDataDir is the engine's data directory of an instance: on its
// volume, or a plain directory where hoard has no loop volumes.
func (h *hoard) instanceDataDir(id string) string {
	dir := filepath.Join(h.dataDir, "instances", id)
	if _, err := os.Stat(filepath.Join(dir, "volume.img")); err == nil {
		return filepath.Join(dir, "vol", "data")
	}
	return filepath.Join(dir, "data")
}

// TestVolumeEnforced: a 1 GB instance's volume is a filesystem of that
// size: MariaDB refuses writes once it is full ("The table ... is full",
// ERROR 1114) and keeps answering; after a volume resize to 2 GB the data
// is intact and writes succeed again; a delete leaves no mount and no image.
func TestVolumeEnforced(t *testing.T) {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		enginetest.Unavailable(t, "no loop devices: %v", err)
	}
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	inst, err := instances.Create(ctx, sc, createOpts("vol-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	dir := filepath.Join(h.dataDir, "instances", inst.ID)
	vol := filepath.Join(dir, "vol")
	realVol, err := filepath.EvalSymlinks(vol)
	if err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, realVol); len(m) != 1 {
		t.Fatalf("mounts at %s: %v, want one", realVol, m)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT @@datadir"); got != filepath.Join(vol, "data")+"/" {
		t.Errorf("datadir = %q, want on the volume", got)
	}

	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		"CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
		"CREATE TABLE small (id INT AUTO_INCREMENT PRIMARY KEY, s VARBINARY(7000)) ENGINE=InnoDB",
		// Rows of 8 MiB made by the server (REPEAT stays under the default
		// max_allowed_packet of 16 MiB), doubled to 512 MiB.
		"INSERT INTO blobs (b) VALUES (REPEAT('x', 8388608))",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 {
		if _, err := db.ExecContext(ctx, "INSERT INTO blobs (b) SELECT b FROM blobs"); err != nil {
			t.Fatal(err)
		}
	}
	free := func() int64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(vol, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Bavail) * st.Bsize
	}
	// More blobs while there is room to spare...
	for free() > 160<<20 {
		if _, err := db.ExecContext(ctx, "INSERT INTO blobs (b) VALUES (REPEAT('x', 8388608))"); err != nil {
			t.Fatalf("insert with %d MiB free: %v", free()>>20, err)
		}
	}
	// ...then small rows, one per statement, in one transaction, until the
	// volume is full. A statement that fails then has nothing to undo, and
	// the transaction is committed, not rolled back: an InnoDB rollback that
	// needs new pages on a full volume aborts MariaDB ("Out of disk space in
	// rollback", seen with 8 MiB rows and with multi-row statements; see the
	// README).
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var full *mysql.MySQLError
	for i := 0; ; i++ {
		_, err := tx.ExecContext(ctx, "INSERT INTO small (s) VALUES (REPEAT('y', 7000))")
		if err == nil {
			if i > 200000 { // 1.4 GB more into a 1 GB volume
				t.Fatal("the volume never filled up: its size is not enforced")
			}
			continue
		}
		if !errors.As(err, &full) || full.Number != 1114 || !strings.Contains(full.Message, "is full") {
			elog, _ := os.ReadFile(filepath.Join(dir, "log", "error.log"))
			t.Fatalf("insert into a full volume: %v, want ERROR 1114 table is full; error.log:\n%s", err, elog)
		}
		t.Logf("volume full after %d small rows: %v", i, err)
		break
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit after the volume filled: %v", err)
	}
	// The engine keeps answering, and the instance stays ACTIVE.
	count := func() (blobs, small int) {
		t.Helper()
		if err := db.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM blobs), (SELECT COUNT(*) FROM small)").Scan(&blobs, &small); err != nil {
			t.Fatalf("engine: %v", err)
		}
		return blobs, small
	}
	blobs, small := count()
	full1, err := instances.Get(ctx, sc, inst.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if full1.Status != "ACTIVE" || full1.Volume.Size != 1 || full1.Volume.Used < 0.8 || full1.Volume.Used > 1.0 {
		t.Errorf("full instance: status %s volume %+v, want ACTIVE, size 1, used between 0.8 and 1 GB", full1.Status, full1.Volume)
	}

	if err := instances.ResizeVolume(ctx, sc, inst.ID, 2).ExtractErr(); err != nil {
		t.Fatalf("resize volume: %v", err)
	}
	if got, err := instances.Get(ctx, sc, inst.ID).Extract(); err == nil && got.Status != "RESIZE" {
		t.Errorf("status right after the volume resize = %s, want RESIZE", got.Status)
	}
	after := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if after.Volume.Size != 2 {
		t.Errorf("volume after resize = %+v, want size 2", after.Volume)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(vol, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * st.Bsize; size < 19<<30/10 || size > 2<<30 {
		t.Errorf("filesystem after resize is %d bytes, want about 2 GiB", size)
	}
	if b, sm := count(); b != blobs || sm != small {
		t.Errorf("rows after resize = %d blobs, %d small; want %d, %d", b, sm, blobs, small)
	}
	for range 32 { // 256 MiB more
		if _, err := db.ExecContext(ctx, "INSERT INTO blobs (b) VALUES (REPEAT('x', 8388608))"); err != nil {
			t.Fatalf("insert after the volume grew: %v", err)
		}
	}
	var bad int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM blobs WHERE LENGTH(b) <> 8388608 OR (id <= 16 AND b <> REPEAT('x', 8388608))").Scan(&bad); err != nil || bad != 0 {
		t.Errorf("damaged rows = %d, %v; want none", bad, err)
	}
	db.Close()

	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, inst.ID, activeTimeout)
	if m := mountsUnder(t, realVol); len(m) != 0 {
		t.Errorf("mounts left after delete: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "volume.img")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image after delete: %v, want gone", err)
	}
}
