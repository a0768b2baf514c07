package e2e

import (
	"context"
	"database/sql/driver"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// settleTimeout bounds how long an instance whose volume filled up may take
// to show a status that matches its engine (supervision's back-off runs up
// to 30 s between restarts).
const settleTimeout = 3 * time.Minute

// TestFullVolumeRecovery fills a 1 GB MariaDB volume with one large
// transaction of 8 MiB blobs, the case where InnoDB may abort ("Out of disk
// space in rollback") instead of answering ERROR 1114. Whatever the engine
// does, the API never answers 500 and the instance settles in a truthful
// status: ACTIVE while the engine answers, SHUTDOWN while it keeps dying.
// From there the user's way out, a volume resize to 2 GB, must be accepted
// and bring the instance back ACTIVE with its committed rows intact and
// room for new writes.
func TestFullVolumeRecovery(t *testing.T) {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		enginetest.Unavailable(t, "no loop devices: %v", err)
	}
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	created, err := instances.Create(ctx, sc, createOpts("full-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID
	inst := waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
	vol := filepath.Join(h.dataDir, "instances", id, "vol")
	elog := func() string {
		b, _ := os.ReadFile(filepath.Join(h.dataDir, "instances", id, "log", "error.log"))
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		return string(b)
	}
	// getInst reads the instance, failing the test on any error (a 5xx
	// above all).
	getInst := func() *instances.Instance {
		t.Helper()
		got, err := instances.Get(ctx, sc, id).Extract()
		if err != nil {
			var code gophercloud.ErrUnexpectedResponseCode
			if errors.As(err, &code) && code.Actual >= http.StatusInternalServerError {
				t.Fatalf("GET instance answered %d: %s", code.Actual, code.Body)
			}
			t.Fatalf("GET instance: %v", err)
		}
		return got
	}

	db := openDB(t, inst.IP[0], "app", "app-pw-123", "shop")
	db.SetMaxOpenConns(2)
	known := []string{"alpha", "bravo", "charlie"}
	for _, q := range []string{
		"CREATE TABLE known (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB",
		"INSERT INTO known VALUES (1, 'alpha'), (2, 'bravo'), (3, 'charlie')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	checkKnown := func() error {
		rows, err := db.QueryContext(ctx, "SELECT v FROM known ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			got = append(got, v)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if strings.Join(got, ",") != strings.Join(known, ",") {
			t.Errorf("committed rows = %v, want %v", got, known)
		}
		return nil
	}
	if err := checkKnown(); err != nil {
		t.Fatal(err)
	}

	// One transaction of 8 MiB rows (made by the server: REPEAT stays under
	// the default max_allowed_packet of 16 MiB) until the volume is full.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	var fillErr error
	for i := 0; ; i++ {
		if i > 200 { // 1.6 GB into a 1 GB volume
			t.Fatal("the volume never filled up: its size is not enforced")
		}
		if _, fillErr = conn.ExecContext(ctx, "INSERT INTO blobs (b) VALUES (REPEAT('x', 8388608))"); fillErr != nil {
			t.Logf("volume full after %d blobs of 8 MiB: %v", i, fillErr)
			break
		}
	}
	var full *mysql.MySQLError
	if errors.As(fillErr, &full) {
		if full.Number != 1114 {
			t.Errorf("insert into a full volume: %v, want ERROR 1114 or a dead engine", fillErr)
		}
		// The engine answered; undo the transaction (this is where InnoDB
		// may need pages it does not have).
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Logf("rollback on the full volume: %v", err)
		}
	}
	// Whatever state the session is in, it is not returned to the pool.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()

	// The engine answers or not; the status must say so, and the API never
	// fails. A settled status is one seen twice, 2 s apart, that matches the
	// engine both times.
	answers := func() bool {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return db.PingContext(pctx) == nil && db.QueryRowContext(pctx, "SELECT 1").Err() == nil
	}
	truthful := func() (string, bool) {
		st := getInst().Status
		switch st {
		case "ACTIVE":
			return st, answers()
		case "SHUTDOWN":
			return st, !answers()
		case "ERROR", "FAILED":
			t.Fatalf("instance went to %s after its volume filled; error.log:\n%s", st, elog())
		}
		return st, false
	}
	deadline := time.Now().Add(settleTimeout)
	var settled string
	seen := map[string]bool{}
	for streak := 0; streak < 2; {
		st, ok := truthful()
		seen[st] = true
		switch {
		case ok && st == settled:
			streak++
		case ok:
			settled, streak = st, 1
		default:
			settled, streak = "", 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("no truthful status within %s (statuses seen %v, last %s); error.log:\n%s", settleTimeout, seen, st, elog())
		}
		if streak < 2 {
			pollPause(2 * time.Second)
		}
	}
	t.Logf("after the volume filled: instance %s (statuses seen %v)", settled, seen)
	if settled == "SHUTDOWN" && !strings.Contains(elog(), "Out of disk space") && !strings.Contains(elog(), "No space left") {
		t.Logf("engine down without a disk-space message; error.log:\n%s", elog())
	}

	// The way out: grow the volume, from whatever status it is in.
	if err := instances.ResizeVolume(ctx, sc, id, 2).ExtractErr(); err != nil {
		t.Fatalf("resize volume from %s: %v", settled, err)
	}
	resized := time.Now()
	deadline = resized.Add(2 * activeTimeout)
	for {
		got := getInst()
		if got.Status == "ACTIVE" {
			if got.Volume.Size != 2 {
				t.Errorf("volume after resize = %+v, want size 2", got.Volume)
			}
			// An engine stuck starting on the full volume ignores SIGTERM:
			// the resize must not wait out the 30 s stop timeout for it.
			if took := time.Since(resized); took > 25*time.Second {
				t.Errorf("resize from %s took %s, want well under the 30 s stop timeout", settled, took)
			}
			t.Logf("resize from %s took %s", settled, time.Since(resized).Round(time.Millisecond))
			break
		}
		if got.Status == "ERROR" || got.Status == "FAILED" || got.Status == "BLOCKED" {
			msg := ""
			if got.Fault != nil {
				msg = got.Fault.Message
			}
			t.Fatalf("resize from %s: instance %s (%s); error.log:\n%s", settled, got.Status, msg, elog())
		}
		if time.Now().After(deadline) {
			t.Fatalf("resize from %s: status %s after %s, want ACTIVE; error.log:\n%s", settled, got.Status, 2*activeTimeout, elog())
		}
		pollPause(100 * time.Millisecond)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(vol, &st); err != nil {
		t.Fatal(err)
	}
	if size := int64(st.Blocks) * st.Bsize; size < 19<<30/10 || size > 2<<30 {
		t.Errorf("filesystem after resize is %d bytes, want about 2 GiB", size)
	}
	if err := checkKnown(); err != nil {
		t.Fatalf("engine after resize: %v; error.log:\n%s", err, elog())
	}
	var uncommitted int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM blobs").Scan(&uncommitted); err != nil || uncommitted != 0 {
		t.Errorf("rows of the transaction that never committed = %d, %v; want 0", uncommitted, err)
	}
	for i := range 16 { // 128 MiB more, committed
		if _, err := db.ExecContext(ctx, "INSERT INTO blobs (b) VALUES (REPEAT('z', 8388608))"); err != nil {
			t.Fatalf("insert %d after the volume grew: %v", i, err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO known VALUES (4, 'delta')"); err != nil {
		t.Fatalf("insert after the volume grew: %v", err)
	}
	known = append(known, "delta")
	if err := checkKnown(); err != nil {
		t.Fatal(err)
	}
	if got := getInst(); got.Status != "ACTIVE" {
		t.Errorf("status after new writes = %s, want ACTIVE", got.Status)
	}
	db.Close()

	if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, id, activeTimeout)
}
