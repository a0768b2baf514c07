package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	State     byte   // field 3: R, S, D, Z, X, ...
	Pgrp      int    // field 5
	Threads   int    // field 20
	StartTime uint64 // field 22, in clock ticks since boot
}

// dead reports whether the process has exited (it may still await reaping).
// The main thread of a multithreaded process turns zombie before its other
// threads are gone, and those still hold its files (its listening sockets),
// so a zombie counts as dead only once it is the last thread.
func (s procStat) dead() bool {
	return s.State == 'X' || s.State == 'x' || (s.State == 'Z' && s.Threads <= 1)
}

// parseStat parses the contents of /proc/<pid>/stat. The command name (field
// 2) is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3, so field n is f[n-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 20", len(f))
	}
	if len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("stat: bad state %q", f[0])
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return procStat{}, fmt.Errorf("stat: bad pgrp: %w", err)
	}
	threads, err := strconv.Atoi(f[17])
	if err != nil {
		return procStat{}, fmt.Errorf("stat: bad thread count: %w", err)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat: bad start time: %w", err)
	}
	return procStat{State: f[0][0], Pgrp: pgrp, Threads: threads, StartTime: st}, nil
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// exePath returns the executable of a live process.
func exePath(pid int) (string, error) {
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", err
	}
	// A binary replaced on disk (package upgrade) still identifies the process.
	return strings.TrimSuffix(p, " (deleted)"), nil
}

// proc is one engine process: a child started by this driver (cmd set) or a
// process re-attached after a hoard restart (cmd nil, watched by polling).
type proc struct {
	pid       int
	startTime uint64
	exe       string
	cmd       *exec.Cmd

	done   chan struct{} // closed once the process has exited
	detail string        // how it ended; set before done is closed

	quit     chan struct{} // stops the poller of a re-attached process
	quitOnce sync.Once
}

// newChild watches a started child by waiting for it.
func newChild(cmd *exec.Cmd) *proc {
	p := &proc{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		switch {
		case cmd.ProcessState != nil:
			p.detail = cmd.ProcessState.String()
		case err != nil:
			p.detail = err.Error()
		}
		close(p.done)
	}()
	return p
}

// attachPID returns a watched proc for pid if it is alive, started at
// startTime and runs exe; nil otherwise (the record is stale).
func attachPID(pid int, startTime uint64, exe string, every time.Duration) *proc {
	if pid <= 0 {
		return nil
	}
	st, err := readStat(pid)
	if err != nil || st.dead() || st.StartTime != startTime {
		return nil
	}
	if got, err := exePath(pid); err != nil || got != exe {
		return nil
	}
	p := &proc{pid: pid, startTime: startTime, exe: exe, done: make(chan struct{}), quit: make(chan struct{})}
	go p.poll(every)
	return p
}

// poll watches a process that is not our child. It cannot wait for it, and
// PID 1 reaps it only seconds after it exits, so a zombie counts as gone.
func (p *proc) poll(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if !p.alive() {
			p.detail = "process gone"
			close(p.done)
			return
		}
		select {
		case <-t.C:
		case <-p.quit:
			return
		}
	}
}

// alive reads /proc to tell whether the process still runs.
func (p *proc) alive() bool {
	st, err := readStat(p.pid)
	return err == nil && !st.dead() && st.StartTime == p.startTime
}

// exited reports whether the process is known to have exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// release stops watching a re-attached process; the process keeps running.
func (p *proc) release() { p.quitOnce.Do(func() { close(p.quit) }) }

// signal sends sig to the process unless it is gone.
func (p *proc) signal(sig syscall.Signal) error {
	if p.cmd != nil {
		err := p.cmd.Process.Signal(sig)
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return err
	}
	if !p.alive() {
		return nil
	}
	if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// killGroup sends SIGKILL to the process and to its process group (the
// engine's session, started with Setsid), so helpers die with it.
func (p *proc) killGroup() {
	if p.exited() {
		return
	}
	if st, err := readStat(p.pid); err == nil && !st.dead() && st.Pgrp == p.pid &&
		(p.cmd != nil || st.StartTime == p.startTime) {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	_ = p.signal(syscall.SIGKILL)
}
