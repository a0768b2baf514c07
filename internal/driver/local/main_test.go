package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/cgroup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// The test binary doubles as the fake engine (Nomad's helper/testtask): run
// with fakeEnv set, TestMain runs fakeMain instead of the tests.
const fakeEnv = "HOARD_LOCAL_FAKE_ENGINE"

// fakeBin is a copy of the test binary in a 0755 directory, so that the
// engine user can run it when the tests run as root.
var fakeBin string

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) != "" {
		os.Exit(fakeMain(os.Args[1:]))
	}
	dir, err := copyTestBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "copying test binary:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func copyTestBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "hoard-local-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	src, err := os.Open(self)
	if err != nil {
		return dir, err
	}
	defer src.Close()
	fakeBin = filepath.Join(dir, "fake-engine")
	dst, err := os.OpenFile(fakeBin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return dir, err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return dir, err
	}
	return dir, dst.Close()
}

// fakeMain is the fake engine:
//
//	init DATADIR          appends "init" to DATADIR/init-count
//	init-fail DATADIR     prints a few lines and exits 3
//	serve CONF RUNDIR     listens where CONF says and on RUNDIR/fake.sock; exits on SIGTERM
//	stubborn CONF RUNDIR  the same, but ignores SIGTERM
//	deaf CONF RUNDIR      listens nowhere; exits on SIGTERM
//	dial SRC DST          connects to DST (host:port) from address SRC
//	                      (access_test.go)
func fakeMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "fake engine: bad arguments", args)
		return 2
	}
	switch args[0] {
	case "init":
		f, err := os.OpenFile(filepath.Join(args[1], "init-count"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(f, "init")
		f.Close()
		fmt.Println("fake init done")
		return 0
	case "init-fail":
		fmt.Println("starting init")
		fmt.Fprintln(os.Stderr, "init failed: boom")
		return 3
	case "serve", "stubborn":
		return fakeServe(args[0] == "stubborn", args[1], args[2])
	case "dial": // dial SRC DST: exit 0 when connected, 3 when refused or reset
		return fakeDial(args[1], args[2])
	case "deaf": // runs, never answers
		terms := make(chan os.Signal, 1)
		signal.Notify(terms, syscall.SIGTERM)
		fmt.Println("deaf")
		<-terms
		return 0
	}
	fmt.Fprintln(os.Stderr, "fake engine: unknown mode", args[0])
	return 2
}

func fakeServe(stubborn bool, conf, runDir string) int {
	terms := make(chan os.Signal, 4)
	signal.Notify(terms, syscall.SIGTERM)
	b, err := os.ReadFile(conf)
	if err != nil {
		fmt.Println("reading config:", err)
		return 1
	}
	addr := strings.TrimSpace(strings.TrimPrefix(string(b), "listen="))
	// The config must be readable, never writable, by the engine.
	if f, err := os.OpenFile(conf, os.O_WRONLY, 0); err == nil {
		f.Close()
		fmt.Println("conf writable: true")
	} else {
		fmt.Println("conf writable: false")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	sock := filepath.Join(runDir, "fake.sock")
	os.Remove(sock)
	ul, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	for _, l := range []net.Listener{l, ul} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	fmt.Printf("ready uid=%d pid=%d\n", os.Getuid(), os.Getpid())
	for range terms {
		if stubborn {
			fmt.Println("ignoring SIGTERM")
			continue
		}
		break
	}
	l.Close()
	ul.Close()
	fmt.Println("bye")
	return 0
}

// fakeEngine runs the fake engine above.
type fakeEngine struct {
	serve string // "serve", "stubborn" or "deaf"
	init  string // "init", "init-fail" or "" (no init)

	mu       sync.Mutex
	conns    []datastore.Conn // pings seen
	tmplVer  string           // TemplateVersion ("fake 1" if empty)
	tmplNone bool             // Templatable says no
	confMore string           // added to the rendered config
}

func (*fakeEngine) Name() string                                          { return "fake" }
func (*fakeEngine) Datastores() []string                                  { return []string{"fake"} }
func (*fakeEngine) DefaultPort() int                                      { return 0 }
func (*fakeEngine) AdminUser() string                                     { return "hoard" }
func (*fakeEngine) Bootstrap(context.Context, datastore.Conn) error       { return nil }
func (e *fakeEngine) Process() datastore.Process                          { return fakeProcess{e} }
func (*fakeEngine) Discover(context.Context) ([]datastore.Version, error) { return nil, nil }
func (*fakeEngine) CreateDatabases(context.Context, datastore.Conn, []datastore.Database) error {
	return nil
}
func (*fakeEngine) CreateUsers(context.Context, datastore.Conn, []datastore.User) error { return nil }

func (e *fakeEngine) Ping(ctx context.Context, c datastore.Conn) error {
	e.mu.Lock()
	e.conns = append(e.conns, c)
	e.mu.Unlock()
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, "tcp", net.JoinHostPort(c.Address, strconv.Itoa(c.Port)))
	if err != nil {
		return err
	}
	return conn.Close()
}

func (e *fakeEngine) pings() []datastore.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]datastore.Conn(nil), e.conns...)
}

