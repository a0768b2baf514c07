package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStartLimitsResize(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	_, desc := m.Available()
	t.Log(desc)
	const id = "inst-1"
	lim := Limits{MemoryBytes: 64 << 20, CPUWeight: 50}
	g := prepare(t, m, id, lim)
	checkLimits(t, m, id, lim)

	start := time.Now()
	h := startHelper(t, g, "fork")
	t.Logf("Start and fork took %v", time.Since(start))
	pid := h.cmd.Process.Pid
	for _, p := range []int{pid, h.child} {
		if !m.Contains(id, p) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cgroup")
			t.Errorf("Contains(%q, %d) = false, want true; /proc/%d/cgroup:\n%s", id, p, p, b)
		}
	}
	if m.Contains("other", pid) {
		t.Errorf("Contains(other, %d) = true, want false", pid)
	}
	if m.Contains(id, os.Getpid()) {
		t.Errorf("Contains(%q, self) = true, want false", id)
	}
	checkProcCgroup(t, m, id, pid)
	checkNoThreadOfOurs(t, m, id)
	t.Logf("group uses %d bytes", readInt(t, filepath.Join(m.hs[0].groupDir(id), usageFile(m))))

	// A flavor resize: new limits on the live group, up and down.
	for _, lim := range []Limits{{MemoryBytes: 128 << 20, CPUWeight: 200}, {MemoryBytes: 96 << 20}, {}, {MemoryBytes: 80 << 20, CPUWeight: 10000}} {
		if _, err := m.Prepare(id, lim); err != nil {
			t.Fatalf("Prepare(%q, %+v) on the live group = %v", id, lim, err)
		}
		checkLimits(t, m, id, lim)
		if !m.Contains(id, pid) || !m.Contains(id, h.child) {
			t.Errorf("after Prepare(%+v) the processes left the group", lim)
		}
	}

	h.stop()
	if err := m.Remove(id); err != nil {
		t.Fatalf("Remove(%q) after the processes ended = %v", id, err)
	}
	for i := range m.hs {
		if d := m.hs[i].groupDir(id); exists(d) {
			t.Errorf("Remove(%q) left %s", id, d)
		}
	}
	if err := m.Remove(id); err != nil {
		t.Errorf("Remove(%q) again = %v, want nil", id, err)
	}
}

// checkProcCgroup checks /proc/<pid>/cgroup directly, not through
// Contains.
func checkProcCgroup(t *testing.T, m *Manager, id string, pid int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.hs {
		want := ":" + m.hs[i].groupPath(id) + "\n"
		if !strings.Contains(string(b), want) {
			t.Errorf("/proc/%d/cgroup has no line ending %q:\n%s", pid, want, b)
		}
		if !strings.HasSuffix(want, "/"+id+"\n") {
			t.Errorf("group path %q does not end in the id", want)
		}
	}
}

// checkNoThreadOfOurs checks that Start left none of the test process's
// threads in the group.
func checkNoThreadOfOurs(t *testing.T, m *Manager, id string) {
	t.Helper()
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tids {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", e.Name(), "cgroup"))
		if err != nil {
			continue // exited
		}
		ms, err := parseProcCgroup(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.hs {
			if c, _ := find(ms, m.hs[i].kind.key()); c.Path == m.hs[i].groupPath(id) {
				t.Errorf("thread %s of the test is still in %s", e.Name(), m.hs[i].groupDir(id))
			}
		}
	}
}

func TestOOMKill(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const id = "oom"
	g := prepare(t, m, id, Limits{MemoryBytes: 32 << 20})
	h := startHelper(t, g, "alloc", strconv.Itoa(256<<20))
	if _, err := h.stdin.Write([]byte{1}); err != nil { // Start has returned: only the helper is in the group
		t.Fatal(err)
	}
	err := h.wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper touching 256 MiB under a 32 MiB limit: Wait() = %v, want killed", err)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper touching 256 MiB under a 32 MiB limit ended with %v, want SIGKILL", ee)
	}
	if n := oomKills(t, m, id); n < 1 {
		t.Errorf("oom_kill count of the group = %d, want at least 1", n)
	}
}

// oomKills returns the group's count of OOM kills.
func oomKills(t *testing.T, m *Manager, id string) int {
	t.Helper()
	file := "memory.events"
	if m.hs[0].kind == v1Memory {
		file = "memory.oom_control"
	}
	b, err := os.ReadFile(filepath.Join(m.hs[0].groupDir(id), file))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no oom_kill in %s:\n%s", file, b)
	return 0
}

