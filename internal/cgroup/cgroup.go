package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultBase is the [Config.Base] used when none is given.
const DefaultBase = "hoard-instances"

var (
	// ErrInvalidID is returned for an instance id that cannot name a group.
	ErrInvalidID = errors.New("cgroup: invalid instance id")
	// ErrInvalidLimits is returned for [Limits] out of range.
	ErrInvalidLimits = errors.New("cgroup: invalid limits")
	// ErrBusy is returned by [Manager.Remove] when a group still has
	// processes after the bounded wait.
	ErrBusy = errors.New("cgroup: group still has processes")
)

// Config configures a [Manager].
type Config struct {
	// Base is the cgroup under which each instance gets its group,
	// Base/<id>. An absolute Base is a cgroup path as /proc/self/cgroup
	// shows it ("/hoard.slice/instances"), used in every hierarchy. A
	// relative one (DefaultBase when empty) is resolved per hierarchy: on
	// cgroup v1 against hoard's own cgroup, so that it works where only
	// that subtree is writable (a container, a sandbox); on cgroup v2
	// against the parent of hoard's own cgroup, because hoard's own group
	// has a process (hoard) and so cannot give its children controllers
	// (the "no internal processes" rule, see
	// https://docs.kernel.org/admin-guide/cgroup-v2.html#no-internal-process-constraint).
	//
	// The resolved Base must be the same for every hoard that manages the
	// same instances, across restarts: a relative Base moves with hoard's
	// own cgroup, so where hoard may be restarted into another cgroup, use
	// an absolute one.
	Base string
}

// Limits are the resources of one instance.
type Limits struct {
	// MemoryBytes is the memory limit in bytes, for the whole group (the
	// engine and every process it forks); 0 means no limit. Swap is not
	// allowed beyond it: on v1 memory.memsw.limit_in_bytes (when the
	// kernel has swap accounting) is set to the same value, on v2
	// memory.swap.max to 0. A group over its limit that cannot reclaim
	// has a process OOM-killed.
	MemoryBytes int64
	// CPUWeight is the group's relative share of CPU time under
	// contention, in cgroup v2 cpu.weight units: 1 to 10000, 0 meaning
	// the default, 100. On v1 it is set as cpu.shares = CPUWeight*1024/100
	// (so the defaults agree).
	CPUWeight int
}

func (l Limits) validate() error {
	if l.MemoryBytes < 0 {
		return fmt.Errorf("%w: negative memory %d", ErrInvalidLimits, l.MemoryBytes)
	}
	if l.CPUWeight < 0 || l.CPUWeight > 10000 {
		return fmt.Errorf("%w: cpu weight %d not in 1..10000", ErrInvalidLimits, l.CPUWeight)
	}
	return nil
}

// cpuShares converts a cpu.weight to v1 cpu.shares (2..262144).
func cpuShares(weight int) int64 {
	if weight == 0 {
		weight = 100
	}
	return max(2, int64(weight)*1024/100)
}

// kind is the kind of a hierarchy a Manager writes to.
type kind int

const (
	v1Memory kind = iota + 1
	v1CPU
	v2
)

// key returns the controller by which a kind's line in /proc/<pid>/cgroup
// is found ("" for the v2 line).
func (k kind) key() string {
	switch k {
	case v1Memory:
		return "memory"
	case v1CPU:
		return "cpu"
	}
	return ""
}

// hierarchy is one cgroup hierarchy a Manager makes groups in.
type hierarchy struct {
	kind  kind
	mount mountInfo
	// path is the cgroup path of the base, as /proc/<pid>/cgroup shows it.
	path string
	// dir is the directory of the base.
	dir string
	// memory and cpu are the controllers enabled for the base's children
	// (v2 only; on v1 the hierarchy's kind says).
	memory, cpu bool
}

