package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// The test binary doubles as the engine (a re-exec helper, as in the local
// driver's tests): with helperEnv set, TestMain runs helperMain instead.
const helperEnv = "HOARD_CGROUP_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperMain runs a helper:
//
//   - wait: waits until stdin closes.
//   - fork: starts a wait helper, prints its pid, then waits.
//   - alloc N: once a byte arrives on stdin, touches N bytes of fresh
//     memory, then exits 0.
func helperMain(mode string, args []string) int {
	switch mode {
	case "wait":
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "fork":
		c := helperCommand("wait")
		c.Stdin, c.Stderr = os.Stdin, os.Stderr
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println(c.Process.Pid)
		io.Copy(io.Discard, os.Stdin)
		c.Wait()
		return 0
	case "alloc":
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return 2
		}
		// Wait for the go-ahead: on cgroup v1 the parent's forking thread
		// sits in the group until Start returns, and an OOM kill then could
		// pick the test binary itself.
		if _, err := os.Stdin.Read(make([]byte, 1)); err != nil {
			return 2
		}
		b := make([]byte, n)
		for i := 0; i < n; i += 4096 {
			b[i] = 1
		}
		return 0
	}
	return 2
}

// helperCommand returns a command that runs the helper in mode.
func helperCommand(mode string, args ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	c := exec.Command(self, args...)
	c.Env = append(os.Environ(), helperEnv+"="+mode)
	return c
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// child is the pid of the fork helper's child.
	child int
	// waited is set once cmd has been waited for.
	waited bool
	err    error
}

// wait waits for the helper to exit (once) and returns its wait error.
func (h *helper) wait() error {
	if !h.waited {
		h.waited, h.err = true, h.cmd.Wait()
	}
	return h.err
}

// startHelper starts the helper in mode through g.Start (or cmd.Start
// when g is nil) in its own session, as the driver starts engines, and
// stops it (and its child) at cleanup.
func startHelper(t *testing.T, g *Group, mode string, args ...string) *helper {
	t.Helper()
	h := &helper{cmd: helperCommand(mode, args...)}
	h.cmd.Stderr = os.Stderr
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var err error
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		err = g.Start(h.cmd)
	} else {
		err = h.cmd.Start()
	}
	if err != nil {
		t.Fatalf("start %s helper: %v", mode, err)
	}
	t.Cleanup(func() { h.stop() })
	if mode == "fork" {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("fork helper: read child pid: %v", err)
		}
		if h.child, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
			t.Fatalf("fork helper: child pid %q: %v", line, err)
		}
	}
	return h
}

// stop kills the helper and its child and reaps the helper; it returns
// the helper's wait error.
func (h *helper) stop() error {
	h.stdin.Close()
	if h.child > 0 {
		syscall.Kill(h.child, syscall.SIGKILL)
	}
	if !h.waited {
		h.cmd.Process.Kill()
	}
	return h.wait()
}

var testBases atomic.Int64

// newTestManager returns a Manager on this host with a base of its own,
// removed at cleanup (after the groups, which tests remove with their own
// cleanups). It skips the test only on a host without cgroups.
func newTestManager(t *testing.T) *Manager {
	t.Helper()
	base := fmt.Sprintf("hoard-test-%d-%d", os.Getpid(), testBases.Add(1))
	m, err := New(Config{Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := m.Available(); !ok {
		if !hostHasCgroups(t) {
			t.Skipf("host has no cgroup filesystem: %s", why)
		}
		if os.Geteuid() != 0 && errors.Is(m.err, fs.ErrPermission) {
			t.Skipf("not root and no delegated cgroup: %s", why)
		}
		t.Fatalf("cgroups are mounted but New made no limits: %s", why)
	}
	t.Cleanup(func() { removeBases(t, m) })
	return m
}

// removeBases removes the base directories of m (for tests, whose bases
// are their own).
func removeBases(t *testing.T, m *Manager) {
	for i := range m.hs {
		if err := syscall.Rmdir(m.hs[i].dir); err != nil && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("remove test base %s: %v", m.hs[i].dir, err)
		}
	}
}

// hostHasCgroups reports whether any cgroup filesystem is mounted.
func hostHasCgroups(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	ms, err := parseMountInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.FSType == "cgroup" || m.FSType == "cgroup2" {
			return true
		}
	}
	return false
}

// prepare makes the group id in m, removed at cleanup.
func prepare(t *testing.T, m *Manager, id string, lim Limits) *Group {
	t.Helper()
	g, err := m.Prepare(id, lim)
	if err != nil {
		t.Fatalf("Prepare(%q, %+v) = %v", id, lim, err)
	}
	t.Cleanup(func() {
		if err := m.Remove(id); err != nil {
			t.Errorf("cleanup: Remove(%q) = %v", id, err)
		}
	})
	return g
}

// readInt reads the integer in cgroup file f.
func readInt(t *testing.T, f string) int64 {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return n
}

// checkLimits checks that the files of group id in m hold lim.
func checkLimits(t *testing.T, m *Manager, id string, lim Limits) {
	t.Helper()
	mem := lim.MemoryBytes
	for i := range m.hs {
		h := &m.hs[i]
		d := h.groupDir(id)
		switch {
		case h.kind == v1Memory:
			got := readInt(t, filepath.Join(d, "memory.limit_in_bytes"))
			if mem == 0 && got < 1<<62 || mem > 0 && got != mem {
				t.Errorf("memory.limit_in_bytes = %d, want %d (0: unlimited)", got, mem)
			}
			if f := filepath.Join(d, "memory.memsw.limit_in_bytes"); exists(f) {
				if sw := readInt(t, f); sw != got {
					t.Errorf("memory.memsw.limit_in_bytes = %d, want %d", sw, got)
				}
			}
		case h.kind == v1CPU:
			if got, want := readInt(t, filepath.Join(d, "cpu.shares")), cpuShares(lim.CPUWeight); got != want {
				t.Errorf("cpu.shares = %d, want %d", got, want)
			}
		case h.memory:
			want := mem
			if want == 0 {
				want = -1
			}
			if got := readInt(t, filepath.Join(d, "memory.max")); got != want {
				t.Errorf("memory.max = %d, want %d", got, want)
			}
		}
		if h.kind == v2 && h.cpu {
			want := int64(max(lim.CPUWeight, 0))
			if want == 0 {
				want = 100
			}
			if got := readInt(t, filepath.Join(d, "cpu.weight")); got != want {
				t.Errorf("cpu.weight = %d, want %d", got, want)
			}
		}
	}
}