func TestJoin(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const id = "adopted"
	g := prepare(t, m, id, Limits{MemoryBytes: 64 << 20})
	h := startHelper(t, nil, "wait")
	pid := h.cmd.Process.Pid
	if m.Contains(id, pid) {
		t.Fatalf("Contains(%q, %d) = true before Join", id, pid)
	}
	if err := g.Join(pid); err != nil {
		t.Fatalf("Join(%d) = %v", pid, err)
	}
	if !m.Contains(id, pid) {
		t.Errorf("Contains(%q, %d) = false after Join", id, pid)
	}
	if err := g.Join(pid); err != nil {
		t.Errorf("Join(%d) again = %v, want nil", pid, err)
	}
	h.stop()
	if err := g.Join(pid); err == nil {
		t.Errorf("Join(%d) of a process that is gone = nil, want error", pid)
	}
}

func TestRemoveBusy(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	m.removeWait = 50 * time.Millisecond
	const id = "busy"
	g := prepare(t, m, id, Limits{})
	h := startHelper(t, g, "wait")
	if err := m.Remove(id); !errors.Is(err, ErrBusy) {
		t.Fatalf("Remove(%q) with a live process = %v, want ErrBusy", id, err)
	} else if !strings.Contains(err.Error(), strconv.Itoa(h.cmd.Process.Pid)) {
		t.Errorf("Remove(%q) = %v, want the pid %d named", id, err, h.cmd.Process.Pid)
	}
	if !m.Contains(id, h.cmd.Process.Pid) {
		t.Errorf("Remove(%q) that failed moved the process", id)
	}
}

func TestPrepareValidates(t *testing.T) {
	t.Parallel()
	for _, m := range []*Manager{newTestManager(t), {desc: "none"}} {
		for _, id := range []string{"", "..", ".x", "a/b", "../../x"} {
			if _, err := m.Prepare(id, Limits{}); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Prepare(%q) = %v, want ErrInvalidID", id, err)
			}
			if err := m.Remove(id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Remove(%q) = %v, want ErrInvalidID", id, err)
			}
			if m.Contains(id, os.Getpid()) {
				t.Errorf("Contains(%q) = true", id)
			}
		}
		if _, err := m.Prepare("ok", Limits{MemoryBytes: -1}); !errors.Is(err, ErrInvalidLimits) {
			t.Errorf("Prepare(negative memory) = %v, want ErrInvalidLimits", err)
		}
	}
}

func TestPrepareTwice(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const id = "twice"
	prepare(t, m, id, Limits{MemoryBytes: 32 << 20})
	lim := Limits{MemoryBytes: 96 << 20, CPUWeight: 300}
	if _, err := m.Prepare(id, lim); err != nil {
		t.Fatalf("Prepare(%q) of an existing group = %v", id, err)
	}
	checkLimits(t, m, id, lim)
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	m := &Manager{desc: "no cgroup v2 mounted and no cgroup v1 memory hierarchy is mounted"}
	if ok, why := m.Available(); ok || why != m.desc {
		t.Errorf("Available() = %v, %q", ok, why)
	}
	g, err := m.Prepare("x", Limits{MemoryBytes: 1 << 20})
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	h := startHelper(t, g, "wait")
	if err := g.Join(h.cmd.Process.Pid); err != nil {
		t.Errorf("Join() = %v, want nil", err)
	}
	if m.Contains("x", h.cmd.Process.Pid) {
		t.Errorf("Contains() = true without cgroups")
	}
	if err := m.Remove("x"); err != nil {
		t.Errorf("Remove() = %v", err)
	}
}