// dirOf returns the directory of the cgroup at path p in h, or an error if
// p is outside the mounted part of the hierarchy.
func (h *hierarchy) dirOf(p string) (string, error) {
	rel := p
	if r := h.mount.Root; r != "/" {
		switch {
		case p == r:
			rel = "/"
		case strings.HasPrefix(p, r+"/"):
			rel = p[len(r):]
		default:
			return "", fmt.Errorf("cgroup %s is outside %s (mounted from %s)", p, h.mount.Point, r)
		}
	}
	return filepath.Join(h.mount.Point, filepath.FromSlash(rel)), nil
}

func (h *hierarchy) groupDir(id string) string  { return filepath.Join(h.dir, id) }
func (h *hierarchy) groupPath(id string) string { return path.Join(h.path, id) }

func (h *hierarchy) String() string {
	switch h.kind {
	case v1Memory:
		return "memory in " + h.dir
	case v1CPU:
		return "cpu in " + h.dir
	}
	s := "memory"
	if h.cpu {
		s += " and cpu"
	}
	return s + " in " + h.dir
}

// Manager makes one cgroup per instance, under a base detected when it is
// made. Its methods are safe for concurrent use; concurrent calls for the
// same instance id race like the file writes they are (the last write of a
// limit wins).
type Manager struct {
	hs []hierarchy
	// desc describes the setup when hs is not empty, and why there are no
	// limits otherwise.
	desc string
	// err is the error behind an unavailable setup, for tests.
	err error
	// removeWait bounds Remove's wait for exiting processes.
	removeWait time.Duration
}

// New detects which cgroup hierarchy this host offers and prepares the
// base for instance groups in it:
//
//   - cgroup v2, when the v2 hierarchy has the memory controller: the base
//     is made and memory (and cpu, when available) are enabled in its
//     cgroup.subtree_control, and in its ancestors' where missing.
//   - cgroup v1, when a v1 memory hierarchy is mounted: the base is made in
//     it and in the cpu hierarchy. Without a usable cpu hierarchy, limits
//     are memory only.
//   - otherwise, or when the base cannot be made or configured, the Manager
//     is a no-op: see [Manager.Available].
//
// New returns an error only for an invalid Config; a host without usable
// cgroups is not an error.
func New(cfg Config) (*Manager, error) {
	base := cfg.Base
	if base == "" {
		base = DefaultBase
	}
	if base != path.Clean(base) || base == "/" || base == "." || strings.HasPrefix(base, "../") || base == ".." {
		return nil, fmt.Errorf("cgroup: base %q is not a clean cgroup path below the root", cfg.Base)
	}
	m := &Manager{removeWait: 2 * time.Second}
	hs, note, err := detect(base, os.ReadFile)
	if err != nil {
		m.err = err
		m.desc = err.Error()
		return m, nil
	}
	m.hs = hs
	var parts []string
	for i := range hs {
		parts = append(parts, hs[i].String())
	}
	ver := "v1"
	if hs[0].kind == v2 {
		ver = "v2"
	}
	m.desc = "cgroup " + ver + ": " + strings.Join(parts, ", ")
	if note != "" {
		m.desc += "; " + note
	}
	return m, nil
}

// Available reports whether instance groups get limits. When they do, the
// string says where ("cgroup v1: memory in /sys/fs/cgroup/memory/...");
// when not, why, for the caller to log once as "engines run without memory
// limits: " + reason.
func (m *Manager) Available() (bool, string) {
	return len(m.hs) > 0, m.desc
}

