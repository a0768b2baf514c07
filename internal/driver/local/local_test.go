package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProvisionIdempotent(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	s := h.spec("prov")
	for range 2 {
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(h.root, "prov")
	if got := readFile(t, filepath.Join(dir, "data", "init-count")); got != "init\n" {
		t.Errorf("init-count = %q, want one init", got)
	}
	if got := readFile(t, filepath.Join(dir, "log", "init.log")); !strings.Contains(got, "fake init done") {
		t.Errorf("init.log = %q", got)
	}
	// The config always reflects the current spec.
	s.Port++
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(dir, "conf", "fake.conf")), "listen=127.0.0.1:"; !strings.HasPrefix(got, want) ||
		!strings.Contains(got, ":"+strconv.Itoa(s.Port)+"\n") {
		t.Errorf("fake.conf = %q, want port %d", got, s.Port)
	}
	if st, err := d.State(ctx, "prov"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}

	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if a := instanceAccount(t, d, "prov"); a.asRoot {
		uid, gid = a.uid, a.gid
	}
	tests := []struct {
		path     string
		perm     os.FileMode
		uid, gid uint32
	}{
		{"conf", 0o750, uint32(os.Geteuid()), gid},
		{"conf/fake.conf", 0o640, uint32(os.Geteuid()), gid},
		{"data", 0o700, uid, gid},
		{"run", 0o750, uid, gid},
		{"log", 0o750, uid, gid},
		{"data/init-count", 0o600, uid, gid},
	}
	for _, tt := range tests {
		fi, err := os.Stat(filepath.Join(dir, tt.path))
		if err != nil {
			t.Error(err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != tt.perm || st.Uid != tt.uid || st.Gid != tt.gid {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", tt.path, fi.Mode().Perm(), st.Uid, st.Gid, tt.perm, tt.uid, tt.gid)
		}
	}
}

func TestProvisionRedoesInterruptedInit(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	s := h.spec("intr")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	// An init that died half-way: data without the marker.
	dir := filepath.Join(h.root, "intr")
	if err := os.Remove(filepath.Join(dir, markerName)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "junk"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, "data", "junk")) {
		t.Error("junk of the interrupted init is still there")
	}
	if got := readFile(t, filepath.Join(dir, "data", "init-count")); got != "init\n" {
		t.Errorf("init-count = %q, want one init", got)
	}
	if !exists(filepath.Join(dir, markerName)) {
		t.Error("no marker")
	}
}

func TestProvisionInitFails(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init-fail"})
	d := h.driver(nil)
	ctx := context.Background()
	err := d.Provision(ctx, h.spec("fail"))
	if err == nil || !strings.Contains(err.Error(), "init failed: boom") || !strings.Contains(err.Error(), "starting init") {
		t.Fatalf("Provision = %v, want the end of init.log", err)
	}
	if exists(filepath.Join(h.root, "fail", markerName)) {
		t.Error("marker written although init failed")
	}
	if err := d.Start(ctx, h.spec("fail")); fault.KindOf(err) != fault.Conflict {
		t.Errorf("Start of uninitialised instance = %v, want conflict", err)
	}
}

func TestStartStopRestart(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	s := h.spec("ssr")
	if err := d.Start(ctx, s); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("Start before Provision = %v, want ErrNotFound", err)
	}
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("ssr")
	if !hd.Want || hd.PID == 0 || hd.StartTime == 0 || hd.Exe != fakeBin || hd.Engine != "fake" || !reflect.DeepEqual(hd.Spec, s) {
		t.Fatalf("handle = %+v", hd)
	}
	waitReady(t, s)
	if st, err := d.State(ctx, "ssr"); err != nil || st != driver.StateRunning {
		t.Errorf("State = %v, %v; want running", st, err)
	}
	// The engine runs as the engine user and cannot rewrite its config.
	if got, want := procUID(t, hd.PID), engineUID(t, d, "ssr"); got != want {
		t.Errorf("engine uid = %d, want %d", got, want)
	}
	if os.Geteuid() == 0 {
		log := filepath.Join(h.root, "ssr", "log", "server.log")
		eventually(t, "server.log says whether conf is writable", func() bool {
			b, _ := os.ReadFile(log)
			return strings.Contains(string(b), "conf writable:")
		})
		if got := readFile(t, log); !strings.Contains(got, "conf writable: false") {
			t.Errorf("server.log = %q, want the config not writable", got)
		}
	}
	if c := d.Conn(s); c.Address != s.Address || c.Port != s.Port || c.Socket != filepath.Join(h.root, "ssr", "run", "fake.sock") {
		t.Errorf("Conn = %+v", c)
	}

	// Start again: no-op.
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := h.handle("ssr").PID; got != hd.PID {
		t.Errorf("second Start changed pid %d → %d", hd.PID, got)
	}

	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("old engine still runs after Restart")
	}
	hd2 := h.handle("ssr")
	if hd2.PID == hd.PID || !hd2.Want {
		t.Errorf("handle after Restart = %+v, old pid %d", hd2, hd.PID)
	}
	waitReady(t, s)
	if got := readFile(t, filepath.Join(h.root, "ssr", "data", "init-count")); got != "init\n" {
		t.Errorf("init-count = %q after restart; data not kept", got)
	}

	if err := d.Stop(ctx, "ssr"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd2.PID, hd2.StartTime) {
		t.Error("engine still runs after Stop")
	}
	if hd3 := h.handle("ssr"); hd3.Want || hd3.PID != 0 {
		t.Errorf("handle after Stop = %+v", hd3)
	}
	if st, err := d.State(ctx, "ssr"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
	if err := d.Stop(ctx, "ssr"); err != nil {
		t.Errorf("second Stop = %v", err)
	}
	select {
	case ev := <-h.events:
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "stubborn"})
	d := h.driver(func(c *Config) { c.StopTimeout = 200 * time.Millisecond })
	ctx := context.Background()
	s := h.spec("stub")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("stub")
	waitReady(t, s)
	if err := d.Stop(ctx, "stub"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("engine still runs after Stop")
	}
	if got := readFile(t, filepath.Join(h.root, "stub", "log", "server.log")); !strings.Contains(got, "ignoring SIGTERM") ||
		strings.Contains(got, "bye") {
		t.Errorf("server.log = %q, want SIGTERM ignored and no clean exit", got)
	}
}

