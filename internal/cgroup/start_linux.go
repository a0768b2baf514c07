package cgroup

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
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