// detect plans the hierarchies from /proc/self/mountinfo and
// /proc/self/cgroup (read with read) and sets up their base directories.
// note says what is missing from a working setup (cpu).
func detect(base string, read func(string) ([]byte, error)) (hs []hierarchy, note string, err error) {
	hs, err = plan(base, read)
	if err != nil {
		return nil, "", err
	}
	if hs[0].kind == v2 {
		h := &hs[0]
		if err := setupV2(h); err != nil {
			return nil, "", err
		}
		if !h.cpu {
			note = "cpu weight not applied: no cpu controller in " + h.dir
		}
		return hs, note, nil
	}
	for i := range hs {
		if err := os.MkdirAll(hs[i].dir, 0o755); err != nil {
			if hs[i].kind == v1Memory {
				return nil, "", fmt.Errorf("cgroup v1: cannot make base: %w", err)
			}
			return hs[:i], "cpu weight not applied: " + err.Error(), nil
		}
	}
	if len(hs) == 1 {
		note = "cpu weight not applied: no usable cgroup v1 cpu hierarchy"
	}
	return hs, note, nil
}

// plan finds the hierarchies to use and resolves base in them, without
// touching cgroupfs except to read cgroup.controllers of the v2 mount. It
// returns either one v2 hierarchy, or a v1 memory hierarchy followed by
// the v1 cpu one if there is one.
func plan(base string, read func(string) ([]byte, error)) ([]hierarchy, error) {
	b, err := read("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cannot read mounts: %w", err)
	}
	mounts, err := parseMountInfo(b)
	if err != nil {
		return nil, err
	}
	b, err = read("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cannot read own cgroup: %w", err)
	}
	ms, err := parseProcCgroup(b)
	if err != nil {
		return nil, err
	}
	resolve := func(h *hierarchy, own string) error {
		h.path = base
		if !path.IsAbs(base) {
			parent := own
			if h.kind == v2 {
				parent = path.Dir(own)
			}
			h.path = path.Join(parent, base)
		}
		var err error
		h.dir, err = h.dirOf(h.path)
		return err
	}

	// cgroup v2, if memory is bound to it (then it cannot be in v1).
	var v2Reason string
	if i := slices.IndexFunc(mounts, func(m mountInfo) bool { return m.FSType == "cgroup2" }); i >= 0 {
		own, ok := find(ms, "")
		ctrls, err := read(filepath.Join(mounts[i].Point, "cgroup.controllers"))
		switch {
		case !ok:
			v2Reason = "not in a cgroup v2 group"
		case err != nil:
			v2Reason = err.Error()
		case !slices.Contains(strings.Fields(string(ctrls)), "memory"):
			v2Reason = "cgroup v2 at " + mounts[i].Point + " has no memory controller"
		default:
			h := hierarchy{kind: v2, mount: mounts[i]}
			if err := resolve(&h, own.Path); err != nil {
				return nil, fmt.Errorf("cgroup v2: %w", err)
			}
			return []hierarchy{h}, nil
		}
	} else {
		v2Reason = "no cgroup v2 mounted"
	}

	// cgroup v1: memory required, cpu optional.
	var hs []hierarchy
	for _, k := range []kind{v1Memory, v1CPU} {
		own, ok := find(ms, k.key())
		if !ok {
			if k == v1Memory {
				break
			}
			continue
		}
		var herr error
		for _, mi := range mounts {
			if mi.FSType != "cgroup" || !slices.Contains(mi.Super, k.key()) {
				continue
			}
			h := hierarchy{kind: k, mount: mi}
			if herr = resolve(&h, own.Path); herr == nil {
				hs = append(hs, h)
				break
			}
		}
		if k == v1Memory && len(hs) == 0 {
			if herr != nil {
				return nil, fmt.Errorf("cgroup v1: %w", herr)
			}
			break
		}
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("%s and no cgroup v1 memory hierarchy is mounted", v2Reason)
	}
	return hs, nil
}

// setupV2 makes h's base and enables memory (required) and cpu (optional)
// for its children.
func setupV2(h *hierarchy) error {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return fmt.Errorf("cgroup v2: cannot make base: %w", err)
	}
	if err := enable(h.mount.Point, h.dir, "memory"); err != nil {
		return fmt.Errorf("cgroup v2: %w", err)
	}
	h.memory = true
	h.cpu = enable(h.mount.Point, h.dir, "cpu") == nil
	return nil
}