func TestCrashIsRestarted(t *testing.T) {
	eng := &fakeEngine{serve: "serve"}
	h := newHarness(t, eng)
	d := h.driver(nil)
	ctx := context.Background()
	s := h.spec("crash")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("crash")
	waitReady(t, s)
	for i := range 2 { // the second crash follows a recovery
		if err := syscall.Kill(hd.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if ev := h.event(driver.EventExited); ev.InstanceID != "crash" || !strings.Contains(ev.Detail, "killed") {
			t.Errorf("crash %d: event %+v", i, ev)
		}
		h.event(driver.EventRecovered)
		hd2 := h.handle("crash")
		if hd2.PID == hd.PID || !hd2.Want {
			t.Fatalf("crash %d: handle after recovery = %+v, old pid %d", i, hd2, hd.PID)
		}
		hd = hd2
	}
	waitReady(t, s)
	pings := eng.pings()
	if len(pings) == 0 {
		t.Fatal("no pings")
	}
	want := datastore.Conn{Address: s.Address, Port: s.Port, Socket: d.Conn(s).Socket, User: "admin", Password: "pw"}
	if pings[0] != want {
		t.Errorf("ping conn = %+v, want %+v", pings[0], want)
	}
	if err := d.Stop(ctx, "crash"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("engine still runs after Stop")
	}
}

// TestRecoverAfterRestart simulates a hoard restart: driver A starts an
// engine and closes, driver B re-attaches to it, supervises it (a crash is
// noticed by polling, as it is not B's child) and stops it.
func TestRecoverAfterRestart(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	s := h.spec("rec")
	a := h.driver(nil)
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("rec")
	waitReady(t, s)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if gone(hd.PID, hd.StartTime) {
		t.Fatal("engine died with its driver")
	}
	if err := a.Start(ctx, s); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Start on closed driver = %v", err)
	}

	b := h.driver(nil)
	if st, err := b.State(ctx, "rec"); err != nil || st != driver.StateRunning {
		t.Errorf("State before Recover = %v, %v; want running", st, err)
	}
	if err := b.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	if err := b.Recover(ctx, []driver.Spec{s}); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := h.handle("rec"); got.PID != hd.PID {
		t.Errorf("Recover replaced pid %d with %d", hd.PID, got.PID)
	}
	if err := b.Start(ctx, s); err != nil { // already running: no-op
		t.Fatal(err)
	}
	if got := h.handle("rec"); got.PID != hd.PID {
		t.Errorf("Start after Recover replaced pid %d with %d", hd.PID, got.PID)
	}

	// A crash of the re-attached engine is noticed and repaired.
	if err := syscall.Kill(hd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.event(driver.EventExited)
	h.event(driver.EventRecovered)
	hd2 := h.handle("rec")
	if hd2.PID == hd.PID {
		t.Fatal("no new pid after crash")
	}
	waitReady(t, s)

	if err := b.Stop(ctx, "rec"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd2.PID, hd2.StartTime) {
		t.Error("engine still runs after Stop")
	}
	if st, err := b.State(ctx, "rec"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
}

// TestRecoverStopWithoutRecover: a new driver can stop an engine it has not
// re-attached to yet, by its handle.
func TestStopByHandle(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	s := h.spec("byh")
	a := h.driver(nil)
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("byh")
	a.Close()
	b := h.driver(nil)
	if err := b.Stop(ctx, "byh"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("engine still runs after Stop")
	}
	// Recover must not start it again: it was stopped.
	if err := b.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	if st, err := b.State(ctx, "byh"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
}

func TestRecoverStartsEngineThatDied(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	s := h.spec("died")
	a := h.driver(nil)
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("died")
	waitReady(t, s)
	a.Close()
	if err := syscall.Kill(hd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "engine is dead", func() bool { return gone(hd.PID, hd.StartTime) })

	b := h.driver(nil)
	if st, err := b.State(ctx, "died"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
	if err := b.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	hd2 := h.handle("died")
	if hd2.PID == hd.PID || !hd2.Want {
		t.Fatalf("handle after Recover = %+v", hd2)
	}
	waitReady(t, s)
	if err := b.Stop(ctx, "died"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd2.PID, hd2.StartTime) {
		t.Error("engine still runs after Stop")
	}
}

func TestRecoverReapsOrphans(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ctx := context.Background()
	keep, orph := h.spec("keep"), h.spec("orph")
	a := h.driver(nil)
	for _, s := range []driver.Spec{keep, orph} {
		if err := a.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	ho := h.handle("orph")
	a.Close()
	// Not an instance: Recover leaves it alone.
	if err := os.Mkdir(filepath.Join(h.root, "other"), 0o755); err != nil {
		t.Fatal(err)
	}

	b := h.driver(nil)
	if err := b.Recover(ctx, []driver.Spec{keep}); err != nil {
		t.Fatal(err)
	}
	if !gone(ho.PID, ho.StartTime) {
		t.Error("orphan engine still runs")
	}
	if exists(filepath.Join(h.root, "orph")) {
		t.Error("orphan directory still there")
	}
	if !exists(filepath.Join(h.root, "other")) {
		t.Error("Recover removed a directory that is no instance")
	}
	if st, err := b.State(ctx, "keep"); err != nil || st != driver.StateRunning {
		t.Errorf("State of kept instance = %v, %v; want running", st, err)
	}
	if err := b.Destroy(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
}

func TestDestroy(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	s := h.spec("des")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if n, err := d.UsedBytes(ctx, "des"); err != nil || n != int64(len("init\n")) {
		t.Errorf("UsedBytes = %d, %v; want %d", n, err, len("init\n"))
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	hd := h.handle("des")
	if err := d.Destroy(ctx, "des"); err != nil {
		t.Fatal(err)
	}
	if !gone(hd.PID, hd.StartTime) {
		t.Error("engine still runs after Destroy")
	}
	if exists(filepath.Join(h.root, "des")) {
		t.Error("instance directory still there")
	}
	if st, err := d.State(ctx, "des"); err != nil || st != driver.StateAbsent {
		t.Errorf("State = %v, %v; want absent", st, err)
	}
	if err := d.Destroy(ctx, "des"); err != nil {
		t.Errorf("second Destroy = %v", err)
	}
	if err := d.Stop(ctx, "des"); err != nil {
		t.Errorf("Stop of absent instance = %v", err)
	}
	if _, err := d.UsedBytes(ctx, "des"); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("UsedBytes of absent instance = %v, want ErrNotFound", err)
	}
	select {
	case ev := <-h.events:
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}

func TestParallelInstances(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve", init: "init"})
	d := h.driver(nil)
	ctx := context.Background()
	specs := []driver.Spec{h.spec("p1"), h.spec("p2"), h.spec("p3")}
	errs := make(chan error, len(specs))
	for _, s := range specs {
		go func() {
			if err := d.Provision(ctx, s); err != nil {
				errs <- err
				return
			}
			errs <- d.Start(ctx, s)
		}()
	}
	for range specs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, s := range specs {
		waitReady(t, s)
	}
	for _, s := range specs {
		go func() { errs <- d.Destroy(ctx, s.InstanceID) }()
	}
	for range specs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestInvalid(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	d := h.driver(nil)
	ctx := context.Background()
	tests := []struct {
		name string
		spec driver.Spec
	}{
		{"empty id", driver.Spec{Engine: "fake"}},
		{"dot dot", driver.Spec{InstanceID: "..", Engine: "fake"}},
		{"slash", driver.Spec{InstanceID: "a/b", Engine: "fake"}},
		{"unknown engine", driver.Spec{InstanceID: "x", Engine: "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Provision(ctx, tt.spec); fault.KindOf(err) != fault.Invalid {
				t.Errorf("Provision = %v, want invalid", err)
			}
		})
	}
	t.Run("socket path too long", func(t *testing.T) {
		deep := h.driver(func(c *Config) { c.Root = filepath.Join(h.root, strings.Repeat("r", 60)) })
		s := driver.Spec{InstanceID: strings.Repeat("x", 40), Engine: "fake", Address: "127.0.0.1", Port: 1}
		if err := deep.Provision(ctx, s); fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "socket path") {
			t.Errorf("Provision = %v, want invalid socket path", err)
		}
		if exists(filepath.Join(deep.root, s.InstanceID)) {
			t.Error("directory created for an instance that cannot be provisioned")
		}
	})
}

// TestRestartedEngineNeverReady: an engine restarted by supervision that
// does not answer within ReadyTimeout is killed and started again, and no
// recovery is reported.
func TestRestartedEngineNeverReady(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "deaf"})
	d := h.driver(func(c *Config) { c.ReadyTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	s := h.spec("deaf")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := h.handle("deaf")
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.event(driver.EventExited)
	seen := map[int]bool{first.PID: true}
	eventually(t, "two restarts", func() bool {
		b, err := os.ReadFile(filepath.Join(h.root, "deaf", handleName))
		if err != nil {
			return false
		}
		hd, err := decodeHandle(b)
		if err != nil {
			return false
		}
		seen[hd.PID] = true
		return len(seen) >= 3
	})
	if err := d.Stop(ctx, "deaf"); err != nil {
		t.Fatal(err)
	}
	if st, err := d.State(ctx, "deaf"); err != nil || st != driver.StateStopped {
		t.Errorf("State = %v, %v; want stopped", st, err)
	}
	select {
	case ev := <-h.events:
		t.Errorf("unexpected event %+v", ev)
	default:
	}
}
