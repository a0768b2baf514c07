package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// backupTimeout bounds one backup or restore of the small test data.
const backupTimeout = 3 * time.Minute

// backupBody is the backup object as the API shows it.
type backupBody struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	Size        *float64 `json:"size"`
	LocationRef *string  `json:"locationRef"`
	ParentID    *string  `json:"parent_id"`
	InstanceID  string   `json:"instance_id"`
	Created     string   `json:"created"`
	Datastore   *struct {
		Type      string `json:"type"`
		Version   string `json:"version"`
		VersionID string `json:"version_id"`
	} `json:"datastore"`
}

// createBackup posts a backup and returns it (202 expected).
func createBackup(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, name, instance, parent string) backupBody {
	t.Helper()
	b, err := tryCreateBackup(ctx, sc, name, instance, parent)
	if err != nil {
		t.Fatalf("create backup %s: %v", name, err)
	}
	return b
}

func tryCreateBackup(ctx context.Context, sc *gophercloud.ServiceClient, name, instance, parent string) (backupBody, error) {
	req := map[string]any{"name": name, "instance": instance}
	if parent != "" {
		req["parent_id"] = parent
	}
	var out struct {
		Backup backupBody `json:"backup"`
	}
	_, err := sc.Post(ctx, sc.ServiceURL("backups"), map[string]any{"backup": req}, &out, &gophercloud.RequestOpts{OkCodes: []int{202}})
	return out.Backup, err
}

func getBackup(ctx context.Context, sc *gophercloud.ServiceClient, id string) (backupBody, error) {
	var out struct {
		Backup backupBody `json:"backup"`
	}
	_, err := sc.Get(ctx, sc.ServiceURL("backups", id), &out, nil)
	return out.Backup, err
}

// waitBackup polls a backup until it is COMPLETED (FAILED fails the test).
func waitBackup(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) backupBody {
	t.Helper()
	var last backupBody
	waitFor(t, backupTimeout, "backup "+id+" to complete", func() bool {
		b, err := getBackup(ctx, sc, id)
		if err != nil {
			return false
		}
		if b.Status == "FAILED" {
			t.Fatalf("backup %s FAILED", id)
		}
		last = b
		return b.Status == "COMPLETED"
	})
	return last
}

// restore creates an instance from backupID (gophercloud's CreateOpts has
// no restorePoint) and returns its id.
func restore(ctx context.Context, sc *gophercloud.ServiceClient, name, backupID string, size int) (string, error) {
	body := map[string]any{"instance": map[string]any{
		"name": name, "flavorRef": "1", "volume": map[string]any{"size": size},
		"restorePoint": map[string]any{"backupRef": backupID},
	}}
	var out struct {
		Instance struct {
			ID string `json:"id"`
		} `json:"instance"`
	}
	_, err := sc.Post(ctx, sc.ServiceURL("instances"), body, &out, &gophercloud.RequestOpts{OkCodes: []int{200}})
	return out.Instance.ID, err
}

// tableSums returns "table rows checksum" of every table of db, sorted: the
// data a restore must reproduce exactly.
func tableSums(ctx context.Context, t *testing.T, db *sql.DB, schema string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", schema)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatalf("no tables in %s", schema)
	}
	var out []string
	for _, tb := range tables {
		var count int64
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM `%s`", tb)).Scan(&count); err != nil {
			t.Fatal(err)
		}
		var name string
		var sum sql.NullInt64
		if err := db.QueryRowContext(ctx, fmt.Sprintf("CHECKSUM TABLE `%s`", tb)).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s rows=%d checksum=%d", tb, count, sum.Int64))
	}
	slices.Sort(out)
	return out
}

// fill creates tables of several engines in shop and writes n rows into each.
func fill(ctx context.Context, t *testing.T, db *sql.DB, n int) {
	t.Helper()
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS orders (id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40), amount DECIMAL(10,2), created DATETIME) ENGINE=InnoDB",
		"CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT) ENGINE=Aria",
		fmt.Sprintf("INSERT INTO orders (customer, amount, created) SELECT CONCAT('c', seq), seq * 1.25, NOW() FROM seq_1_to_%d", n),
		fmt.Sprintf("INSERT INTO notes (body) SELECT REPEAT(CHAR(65 + seq %% 26), 50) FROM seq_1_to_%d", n),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestBackupRestore is the user's story of the backups issue: back up a