// enable makes controller ctrl available to the children of dir, enabling
// it in the cgroup.subtree_control of dir and, where it is missing, of its
// ancestors up to the mount point top. The kernel refuses (EBUSY) for a
// non-root group that has processes.
func enable(top, dir, ctrl string) error {
	has := func(file string) (bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		return slices.Contains(strings.Fields(string(b)), ctrl), err
	}
	if ok, err := has("cgroup.subtree_control"); err != nil || ok {
		return err
	}
	ok, err := has("cgroup.controllers")
	if err != nil {
		return err
	}
	if !ok {
		if dir == top || filepath.Dir(dir) == dir {
			return fmt.Errorf("controller %s not available in %s", ctrl, dir)
		}
		if err := enable(top, filepath.Dir(dir), ctrl); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+ctrl); err != nil {
		return fmt.Errorf("cannot enable %s for children: %w", ctrl, err)
	}
	return nil
}

// validID returns an error unless id can name a group: [A-Za-z0-9._-], 1 to 255
// bytes, no leading dot (so neither "." nor ".." nor hidden).
func validID(id string) error {
	if id == "" || len(id) > 255 || id[0] == '.' {
		return fmt.Errorf("%w %q", ErrInvalidID, id)
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w %q", ErrInvalidID, id)
		}
	}
	return nil
}

// Prepare makes the group of instance id, if it does not exist, and sets
// its limits; on an existing group (with or without processes) it only
// sets the limits, which is how a flavor resize is applied to a running
// engine. Lowering the memory limit below what the group uses makes the
// kernel reclaim, and on v1 fails (EBUSY) if it cannot; on v2 it OOM-kills.
//
// Prepare validates id and lim even on a Manager that is not available,
// where it returns a Group that starts processes without limits.
func (m *Manager) Prepare(id string, lim Limits) (*Group, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := lim.validate(); err != nil {
		return nil, err
	}
	for i := range m.hs {
		h := &m.hs[i]
		d := h.groupDir(id)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup: make group of %s: %w", id, err)
		}
		if err := h.apply(d, lim); err != nil {
			return nil, fmt.Errorf("cgroup: set limits of %s: %w", id, err)
		}
	}
	return &Group{m: m, id: id}, nil
}