// TestStartV2 runs the cgroup v2 start path (clone3 into the group) where
// cgroup2 is mounted, also on a hybrid host whose cgroup2 has no memory
// controller: the group then gets no limits, but placement, Contains and
// Remove are the same.
func TestStartV2(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	mounts, err := parseMountInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(mounts, func(m mountInfo) bool { return m.FSType == "cgroup2" })
	if i < 0 {
		t.Skip("no cgroup2 mounted")
	}
	b, err = os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseProcCgroup(b)
	if err != nil {
		t.Fatal(err)
	}
	own, ok := find(ms, "")
	if !ok {
		t.Skip("not in a cgroup v2 group")
	}
	h := hierarchy{kind: v2, mount: mounts[i], path: path.Join(path.Dir(own.Path), "hoard-test-v2-"+strconv.Itoa(os.Getpid()))}
	if h.dir, err = h.dirOf(h.path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(h.dir, 0o755); err != nil {
		if os.Geteuid() != 0 && errors.Is(err, os.ErrPermission) {
			t.Skipf("not root: %v", err)
		}
		t.Fatal(err)
	}
	m := &Manager{hs: []hierarchy{h}, removeWait: 2 * time.Second}
	t.Cleanup(func() { removeBases(t, m) })
	const id = "v2"
	g := prepare(t, m, id, Limits{MemoryBytes: 32 << 20})

	c := helperCommand("wait")
	orig := &syscall.SysProcAttr{Setsid: true}
	c.SysProcAttr = orig
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(c); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	hp := &helper{cmd: c, stdin: stdin}
	t.Cleanup(func() { hp.stop() })
	if orig.UseCgroupFD || orig.CgroupFD != 0 {
		t.Errorf("Start() modified the caller's SysProcAttr: %+v", orig)
	}
	if !m.Contains(id, c.Process.Pid) {
		t.Errorf("Contains(%q, %d) = false after Start", id, c.Process.Pid)
	}
	checkProcCgroup(t, m, id, c.Process.Pid)
	if sid := session(t, c.Process.Pid); sid != c.Process.Pid {
		t.Errorf("session of the child = %d, want its pid %d: the caller's Setsid was lost", sid, c.Process.Pid)
	}
	hp.stop()
	if err := m.Remove(id); err != nil {
		t.Errorf("Remove(%q) = %v", id, err)
	}
}

// session returns the session id of pid, from /proc/<pid>/stat.
func session(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session ...
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	sid, err := strconv.Atoi(f[3])
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// TestStartConcurrent starts helpers into several groups at once: each is
// in its own group, and no thread of the test stays in any.
func TestStartConcurrent(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const n = 4
	hs := make([]*helper, n)
	gs := make([]*Group, n)
	for i := range n {
		gs[i] = prepare(t, m, "c"+strconv.Itoa(i), Limits{MemoryBytes: 64 << 20})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := helperCommand("wait")
			stdin, err := c.StdinPipe()
			if err != nil {
				t.Error(err)
				return
			}
			if err := gs[i].Start(c); err != nil {
				t.Errorf("Start(c%d) = %v", i, err)
				return
			}
			hs[i] = &helper{cmd: c, stdin: stdin}
		})
	}
	wg.Wait()
	for i, h := range hs {
		if h == nil {
			continue
		}
		t.Cleanup(func() { h.stop() })
		id := "c" + strconv.Itoa(i)
		if !m.Contains(id, h.cmd.Process.Pid) {
			t.Errorf("Contains(%q, %d) = false", id, h.cmd.Process.Pid)
		}
		checkNoThreadOfOurs(t, m, id)
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	m := newTestManager(t)
	const id = "fails"
	g := prepare(t, m, id, Limits{})
	if err := g.Start(exec.Command("/nonexistent/engine")); err == nil {
		t.Fatal("Start(/nonexistent/engine) = nil, want error")
	}
	checkNoThreadOfOurs(t, m, id)
	if err := m.Remove(id); err != nil {
		t.Fatalf("Remove(%q) after a failed Start = %v", id, err)
	}
	if err := g.Start(exec.Command("true")); err == nil {
		t.Error("Start() into a removed group = nil, want error")
	}
	checkNoThreadOfOurs(t, m, id)
}

// usageFile names the file with the memory a group uses.
func usageFile(m *Manager) string {
	if m.hs[0].kind == v1Memory {
		return "memory.usage_in_bytes"
	}
	return "memory.current"
}

// TestLauncher: a start from a launcher (cgroup v1; nil on v2) puts the
// process in the group, and neither a used nor an unused launcher leaves a
// thread of ours in it.
func TestLauncher(t *testing.T) {
	m := newTestManager(t)
	const id = "launched"
	if m.Launch(id) != nil {
		t.Fatal("Launch of a group that does not exist gave a launcher")
	}
	g := prepare(t, m, id, Limits{MemoryBytes: 64 << 20})
	noThread := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !m.threadsOutside(id) {
			if time.Now().After(deadline) {
				checkNoThreadOfOurs(t, m, id)
				t.Fatalf("%s: a thread of ours stays in the group", what)
			}
			<-time.After(time.Millisecond)
		}
	}

	unused := m.Launch(id)
	unused.Close()
	unused.Close()
	noThread("closed launcher")

	ln := m.Launch(id)
	cmd := helperCommand("wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.StartFrom(ln, cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	if !m.Contains(id, cmd.Process.Pid) {
		t.Errorf("the process started from the launcher is not in the group")
	}
	noThread("used launcher")
	ln.Close() // no-op once used

	// A used-up launcher starts the next process as Start does.
	cmd2 := helperCommand("wait")
	cmd2.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin2, err := cmd2.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.StartFrom(ln, cmd2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin2.Close(); _ = cmd2.Wait() })
	if !m.Contains(id, cmd2.Process.Pid) {
		t.Errorf("the process started from a used launcher is not in the group")
	}
}

// threadsOutside reports whether no thread of this process is in group id.
func (m *Manager) threadsOutside(id string) bool {
	tids, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return false
	}
	for _, e := range tids {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		ms, err := parseProcCgroup(b)
		if err != nil {
			return false
		}
		for i := range m.hs {
			if c, _ := find(ms, m.hs[i].kind.key()); c.Path == m.hs[i].groupPath(id) {
				return false
			}
		}
	}
	return true
}