// live instance (it stays writable), add data, make an incremental backup,
// restore each into a new instance and find exactly the data of that
// moment, refuse what the reference refuses, and delete a chain.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	opts := createOpts("bk-source")
	opts.Size = 2
	src, err := instances.Create(ctx, sc, opts).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)
	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	fill(ctx, t, db, 20000)

	// A full backup while the instance keeps taking writes.
	full := createBackup(ctx, t, sc, "full", src.ID, "")
	if full.Status != "NEW" || full.Size != nil || full.LocationRef != nil {
		t.Errorf("created backup = %+v, want NEW with null size and locationRef", full)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE during (id INT PRIMARY KEY)"); err != nil {
		t.Errorf("instance not writable while backing up: %v", err)
	}
	// One backup at a time: a second one is refused while the first runs.
	if _, err := tryCreateBackup(ctx, sc, "second", src.ID, ""); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
		t.Errorf("second backup during the first: %v, want 422", err)
	}
	// Restoring a backup that is not COMPLETED is a conflict.
	_, err = restore(ctx, sc, "too-early", full.ID, 1)
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("restore of a building backup: %v, want 409", err)
	}
	full = waitBackup(ctx, t, sc, full.ID)
	if full.Size == nil || *full.Size <= 0 || full.LocationRef == nil || full.Datastore == nil || full.Datastore.Type != "mysql" {
		t.Errorf("completed backup = %+v, want size, locationRef and datastore", full)
	}
	if strings.HasSuffix(full.Created, "Z") {
		t.Errorf("created = %q, want no Z", full.Created)
	}
	waitStatus(ctx, t, sc, src.ID, "ACTIVE", time.Minute)
	// "during" may or may not be in the full backup; drop it to compare.
	if _, err := db.ExecContext(ctx, "DROP TABLE during"); err != nil {
		t.Fatal(err)
	}
	atFull := tableSums(ctx, t, db, "shop")

	fill(ctx, t, db, 5000)
	if _, err := db.ExecContext(ctx, "UPDATE orders SET amount = amount + 1 WHERE id % 7 = 0"); err != nil {
		t.Fatal(err)
	}
	inc := createBackup(ctx, t, sc, "incremental", src.ID, full.ID)
	inc = waitBackup(ctx, t, sc, inc.ID)
	if inc.ParentID == nil || *inc.ParentID != full.ID {
		t.Errorf("incremental parent_id = %v, want %s", inc.ParentID, full.ID)
	}
	atInc := tableSums(ctx, t, db, "shop")
	if slices.Equal(atFull, atInc) {
		t.Fatal("the data did not change between the backups")
	}

	// Smaller volume than the backup's → 403 (the source has 2 GB).
	if _, err = restore(ctx, sc, "too-small", full.ID, 1); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		t.Errorf("restore to a smaller volume: %v, want 403", err)
	}

	// Restore each and compare every table.
	for _, tc := range []struct {
		name, backup string
		want         []string
	}{
		{"restored-full", full.ID, atFull},
		{"restored-inc", inc.ID, atInc},
	} {
		rid, err := restore(ctx, sc, tc.name, tc.backup, 2)
		if err != nil {
			t.Fatalf("restore %s: %v", tc.name, err)
		}
		ri := waitStatus(ctx, t, sc, rid, "ACTIVE", backupTimeout)
		rdb := openDB(t, ri.IP[0], "app", "app-pw-123", "shop")
		// The table created while the full backup ran may be in it (empty).
		got := slices.DeleteFunc(tableSums(ctx, t, rdb, "shop"), func(s string) bool { return s == "during rows=0 checksum=0" })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: tables\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	// A corrupted artifact fails the restore with ERROR and a clear fault.
	bad := waitBackup(ctx, t, sc, createBackup(ctx, t, sc, "to-corrupt", src.ID, "").ID)
	artifact := filepath.Join(h.dataDir, "backups", bad.ID+".xbstream.gz")
	f, err := os.OpenFile(artifact, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("corrupted!"), 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rid, err := restore(ctx, sc, "from-corrupt", bad.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, backupTimeout, "restore from a corrupted artifact to fail", func() bool {
		i, err := instances.Get(ctx, sc, rid).Extract()
		return err == nil && i.Status == "ERROR"
	})
	if i, _ := instances.Get(ctx, sc, rid).Extract(); i == nil || i.Fault == nil || !strings.Contains(i.Fault.Message, "checksum") {
		t.Errorf("fault of the corrupted restore = %+v, want a checksum message", i)
	}
	if pids := enginePIDs(filepath.Join(h.dataDir, "instances", rid)); len(pids) != 0 {
		t.Errorf("an engine runs on the failed restore: %v", pids)
	}

	// Backups outlive their instance.
	if err := instances.Delete(ctx, sc, src.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, src.ID, time.Minute)
	if _, err := getBackup(ctx, sc, full.ID); err != nil {
		t.Errorf("backup gone with its instance: %v", err)
	}
	// Deleting the full backup deletes its incremental and both artifacts.
	if _, err := sc.Delete(ctx, sc.ServiceURL("backups", full.ID), &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{full.ID, inc.ID} {
		if _, err := getBackup(ctx, sc, id); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("backup %s after deleting the chain: %v, want 404", id, err)
		}
		if _, err := os.Stat(filepath.Join(h.dataDir, "backups", id+".xbstream.gz")); !os.IsNotExist(err) {
			t.Errorf("artifact of %s left: %v", id, err)
		}
	}
}

// TestBackupCrash kills hoard with SIGKILL while a backup runs: after the
// restart the backup ends COMPLETED (the step is redone), no backup tool
// outlives hoard, and no partial artifact or scratch file is left.
func TestBackupCrash(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	src, err := instances.Create(ctx, sc, createOpts("bk-crash")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)
	fill(ctx, t, openDB(t, inst.IP[0], "app", "app-pw-123", "shop"), 20000)

	// Crash at a step boundary first (HOARD_TEST_CRASH_AT), then in the
	// middle of the tool's run (SIGKILL while BUILDING).
	h.stop()
	h.start("HOARD_TEST_CRASH_AT=backup:activate:before")
	sc = h.client(ctx)
	b1, err := tryCreateBackup(ctx, sc, "crash-boundary", src.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.wait(backupTimeout); err == nil {
		t.Fatal("hoard exited cleanly, want a crash")
	}
	h.start()
	sc = h.client(ctx)
	waitBackup(ctx, t, sc, b1.ID)
	waitStatus(ctx, t, sc, src.ID, "ACTIVE", time.Minute)

	b2 := createBackup(ctx, t, sc, "crash-middle", src.ID, "")
	waitFor(t, backupTimeout, "backup to be BUILDING", func() bool {
		b, err := getBackup(ctx, sc, b2.ID)
		return err == nil && b.Status != "NEW"
	})
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	_ = h.wait(30 * time.Second)
	waitFor(t, 30*time.Second, "no backup tool left", func() bool { return len(toolPIDs()) == 0 })
	h.start()
	sc = h.client(ctx)
	waitBackup(ctx, t, sc, b2.ID)
	waitStatus(ctx, t, sc, src.ID, "ACTIVE", time.Minute)
	ents, _ := os.ReadDir(filepath.Join(h.dataDir, "backups"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("partial artifact left: %s", e.Name())
		}
	}
	if work, _ := os.ReadDir(filepath.Join(h.dataDir, "backup-work")); len(work) != 0 {
		t.Errorf("scratch left in backup-work: %d entries", len(work))
	}
}

// toolPIDs lists running mariadb-backup and mbstream processes.
func toolPIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(b)) {
		case "mariadb-backup", "mbstream":
			var pid int
			fmt.Sscan(e.Name(), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}