// apply writes lim into the group directory d of h.
func (h *hierarchy) apply(d string, lim Limits) error {
	switch h.kind {
	case v1Memory:
		v := "-1"
		if lim.MemoryBytes > 0 {
			v = strconv.FormatInt(lim.MemoryBytes, 10)
		}
		limit := filepath.Join(d, "memory.limit_in_bytes")
		memsw := filepath.Join(d, "memory.memsw.limit_in_bytes")
		if !exists(memsw) {
			return writeFile(limit, v)
		}
		// The kernel keeps limit <= memsw at every step: lowering goes
		// limit first, raising memsw first.
		if err := writeFile(limit, v); err != nil {
			if !errors.Is(err, syscall.EINVAL) {
				return err
			}
			if err := writeFile(memsw, v); err != nil {
				return err
			}
			return writeFile(limit, v)
		}
		return writeFile(memsw, v)
	case v1CPU:
		return writeFile(filepath.Join(d, "cpu.shares"), strconv.FormatInt(cpuShares(lim.CPUWeight), 10))
	}
	if h.memory {
		v, swap := "max", "max"
		if lim.MemoryBytes > 0 {
			v, swap = strconv.FormatInt(lim.MemoryBytes, 10), "0"
		}
		if err := writeFile(filepath.Join(d, "memory.max"), v); err != nil {
			return err
		}
		if f := filepath.Join(d, "memory.swap.max"); exists(f) {
			if err := writeFile(f, swap); err != nil {
				return err
			}
		}
	}
	if h.cpu {
		w := lim.CPUWeight
		if w == 0 {
			w = 100
		}
		if err := writeFile(filepath.Join(d, "cpu.weight"), strconv.Itoa(w)); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes the group of instance id, once its processes are gone. A
// process that has just exited may still be counted by the kernel for a
// moment, so Remove retries for a bounded time (2 s) and then fails with
// [ErrBusy]; it never kills anything. Removing a group that does not exist
// (or on a Manager that is not available) succeeds.
func (m *Manager) Remove(id string) error {
	if err := validID(id); err != nil {
		return err
	}
	var errs []error
	for i := range m.hs {
		err := rmdir(m.hs[i].groupDir(id), m.removeWait)
		if err != nil && !errors.Is(err, ErrBusy) {
			err = fmt.Errorf("cgroup: remove group of %s: %w", id, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rmdir removes the cgroup directory d, retrying on EBUSY until wait has
// passed.
func rmdir(d string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		err := syscall.Rmdir(d)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return &fs.PathError{Op: "rmdir", Path: d, Err: err}
		}
		if time.Now().After(deadline) {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			return fmt.Errorf("%w: %s (pids: %s)", ErrBusy, d, strings.Join(strings.Fields(string(procs)), " "))
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Contains reports whether process pid is in the group of instance id, in
// every hierarchy the Manager uses: what the driver checks after
// re-attaching to an engine. It reports false when the process does not
// exist, when the Manager is not available, and for an invalid id.
func (m *Manager) Contains(id string, pid int) bool {
	if len(m.hs) == 0 || validID(id) != nil || pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false
	}
	ms, err := parseProcCgroup(b)
	if err != nil {
		return false
	}
	for i := range m.hs {
		h := &m.hs[i]
		c, ok := find(ms, h.kind.key())
		if !ok || c.Path != h.groupPath(id) {
			return false
		}
	}
	return true
}

// Group is the cgroup of one instance, made by [Manager.Prepare]. It holds
// no resources.
type Group struct {
	m  *Manager
	id string
}

// Start starts cmd (as cmd.Start does) with the new process already in the
// group when it execs, so that no instruction of the engine runs outside
// it, and every process it forks is in it too:
//
//   - cgroup v2: through clone3's CLONE_INTO_CGROUP, by setting
//     UseCgroupFD and CgroupFD in a copy of cmd.SysProcAttr (the caller's
//     SysProcAttr is not modified) to an fd of the group's directory,
//     closed once cmd.Start returns.
//   - cgroup v1, where membership is per thread: on a locked OS thread
//     that Start moves into the group (its "tasks" file) before forking
//     and back afterwards; the child inherits the thread's cgroups. If the
//     thread cannot be moved back, it is not reused: it exits.
//   - no cgroups: cmd.Start.
//
// The group must exist (Prepare, not Remove, before Start).
func (g *Group) Start(cmd *exec.Cmd) error {
	if len(g.m.hs) == 0 {
		return cmd.Start()
	}
	if g.m.hs[0].kind == v2 {
		return g.startV2(cmd)
	}
	return g.startV1(cmd)
}

// Join moves the running process pid (all its threads) into the group.
// Processes it has already forked stay where they are, so Join is for
// adopting an engine that is not in its group (after re-attaching, see
// [Manager.Contains]), not for starting one: use [Group.Start]. Joining a
// process already in the group succeeds.
func (g *Group) Join(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("cgroup: join %s: bad pid %d", g.id, pid)
	}
	for i := range g.m.hs {
		f := filepath.Join(g.m.hs[i].groupDir(g.id), "cgroup.procs")
		if err := writeFile(f, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup: join %s: %w", g.id, err)
		}
	}
	return nil
}

// exists reports whether file f exists.
func exists(f string) bool {
	_, err := os.Stat(f)
	return err == nil
}

// writeFile writes s to the existing cgroup file f in one write(2), which
// is how the kernel reports a refused value (EINVAL, EBUSY).
func writeFile(f, s string) error {
	fh, err := os.OpenFile(f, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fh.Write([]byte(s))
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}