type fakeProcess struct{ e *fakeEngine }

func (p fakeProcess) Render(s datastore.Spec) ([]datastore.File, error) {
	addr := net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
	p.e.mu.Lock()
	more := p.e.confMore
	p.e.mu.Unlock()
	return []datastore.File{{Name: "fake.conf", Content: []byte("listen=" + addr + "\n" + more)}}, nil
}

func (p fakeProcess) InitArgs(s datastore.Spec) []string {
	if p.e.init == "" {
		return nil
	}
	return []string{fakeBin, p.e.init, s.DataDir}
}

func (p fakeProcess) ServerArgs(s datastore.Spec) []string {
	return []string{fakeBin, p.e.serve, filepath.Join(s.ConfDir, "fake.conf"), s.RunDir}
}

// TemplateVersion implements datastore.Templater (used only by drivers
// with a template pool).
func (p fakeProcess) TemplateVersion(context.Context) (string, error) {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	if p.e.tmplVer == "" {
		return "fake 1", nil
	}
	return p.e.tmplVer, nil
}

func (p fakeProcess) Templatable(datastore.Spec) bool {
	p.e.mu.Lock()
	defer p.e.mu.Unlock()
	return !p.e.tmplNone
}

func (fakeProcess) StopSignal() syscall.Signal     { return syscall.SIGTERM }
func (fakeProcess) Socket(s datastore.Spec) string { return filepath.Join(s.RunDir, "fake.sock") }

// harness is one test's root directory, engine and observed events.
type harness struct {
	t      *testing.T
	root   string
	eng    *fakeEngine
	events chan driver.Event
}

func newHarness(t *testing.T, eng *fakeEngine) *harness {
	t.Helper()
	// t.TempDir's parent is 0700; the engine user must traverse the root.
	root, err := os.MkdirTemp("", "hl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, root: root, eng: eng, events: make(chan driver.Event, 100)}
	t.Cleanup(func() {
		killAll(t, root)
		unmountAll(t, root) // never remove files through a mount
		removeUsers(t, root)
		removeCgroups(t, root)
		os.RemoveAll(root)
	})
	return h
}

// killAll kills every engine recorded under root (cleanup after failures).
func killAll(t testing.TB, root string) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(root, e.Name(), handleName))
		if err != nil {
			continue
		}
		h, err := decodeHandle(b)
		if err != nil || h.PID == 0 {
			continue
		}
		if st, err := readStat(h.PID); err == nil && st.StartTime == h.StartTime && st.Pgrp == h.PID {
			t.Logf("cleanup: killing engine %s pid %d", e.Name(), h.PID)
			syscall.Kill(-h.PID, syscall.SIGKILL)
		}
	}
}

