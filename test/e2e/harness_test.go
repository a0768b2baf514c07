package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// hoardBin is the binary built once by TestMain.
var hoardBin string

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" { // access_test.go: a client as another user
		os.Exit(probeMain(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "hoard-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hoardBin = filepath.Join(dir, "hoard")
	flag.Parse()
	// The tag hoardtest builds in the HOARD_TEST_CRASH_AT hook
	// (cmd/hoard/crash.go) the crash-resume tests use; unset, it does
	// nothing, so benchmarks measure what users run.
	args := []string{"build", "-race", "-tags", "hoardtest", "-o", hoardBin, "github.com/hoard-db/hoard/cmd/hoard"}
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		// Benchmarks measure hoard as users run it: no race detector.
		args = []string{"build", "-tags", "hoardtest", "-o", hoardBin, "github.com/hoard-db/hoard/cmd/hoard"}
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hoard:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminPassword = "e2e-admin-secret"

// poolCounter gives each hoard started by this test binary its own
// address pool, so that parallel packages and tests never collide.
var (
	poolMu      sync.Mutex
	poolCounter = 0
)

// haPool is the HA group address pool that goes with instance pool p:
// 127.X.Y.0/24 → 127.(X+50).Y.0/24 (X is 100–149).
func haPool(p string) string {
	var x, y int
	if _, err := fmt.Sscanf(p, "127.%d.%d.0/24", &x, &y); err != nil {
		panic("haPool: " + p)
	}
	return fmt.Sprintf("127.%d.%d.0/24", x+50, y)
}

func nextPool() string {
	poolMu.Lock()
	defer poolMu.Unlock()
	poolCounter++
	// 127.0.100.0/24 ... one /24 per hoard; pid spreads concurrent runs.
	return fmt.Sprintf("127.%d.%d.0/24", 100+(os.Getpid()%50), poolCounter%250)
}

// hoard is a running `hoard serve` under test.
type hoard struct {
	t       testing.TB
	dataDir string
	listen  string
	pool    string
	env     []string
	cmd     *exec.Cmd
	done    chan error
	logMu   sync.Mutex
	log     strings.Builder
}

// startHoard starts hoard with a fresh data directory and waits until it
// answers. Extra env entries (KEY=VALUE) are added to its environment.
func startHoard(t *testing.T, env ...string) *hoard {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the end-to-end tests must run as root (engines run as the hoard system user)")
	}
	dataDir, err := os.MkdirTemp("", "hoard-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	h := &hoard{t: t, dataDir: dataDir, listen: freeAddr(t), pool: nextPool()}
	t.Cleanup(func() { h.destroy() })
	h.start(env...)
	return h
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the hoard process (again) on the same data directory.
func (h *hoard) start(env ...string) {
	h.t.Helper()
	h.env = env
	cmd := exec.Command(hoardBin, "serve",
		"--listen", h.listen,
		"--data-dir", h.dataDir,
		"--admin-password", adminPassword,
		"--address-pool", h.pool,
		"--ha-address-pool", haPool(h.pool),
		"--rate-limit", "0",
		"--log-level", "debug",
		"--shutdown-grace", "5s",
	)
	// No template pool unless a test asks for one (HOARD_TEMPLATE_POOL=N
	// in env, which comes later and wins): its background inits would
	// load the machine under every other test. TestEngines creates its
	// PostgreSQL instance from the pool.
	cmd.Env = append(append(os.Environ(), "HOARD_TEMPLATE_POOL=0"), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			h.logMu.Lock()
			h.log.WriteString(sc.Text() + "\n")
			h.logMu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
	h.done = make(chan error, 1)
	go func() { h.done <- cmd.Wait(); pw.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	health := http.Get
	healthURL := "http://" + h.listen + "/healthcheck"
	if slices.Contains(env, tlsAutoEnv) { // tls_test.go
		health, healthURL = readinessOverTLS, "https://"+h.listen+"/healthcheck"
	}
	for {
		resp, err := health(healthURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-h.done:
			h.done <- err
			h.t.Fatalf("hoard exited before it was ready: %v\n%s", err, h.logs())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("hoard not ready within 60s\n%s", h.logs())
		}
		pollPause(20 * time.Millisecond)
	}
}

func (h *hoard) logs() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

// stop sends SIGTERM (graceful shutdown) and waits.
func (h *hoard) stop() {
	h.t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	h.wait(30 * time.Second)
}

// wait waits for the hoard process to exit.
func (h *hoard) wait(d time.Duration) error {
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(d):
		h.t.Fatalf("hoard did not exit within %s", d)
		return nil
	}
}

func (h *hoard) running() bool {
	select {
	case err := <-h.done:
		h.done <- err
		return false
	default:
		return true
	}
}

// destroy stops hoard, kills every engine it left and removes its data.
func (h *hoard) destroy() {
	if h.running() {
		_ = h.cmd.Process.Signal(syscall.SIGKILL)
		<-h.done
	}
	// Every engine of the data directory, whatever its kind: hoard's
	// engines outlive hoard by design.
	for _, pid := range processesUnder(h.dataDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitFor(h.t, 30*time.Second, "engines of the test to exit", func() bool { return len(processesUnder(h.dataDir)) == 0 })
	if h.t.Failed() {
		h.t.Logf("hoard log:\n%s", h.logs())
	}
	users := instanceUsers(h.dataDir)
	unmountUnder(h.t, h.dataDir) // instance volumes (volume_test.go)
	os.RemoveAll(h.dataDir)
	// The OS users of instances the test did not delete (hoard removes an
	// instance's user when it deletes the instance).
	for _, u := range users {
		_ = exec.Command("userdel", u).Run()
		_ = exec.Command("groupdel", u).Run()
	}
}

// processesUnder lists live processes (not zombies) whose command line
// names dir or whose working directory is under it: every engine of one
// hoard data directory (Redis rewrites its command line, but runs in its
// data directory).
func processesUnder(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if !strings.Contains(string(cmdline), dir) && cwd != dir && !strings.HasPrefix(cwd, dir+"/") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// instanceUsers returns the names of the OS users hoard made for the
// instances of data directory dir: those whose comment is
// "hoard instance <id>" for an instance directory there.
func instanceUsers(dir string) []string {
	ents, _ := os.ReadDir(filepath.Join(dir, "instances"))
	ids := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids[e.Name()] = true
		}
	}
	b, _ := os.ReadFile("/etc/passwd")
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 5 {
			continue
		}
		if id, ok := strings.CutPrefix(f[4], "hoard instance "); ok && ids[id] && strings.HasPrefix(f[0], "hoard-") {
			names = append(names, f[0])
		}
	}
	return names
}

// enginePIDs lists live processes (not zombies) whose command line mentions
// dir: the engines of one hoard data directory.
func enginePIDs(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		if !strings.Contains(string(cmdline), "mariadbd") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		pollPause(10 * time.Millisecond)
	}
}

// client logs in as the bootstrap admin through the built-in identity
// service (Keystone v3) and returns a database service client found in
// the catalog, exactly as a gophercloud user would.
func (h *hoard) client(ctx context.Context) *gophercloud.ServiceClient {
	h.t.Helper()
	pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: "http://" + h.listen + "/identity/v3",
		Username:         "admin",
		Password:         adminPassword,
		TenantName:       "admin",
		DomainName:       "Default",
	})
	if err != nil {
		h.t.Fatalf("login: %v", err)
	}
	sc, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		h.t.Fatalf("database endpoint: %v", err)
	}
	return sc
}

