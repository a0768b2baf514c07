package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Lock files live in Root/.locks (never in an instance directory, so that
// a lock can be taken before the directory exists and survives its
// removal). flock locks belong to open file descriptions: two Drivers
// conflict whether they are in two processes or in one, and the kernel
// drops a lock when its process dies, even by SIGKILL.
const (
	locksName   = ".locks"
	membersName = "members" // shared by every Driver on Root
	opSuffix    = ".op"     // held around every change to an engine or its handle
	supSuffix   = ".sup"    // held by the one supervisor of an engine
)

// lockPoll bounds the pause between two attempts at a busy lock.
const lockPoll = 50 * time.Millisecond

// locksDir is the directory of the lock files.
func (d *Driver) locksDir() string { return filepath.Join(d.root, locksName) }

func (d *Driver) opPath(id string) string  { return filepath.Join(d.locksDir(), id+opSuffix) }
func (d *Driver) supPath(id string) string { return filepath.Join(d.locksDir(), id+supSuffix) }

// tryLock takes an exclusive flock on path (created if missing) without
// waiting. It returns nil, nil when another open file description holds
// it. A lock file removed while it was being locked (Destroy removes an
// instance's lock files while holding them) is opened again, so a lock is
// only ever held on the file that path names.
func tryLock(path string) (*os.File, error) {
	return tryLockFlags(path, os.O_CREATE)
}

// tryLockFlags is tryLock opening path with flags added to O_RDWR. Without
// O_CREATE, a missing lock file is fs.ErrNotExist.
func tryLockFlags(path string, flags int) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|flags, 0o600)
		if errors.Is(err, fs.ErrNotExist) && flags&os.O_CREATE == 0 {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("while opening lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("while locking %s: %w", path, err)
		}
		if sameFile(f, path) {
			return f, nil
		}
		f.Close()
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(fi, pi)
}

// waitLock takes the exclusive flock on path, polling until it is free or
// ctx is done. Locks are held for the length of one operation on an
// engine, so polling costs little and, unlike a blocking flock, can be
// cancelled.
func waitLock(ctx context.Context, path string) (*os.File, error) {
	pause := time.Millisecond
	for {
		f, err := tryLock(path)
		if err != nil || f != nil {
			return f, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("while waiting for lock %s: %w", path, context.Cause(ctx))
		case <-t.C:
		}
		pause = min(2*pause, lockPoll)
	}
}

// opLock takes instance id's op.lock, which every change to its engine
// process or handle holds: in this process the instance mutex comes first,
// so only other processes (or other Drivers) ever wait here.
func (d *Driver) opLock(ctx context.Context, id string) (*os.File, error) {
	if ctx == nil {
		ctx = d.ctx
	}
	return waitLock(ctx, d.opPath(id))
}

// trySupLock takes instance id's sup.lock unless someone holds it.
func (d *Driver) trySupLock(id string) *os.File {
	f, err := tryLock(d.supPath(id))
	if err != nil {
		d.log.Warn("cannot take the supervision lock", "instance_id", id, "err", err)
		return nil
	}
	return f
}

// removeLocks removes instance id's lock files; op.lock must be held.
// Whoever waits for them opens them again (tryLock) and locks new files.
func (d *Driver) removeLocks(id string) error {
	for _, p := range []string{d.supPath(id), d.opPath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("while removing lock of instance %s: %w", id, err)
		}
	}
	return nil
}

// joinRoot makes the lock directory and takes a shared lock on the members
// file for the Driver's life: Recover reaps unknown directories only while
// it can hold that lock exclusively, that is while no other Driver uses
// Root (another replica may be creating an instance that the caller's list
// of specs, read earlier, does not have yet).
func joinRoot(root string) (*os.File, error) {
	dir := filepath.Join(root, locksName)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("while creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, membersName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("while opening %s: %w", path, err)
	}
	// Blocks only while another Driver reaps (it holds the lock exclusively).
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("while locking %s: %w", path, err)
	}
	return f, nil
}

// alone tries to hold the members lock exclusively; when it succeeds, no
// other Driver uses Root until release is called. Converting a flock is
// not atomic (the shared lock is dropped first), so release always takes
// the shared lock again.
func (d *Driver) alone() (ok bool, release func()) {
	fd := int(d.members.Fd())
	ok = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil
	return ok, func() {
		if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
			d.log.Warn("cannot take the shared lock on the instance root again", "err", err)
		}
	}
}

// adoptLoop makes sure that every engine that should run under Root has a
// supervisor somewhere: when the process that supervised it dies (its
// sup.lock goes with it), a Driver sharing Root takes over.
func (d *Driver) adoptLoop() {
	defer d.wg.Done()
	t := time.NewTicker(d.adoptEvery)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		d.adoptAll()
	}
}

// adoptAll adopts the engines under Root that want to run and that no
// supervisor holds.
func (d *Driver) adoptAll() {
	entries, err := os.ReadDir(d.root)
	if err != nil {
		d.log.Warn("cannot list instances to supervise", "err", err)
		return
	}
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || !validID(id) || d.ctx.Err() != nil {
			continue
		}
		if d.supervised(id) {
			continue
		}
		h, err := d.readHandle(id)
		if err != nil || h == nil || !h.Want || h.Spec.InstanceID != id {
			continue
		}
		eng, ok := d.cfg.Engines[h.Engine]
		if !ok {
			continue
		}
		if err := d.adopt(d.ctx, "driver.local.adopt", h.Spec, eng, false); err != nil && d.ctx.Err() == nil {
			d.log.Warn("adopting engine failed", "instance_id", id, "err", err)
		}
	}
}

// supervised reports whether a supervisor of this Driver runs for id.
func (d *Driver) supervised(id string) bool {
	d.mu.Lock()
	inst := d.insts[id]
	d.mu.Unlock()
	if inst == nil || !inst.mu.TryLock() {
		return inst != nil // busy: an operation runs here
	}
	defer inst.mu.Unlock()
	return inst.sup != nil && !inst.sup.finished()
}