// driver returns a new driver on the harness root, closed at cleanup.
func (h *harness) driver(mod func(*Config)) *Driver {
	h.t.Helper()
	cfg := Config{
		Root:        h.root,
		Engines:     map[string]datastore.Engine{"fake": h.eng},
		Observer:    func(ev driver.Event) { h.events <- ev },
		Logger:      slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		StopTimeout: 10 * time.Second,
		Env:         []string{fakeEnv + "=1", "GORACE=atexit_sleep_ms=0"}, // no 1 s pause at exit
		Credentials: func(string) (string, datastore.Secret) { return "admin", "pw" },
		// Plain directories unless a test asks for loop volumes
		// (volume_test.go), which need root.
		Volumes: VolumesDir,
		tune: func(d *Driver) {
			d.backoffMin = 10 * time.Millisecond
			d.backoffMax = 40 * time.Millisecond
			d.pollEvery = 20 * time.Millisecond
			d.pingEvery = 10 * time.Millisecond
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { d.Close() })
	return d
}

// spec returns a spec for instance id on a free port.
func (h *harness) spec(id string) driver.Spec {
	return driver.Spec{InstanceID: id, Engine: "fake", Address: "127.0.0.1", Port: freePort(h.t), RAMMB: 512, VolumeGB: 1}
}

// event waits for the next event, which must be of kind k.
func (h *harness) event(k driver.EventKind) driver.Event {
	h.t.Helper()
	select {
	case ev := <-h.events:
		if ev.Kind != k {
			h.t.Fatalf("event %+v, want kind %s", ev, k)
		}
		return ev
	case <-time.After(20 * time.Second):
		h.t.Fatalf("no %s event", k)
	}
	return driver.Event{}
}

// handle reads instance id's handle.
func (h *harness) handle(id string) *handle {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.root, id, handleName))
	if err != nil {
		h.t.Fatal(err)
	}
	hd, err := decodeHandle(b)
	if err != nil {
		h.t.Fatal(err)
	}
	return hd
}

// waitReady waits until the engine of s accepts connections.
func waitReady(t *testing.T, s driver.Spec) {
	t.Helper()
	addr := net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
	eventually(t, "engine "+s.InstanceID+" answers", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// gone reports whether the process pid started at startTime has exited.
func gone(pid int, startTime uint64) bool {
	st, err := readStat(pid)
	return err != nil || st.dead() || st.StartTime != startTime
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// engineUID is the uid instance id's engine should run as.
func engineUID(t *testing.T, d *Driver, id string) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Geteuid()
	}
	return int(instanceAccount(t, d, id).uid)
}

// instanceAccount is the account of instance id, which must exist.
func instanceAccount(t *testing.T, d *Driver, id string) account {
	t.Helper()
	a, err := d.account(context.Background(), id, false)
	if err != nil {
		t.Fatalf("account of instance %s: %v", id, err)
	}
	return a
}

// removeCgroups removes the cgroups of the instances under root.
func removeCgroups(t testing.TB, root string) {
	cg, err := cgroup.New(cgroup.Config{})
	if err != nil {
		return
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if err := cg.Remove(e.Name()); err != nil && validID(e.Name()) {
			t.Logf("cleanup: %v", err)
		}
	}
}

// removeUsers removes the users of the instances under root (cleanup of
// tests that do not destroy their instances).
func removeUsers(t testing.TB, root string) {
	if os.Geteuid() != 0 {
		return
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		name := userNameFor(real, e.Name())
		if _, err := user.Lookup(name); err == nil {
			if err := userTool(context.Background(), "userdel", name); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
		if _, err := user.LookupGroup(name); err == nil {
			if err := userTool(context.Background(), "groupdel", name); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	}
}

// procUID reads the real uid of a process.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			uid, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatal(errors.New("no Uid line"))
	return -1
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