// waitStatus polls an instance until its status is want, failing early on
// a status in fail. It returns the instance.
func waitStatus(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string, want string, d time.Duration) *instances.Instance {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		inst, err := instances.Get(ctx, sc, id).Extract()
		if err == nil {
			last = inst.Status
			if inst.Status == want {
				return inst
			}
			if inst.Status == "ERROR" || inst.Status == "FAILED" {
				msg := ""
				if inst.Fault != nil {
					msg = inst.Fault.Message
				}
				t.Fatalf("instance %s went to %s (%s) while waiting for %s", id, inst.Status, msg, want)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s: status %q after %s, want %s (last error %v)", id, last, d, want, err)
		}
		pollPause(50 * time.Millisecond)
	}
}

// waitGone polls until GET on the instance answers 404.
func waitGone(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string, d time.Duration) {
	t.Helper()
	waitFor(t, d, "instance "+id+" to be deleted", func() bool {
		_, err := instances.Get(ctx, sc, id).Extract()
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound)
	})
}

// openDB connects to an instance over TCP as a database user.
func openDB(t *testing.T, addr, user, password, db string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(addr, "3306")
	cfg.User = user
	cfg.Passwd = password
	cfg.DBName = db
	cfg.Timeout = 5 * time.Second
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// instanceSocket is the engine socket of an instance, where the host's
// root may log in (unix_socket authentication) as an operator would.
func (h *hoard) instanceSocket(id string) string {
	return filepath.Join(h.dataDir, "instances", id, "run", "mysqld.sock")
}

// rootSQL runs SQL as the host's root over the instance socket with the
// mariadb client and returns its tab-separated output.
func (h *hoard) rootSQL(t *testing.T, id, query string) string {
	t.Helper()
	out, err := exec.Command("mariadb", "--socket="+h.instanceSocket(id), "-uroot", "-N", "-B", "-e", query).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb -e %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// pollPause waits between two polls of a condition that has a deadline.
func pollPause(d time.Duration) { <-time.After(d) }

// acceptedOrCut reports whether an API call was accepted: a 2xx, or no
// answer at all because hoard was killed right after it committed the
// task (the client then sees EOF; the operation still happens).
func acceptedOrCut(err error) bool {
	var code gophercloud.ErrUnexpectedResponseCode
	return err == nil || !errors.As(err, &code)
}

// crashAt restarts h so that it kills itself (SIGKILL) at the task step
// boundary spec ("kind:step:phase", HOARD_TEST_CRASH_AT), runs act with
// *sc logged in to it, checks that it crashed, and starts it again; it
// returns a client of the restarted hoard.
func (h *hoard) crashAt(ctx context.Context, t *testing.T, spec string, sc **gophercloud.ServiceClient, act func()) *gophercloud.ServiceClient {
	t.Helper()
	h.stop()
	h.start("HOARD_TEST_CRASH_AT=" + spec)
	*sc = h.client(ctx)
	act()
	if err := h.wait(activeTimeout); err == nil {
		t.Fatalf("hoard exited cleanly, want a crash at %s", spec)
	}
	h.start()
	return h.client(ctx)
}

// waitTemplateReady waits until hoard's template pool holds a ready
// data directory of engine (its /metrics gauge hoard_template_ready).
func waitTemplateReady(t *testing.T, h *hoard, engine string) {
	t.Helper()
	prefix := `hoard_template_ready{engine="` + engine + `",`
	waitFor(t, 3*time.Minute, "a pre-initialised "+engine+" data directory", func() bool {
		resp, err := http.Get("http://" + h.listen + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, prefix) && !strings.HasSuffix(line, " 0") {
				return true
			}
		}
		return false
	})
}

// createdFromTemplate reports whether hoard's log says instance id's data
// came from the template pool.
func createdFromTemplate(h *hoard, id string) bool {
	for _, line := range strings.Split(h.logs(), "\n") {
		if strings.Contains(line, "initialised data from a pre-initialised directory") && strings.Contains(line, id) {
			return true
		}
	}
	return false
}

// waitTemplatesFull waits until hoard's template pool holds n ready data
// directories of every engine with templates (each series of the /metrics
// gauge hoard_template_ready at n, MariaDB's among them): its filler has
// nothing left to build.
func waitTemplatesFull(tb testing.TB, h *hoard, n int) {
	tb.Helper()
	full := func() bool {
		resp, err := http.Get("http://" + h.listen + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		maria := false
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, "hoard_template_ready{") {
				continue
			}
			_, v, _ := strings.Cut(line, "} ")
			if ready, err := strconv.Atoi(v); err != nil || ready < n {
				return false
			}
			maria = maria || strings.HasPrefix(line, `hoard_template_ready{engine="mariadb",`)
		}
		return maria
	}
	waitFor(tb, 15*time.Minute, fmt.Sprintf("%d pre-initialised data directories per engine", n), func() bool {
		if full() {
			return true
		}
		pollPause(time.Second) // a build takes seconds; a scrape reads the store
		return false
	})
}
