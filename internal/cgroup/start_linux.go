package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// startV2 starts cmd with clone3(CLONE_INTO_CGROUP), which Go uses when
// SysProcAttr.UseCgroupFD is set (kernel 5.7 or later).
func (g *Group) startV2(cmd *exec.Cmd) error {
	d := g.m.hs[0].groupDir(g.id)
	fd, err := syscall.Open(d, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: start in group of %s: %w", g.id, &fs.PathError{Op: "open", Path: d, Err: err})
	}
	defer syscall.Close(fd)
	var a syscall.SysProcAttr
	if cmd.SysProcAttr != nil {
		a = *cmd.SysProcAttr
	}
	a.UseCgroupFD, a.CgroupFD = true, fd
	cmd.SysProcAttr = &a
	return cmd.Start()
}

// startV1 starts cmd from an OS thread moved into the group for the
// duration of the fork. cgroup v1 places threads, not processes, and a
// child starts in the cgroups of the thread that forked it; Go forks on
// the calling thread (syscall.forkExec). It runs on its own goroutine so
// that a thread which cannot be moved back is never unlocked, and exits
// with the goroutine instead of running other goroutines inside an
// instance's limits.
func (g *Group) startV1(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := g.threadDirs()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		tid := strconv.Itoa(syscall.Gettid())
		moved := 0
		for i := range g.m.hs {
			if err = writeFile(filepath.Join(g.m.hs[i].groupDir(g.id), "tasks"), tid); err != nil {
				err = fmt.Errorf("cgroup: start in group of %s: %w", g.id, err)
				break
			}
			moved++
		}
		if err == nil {
			err = cmd.Start()
		}
		restored := true
		for i := range moved {
			if writeFile(filepath.Join(back[i], "tasks"), tid) != nil {
				restored = false
			}
		}
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// threadDirs returns, for each hierarchy of the Manager, the directory of
// the calling thread's cgroup.
func (g *Group) threadDirs() ([]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup: start in group of %s: %w", g.id, err)
	}
	ms, err := parseProcCgroup(b)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, len(g.m.hs))
	for i := range g.m.hs {
		h := &g.m.hs[i]
		c, ok := find(ms, h.kind.key())
		if !ok {
			return nil, fmt.Errorf("cgroup: start in group of %s: thread in no %s cgroup", g.id, h.kind.key())
		}
		if dirs[i], err = h.dirOf(c.Path); err != nil {
			return nil, fmt.Errorf("cgroup: start in group of %s: %w", g.id, err)
		}
	}
	return dirs, nil
}

// Launcher is an OS thread moved, ahead of a start, into the v1 groups of
// one instance (Manager.Launch), from which Group.StartFrom forks. On
// cgroup v1 the first move of a thread after a quiet spell waits for an
// RCU grace period (cgroup_threadgroup_rwsem is taken for writing): 10–20
// ms on a small VM, a third of a PostgreSQL restart. A launcher pays that
// while the engine stops, not after. A nil Launcher is valid: StartFrom
// then starts as Group.Start.
type Launcher struct {
	m    *Manager
	id   string
	cmds chan *exec.Cmd
	errs chan error
	once sync.Once
}

// errNotMoved marks a launcher whose thread could not join the groups.
var errNotMoved = errors.New("cgroup: launcher thread not in the group")

// Launch starts moving a thread into the groups of instance id, which
// must exist (a running instance's); nil when there is nothing to gain
// (cgroup v2, whose clone3 places the child directly, or no cgroups) or
// no group yet. Close it if it is not used.
func (m *Manager) Launch(id string) *Launcher {
	if len(m.hs) == 0 || m.hs[0].kind == v2 || validID(id) != nil {
		return nil
	}
	for i := range m.hs {
		if !exists(m.hs[i].groupDir(id)) {
			return nil
		}
	}
	l := &Launcher{m: m, id: id, cmds: make(chan *exec.Cmd), errs: make(chan error, 1)}
	go l.run()
	return l
}

// run moves its locked thread into the groups, forks the command it is
// given, if any, and then moves the thread back (after StartFrom has its
// answer: off the start's path). A thread that cannot be moved back is
// never unlocked, so that it ends with the goroutine instead of running
// other goroutines inside an instance's limits.
func (l *Launcher) run() {
	runtime.LockOSThread()
	back, err := (&Group{m: l.m, id: l.id}).threadDirs()
	if err != nil {
		runtime.UnlockOSThread()
		if cmd, ok := <-l.cmds; ok && cmd != nil {
			l.errs <- fmt.Errorf("%w: %w", errNotMoved, err)
		}
		return
	}
	tid := strconv.Itoa(syscall.Gettid())
	var moveErr error
	moved := 0
	for i := range l.m.hs {
		if err := writeFile(filepath.Join(l.m.hs[i].groupDir(l.id), "tasks"), tid); err != nil {
			moveErr = fmt.Errorf("%w: %w", errNotMoved, err)
			break
		}
		moved++
	}
	if cmd, ok := <-l.cmds; ok {
		if moveErr != nil {
			l.errs <- moveErr
		} else {
			l.errs <- cmd.Start()
		}
	}
	restored := true
	for i := range moved {
		if writeFile(filepath.Join(back[i], "tasks"), tid) != nil {
			restored = false
		}
	}
	if restored {
		runtime.UnlockOSThread()
	}
}

// Close ends an unused launcher's thread; a no-op after StartFrom.
func (l *Launcher) Close() {
	if l != nil {
		l.once.Do(func() { close(l.cmds) })
	}
}

// StartFrom starts cmd in group g from launcher l, which it uses up; when
// l is nil, closed, another group's, or its thread could not join the
// group, it starts as Start does.
func (g *Group) StartFrom(l *Launcher, cmd *exec.Cmd) error {
	if l == nil || l.m != g.m || l.id != g.id {
		return g.Start(cmd)
	}
	sent := false
	l.once.Do(func() {
		l.cmds <- cmd
		sent = true
	})
	if !sent {
		return g.Start(cmd)
	}
	err := <-l.errs
	if errors.Is(err, errNotMoved) {
		return g.Start(cmd)
	}
	return err
}
