package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/cgroup"
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// maxSocketPath is the longest Unix socket path (sun_path is 108 bytes,
// including the terminating NUL).
const maxSocketPath = 107

// logTailLines is how many lines of a log an error quotes.
const logTailLines = 15

// Provision creates the instance directory, writes the configuration
// rendered from s (every time) and initialises the data directory once.
func (d *Driver) Provision(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.provision"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	_, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	return d.provision(ctx, op, s, eng)
}

func (d *Driver) provision(ctx context.Context, op string, s driver.Spec, eng datastore.Engine) error {
	ds := d.dsSpec(s)
	dir := d.dir(s.InstanceID)
	if err := checkSocket(op, s.InstanceID, eng.Process().Socket(ds)); err != nil {
		return err
	}
	if err := d.makeDirs(ctx, s, ds); err != nil {
		return fmt.Errorf("while creating directories of instance %s: %w", s.InstanceID, err)
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	marker := filepath.Join(dir, markerName)
	if exists(marker) {
		return nil
	}
	// An earlier init may have been interrupted: start again from nothing,
	// but never under a running engine.
	h, err := d.readHandle(s.InstanceID)
	if err != nil {
		return err
	}
	if h != nil && h.PID != 0 {
		if p := attachPID(h.PID, h.StartTime, h.Exe, time.Hour); p != nil {
			p.release()
			return fault.Errorf(fault.Conflict, op, "instance %s runs but is not initialised", s.InstanceID)
		}
	}
	if err := emptyDir(ds.DataDir); err != nil {
		return fmt.Errorf("while emptying data of instance %s: %w", s.InstanceID, err)
	}
	if args := eng.Process().InitArgs(ds); len(args) > 0 {
		a, err := d.account(ctx, s.InstanceID, true)
		if err != nil {
			return err
		}
		if !d.usePool(s) || !d.pool.claim(ctx, s.Engine, ds, a) {
			if err := d.runInit(ctx, ds, args, a); err != nil {
				return err
			}
		}
	}
	if err := d.writePrivateFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		return fmt.Errorf("while marking instance %s initialised: %w", s.InstanceID, err)
	}
	return nil
}

// makeDirs creates the instance directory and its subdirectories, sets
// their owners and modes, and (for a loop volume) creates and mounts the
// volume before the data directory is made on it.
func (d *Driver) makeDirs(ctx context.Context, s driver.Spec, ds datastore.Spec) error {
	a, err := d.account(ctx, s.InstanceID, true)
	if err != nil {
		return err
	}
	for _, m := range []struct {
		path        string
		perm        os.FileMode
		engineOwned bool
	}{
		{d.dir(s.InstanceID), 0o750, false},
		{ds.ConfDir, 0o750, false},
		{ds.RunDir, 0o750, true},
		{ds.LogDir, 0o750, true},
	} {
		if err := mkdirOwned(m.path, m.perm, a, m.engineOwned); err != nil {
			return err
		}
	}
	if err := d.ensureVolume(ctx, s, true); err != nil {
		return err
	}
	if err := mkdirOwned(ds.FilesDir, 0o700, a, true); err != nil {
		return err
	}
	return mkdirOwned(ds.DataDir, 0o700, a, true)
}

// render writes the configuration files rendered from s, readable by the
// instance user, not writable.
func (d *Driver) render(op string, s driver.Spec, eng datastore.Engine) error {
	if err := checkAllowed(op, s.Access); err != nil {
		return err
	}
	ds := d.dsSpec(s)
	if err := checkSocket(op, s.InstanceID, eng.Process().Socket(ds)); err != nil {
		return err
	}
	a, err := d.account(d.ctx, s.InstanceID, true)
	if err != nil {
		return err
	}
	if f := d.cfg.Credentials; f != nil {
		ds.AdminUser, ds.AdminPassword = f(s.InstanceID)
	}
	if d.cfg.TLS != nil {
		if _, _, err := d.ensureTLS(s, a); err != nil {
			return err
		}
	}
	files, err := eng.Process().Render(ds)
	if err != nil {
		return fmt.Errorf("while rendering config of instance %s: %w", s.InstanceID, err)
	}
	for _, f := range files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || filepath.Base(f.Name) != f.Name {
			return fmt.Errorf("engine %s rendered a config file with a bad name %q", eng.Name(), f.Name)
		}
		if err := d.writeConfFile(filepath.Join(ds.ConfDir, f.Name), f.Content, a); err != nil {
			return fmt.Errorf("while writing config of instance %s: %w", s.InstanceID, err)
		}
	}
	return nil
}

// checkSocket fails if a socket path does not fit in sun_path.
func checkSocket(op, id, sock string) error {
	if len(sock) > maxSocketPath {
		return fault.Errorf(fault.Invalid, op, "socket path of instance %s is %d bytes, at most %d fit", id, len(sock), maxSocketPath)
	}
	return nil
}

// runInit runs the engine's init command as the instance user a, its
// output in log/init.log.
func (d *Driver) runInit(ctx context.Context, ds datastore.Spec, args []string, a account) error {
	logPath := filepath.Join(ds.LogDir, "init.log")
	f, err := openLog(logPath, true)
	if err != nil {
		return fmt.Errorf("while opening init log of instance %s: %w", ds.InstanceID, err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = ds.DataDir
	cmd.Env = d.env(a)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr(a)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("while initialising data of instance %s: %w; last lines of %s:\n%s",
			ds.InstanceID, err, logPath, tail(f, logTailLines))
	}
	d.log.Info("initialised data", "instance_id", ds.InstanceID, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Start starts the engine unless it runs, and supervises it (or leaves it
// to the hoard process that already does).
func (d *Driver) Start(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.start"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	inst, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	return d.start(op, inst, s, eng, nil, nil)
}

// start does Start with inst locked (op.lock held). supLock is the
// instance's sup.lock if the caller holds it; start takes it over.
//
// ln, if not nil, is a thread already in the instance's cgroups to start
// the engine from (see cgroup.Launcher).
func (d *Driver) start(op string, inst *instance, s driver.Spec, eng datastore.Engine, supLock *os.File, ln *cgroup.Launcher) error {
	defer func() {
		if supLock != nil {
			supLock.Close()
		}
	}()
	// The filter first: an engine never listens open to every network
	// when its tenant limited it (after a host reboot, the kernel has no
	// filter until this runs).
	if err := d.applyAccess(d.ctx, op, s); err != nil {
		return err
	}
	// Take sup.lock before the handle says "running", so that no other
	// process adopts the engine in between.
	if supLock == nil && (inst.sup == nil || inst.sup.finished()) {
		supLock = d.trySupLock(s.InstanceID)
	}
	dir := d.dir(s.InstanceID)
	if !exists(dir) {
		return fault.Wrap(fault.NotFound, op, "instance not provisioned", driver.ErrNotFound)
	}
	if !exists(filepath.Join(dir, markerName)) {
		return fault.Errorf(fault.Conflict, op, "instance %s is not provisioned", s.InstanceID)
	}
	h, err := d.readHandle(s.InstanceID)
	if err != nil {
		return err
	}
	if h != nil {
		if p := attachPID(h.PID, h.StartTime, h.Exe, d.pollEvery); p != nil {
			if !h.Want {
				h.Want = true
				if err := d.writeHandle(s.InstanceID, h); err != nil {
					p.release()
					return err
				}
			}
			d.joinCgroup(s, p.pid)
			d.watch(inst, s, eng, p, &supLock)
			return nil
		}
	}
	// A volume is not mounted after a host reboot.
	if err := d.ensureVolume(d.ctx, s, false); err != nil {
		return err
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	if err := checkFree(s.Address, s.Port); err != nil {
		return fault.Wrap(fault.Conflict, op, fmt.Sprintf("address %s port %d is in use", s.Address, s.Port), err)
	}
	if pr, ok := eng.Process().(datastore.Preparer); ok {
		if err := pr.Prepare(d.dsSpec(s)); err != nil {
			return fmt.Errorf("while preparing engine of instance %s: %w", s.InstanceID, err)
		}
	}
	p, err := d.launch(s, eng, ln)
	if err != nil {
		return err
	}
	d.log.Info("started engine", "instance_id", s.InstanceID, "pid", p.pid)
	d.watch(inst, s, eng, p, &supLock)
	return nil
}

// watch hands the live engine p (the one its handle records) to
// supervision; inst must be locked and op.lock held. A supervisor of this
// Driver that still runs follows the handle by itself; else a new one
// starts here if the instance's sup.lock can be had (*supLock, if the
// caller holds it); else another process supervises the instance, and its
// supervisor follows the handle as well.
func (d *Driver) watch(inst *instance, s driver.Spec, eng datastore.Engine, p *proc, supLock **os.File) {
	if inst.sup != nil && !inst.sup.finished() {
		p.release()
		return
	}
	lf := *supLock
	*supLock = nil
	if lf == nil {
		lf = d.trySupLock(s.InstanceID)
	}
	if lf == nil {
		d.log.Info("engine supervised by another hoard process", "instance_id", s.InstanceID, "pid", p.pid)
		p.release() // a child of ours is still waited for
		return
	}
	d.supervise(inst, s, eng, p, lf)
}

// checkFree fails if something already listens on address:port.
func checkFree(address string, port int) error {
	if address == "" || port <= 0 {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
		return nil // e.g. an address not configured yet: let the engine say
	}
	return l.Close()
}

// launch starts s's server as a child in its own session and persists its
// handle before returning; if that fails, the process is killed.
func (d *Driver) launch(s driver.Spec, eng datastore.Engine, ln *cgroup.Launcher) (*proc, error) {
	ds := d.dsSpec(s)
	args := eng.Process().ServerArgs(ds)
	if len(args) == 0 {
		return nil, fmt.Errorf("engine %s has no server command", eng.Name())
	}
	a, err := d.account(d.ctx, s.InstanceID, true)
	if err != nil {
		return nil, err
	}
	// Instances made before their user (or before their files directory)
	// get them now.
	if err := d.handOver(ds, a); err != nil {
		return nil, err
	}
	if err := mkdirOwned(ds.FilesDir, 0o700, a, true); err != nil {
		return nil, fmt.Errorf("while creating the files directory of instance %s: %w", s.InstanceID, err)
	}
	logPath := filepath.Join(ds.LogDir, "server.log")
	logf, err := openLog(logPath, false)
	if err != nil {
		return nil, fmt.Errorf("while opening server log of instance %s: %w", s.InstanceID, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = ds.DataDir
	cmd.Env = d.env(a)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(a)
	g, err := d.cg.Prepare(s.InstanceID, limits(s))
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("while preparing the cgroup of instance %s: %w", s.InstanceID, err)
	}
	err = g.StartFrom(ln, cmd)
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("while starting engine of instance %s: %w", s.InstanceID, err)
	}
	p := newChild(cmd)
	st, serr := readStat(p.pid)
	var eerr error
	if serr == nil && !st.dead() {
		p.startTime = st.StartTime
		p.exe, eerr = exePath(p.pid)
	}
	if serr != nil || st.dead() || eerr != nil {
		p.killGroup()
		<-p.done
		if eerr != nil && !errors.Is(eerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("while inspecting engine of instance %s: %w", s.InstanceID, eerr)
		}
		return nil, fmt.Errorf("engine of instance %s exited at once (%s); last lines of %s:\n%s",
			s.InstanceID, p.detail, logPath, tailPath(logPath, logTailLines))
	}
	h := &handle{Engine: eng.Name(), Spec: s, Want: true, PID: p.pid, StartTime: p.startTime, Exe: p.exe, StartedAt: time.Now().UTC()}
	if err := d.writeHandle(s.InstanceID, h); err != nil {
		p.killGroup()
		<-p.done
		return nil, err
	}
	return p, nil
}

// supervise hands p to a new supervisor goroutine, which owns supLock
// (the instance's sup.lock) until it ends; inst must be locked.
func (d *Driver) supervise(inst *instance, s driver.Spec, eng datastore.Engine, p *proc, supLock *os.File) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		p.release()
		supLock.Close()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	sup := &supervisor{d: d, spec: s, eng: eng, lock: supLock, stopc: make(chan stopReq), done: make(chan struct{})}
	inst.sup = sup
	go sup.run(p)
}

// terminate stops p: its engine's stop signal, then after StopTimeout (or
// once ctx is done) SIGKILL to its process group; it returns once p is gone.
func (d *Driver) terminate(ctx context.Context, id string, p *proc, sig syscall.Signal) error {
	if err := p.signal(sig); err != nil {
		return fmt.Errorf("while signalling engine of instance %s: %w", id, err)
	}
	grace := time.NewTimer(d.cfg.StopTimeout)
	defer grace.Stop()
	select {
	case <-p.done:
		return nil
	case <-grace.C:
		d.log.Warn("engine did not stop in time; killing it", "instance_id", id, "pid", p.pid, "timeout", d.cfg.StopTimeout)
	case <-ctx.Done():
		d.log.Warn("stop cancelled; killing engine", "instance_id", id, "pid", p.pid)
	}
	p.killGroup()
	kill := time.NewTimer(d.killWait)
	defer kill.Stop()
	select {
	case <-p.done:
		return nil
	case <-kill.C:
		return fmt.Errorf("engine of instance %s (pid %d) still runs %v after SIGKILL", id, p.pid, d.killWait)
	}
}

// stopSignal is the stop signal of engine name (SIGTERM if unknown).
func (d *Driver) stopSignal(name string) syscall.Signal {
	if e, ok := d.cfg.Engines[name]; ok {
		return e.Process().StopSignal()
	}
	return syscall.SIGTERM
}

// Stop stops the engine of instance id; a no-op if it does not run.
func (d *Driver) Stop(ctx context.Context, id string) error {
	const op = "driver.local.stop"
	if err := checkID(op, id); err != nil {
		return err
	}
	inst, unlock, err := d.lock(ctx, op, id)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.stop(ctx, inst, id); err != nil {
		return err
	}
	if !exists(d.dir(id)) { // nothing to stop: leave no lock files behind
		return d.removeLocks(id)
	}
	return nil
}

// stop does Stop with inst locked.
func (d *Driver) stop(ctx context.Context, inst *instance, id string) error {
	if sup := inst.sup; sup != nil {
		inst.sup = nil
		if err := sup.stop(ctx); err != nil {
			return err
		}
	}
	if !exists(d.dir(id)) {
		return nil
	}
	h, err := d.readHandle(id)
	if err != nil || h == nil {
		return err
	}
	// Not supervised here (e.g. before Recover): stop it by its handle.
	if p := attachPID(h.PID, h.StartTime, h.Exe, d.pollEvery); p != nil {
		err := d.terminate(ctx, id, p, d.stopSignal(h.Engine))
		p.release()
		if err != nil {
			return err
		}
	}
	if h.Want || h.PID != 0 {
		h.Want, h.PID, h.StartTime, h.Exe, h.StartedAt = false, 0, 0, "", time.Time{}
		if err := d.writeHandle(id, h); err != nil {
			return err
		}
		d.log.Info("stopped engine", "instance_id", id)
	}
	return nil
}

// Restart stops the engine, renders the configuration from s and starts it.
func (d *Driver) Restart(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.restart"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	inst, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	// The thread the engine will be forked from joins its cgroups while
	// the engine stops (cgroup v1; see cgroup.Launcher).
	ln := d.cg.Launch(s.InstanceID)
	defer ln.Close()
	if err := d.stop(ctx, inst, s.InstanceID); err != nil {
		return err
	}
	if !exists(d.dir(s.InstanceID)) {
		return fault.Wrap(fault.NotFound, op, "instance not provisioned", driver.ErrNotFound)
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	return d.start(op, inst, s, eng, nil, ln)
}

// Destroy stops the engine and removes the instance directory.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	const op = "driver.local.destroy"
	if err := checkID(op, id); err != nil {
		return err
	}
	inst, unlock, err := d.lock(ctx, op, id)
	if err != nil {
		return err
	}
	defer unlock()
	return d.destroy(ctx, inst, id)
}

func (d *Driver) destroy(ctx context.Context, inst *instance, id string) error {
	if err := d.stop(ctx, inst, id); err != nil {
		return err
	}
	// Never remove files through a mount: unmount first, or stop here.
	if err := d.unmount(id); err != nil {
		return err
	}
	if err := os.RemoveAll(d.dir(id)); err != nil {
		return fmt.Errorf("while removing instance %s: %w", id, err)
	}
	if err := d.applyAccess(ctx, "driver.local.destroy", driver.Spec{InstanceID: id}); err != nil {
		return err
	}
	if err := d.cg.Remove(id); err != nil {
		return fmt.Errorf("while removing the cgroup of instance %s: %w", id, err)
	}
	// Its files are gone: its user may go (its uid is never given again).
	if err := d.removeInstanceUser(ctx, id); err != nil {
		return err
	}
	return d.removeLocks(id)
}

// State reports whether the engine of instance id runs.
func (d *Driver) State(_ context.Context, id string) (driver.State, error) {
	const op = "driver.local.state"
	if err := checkID(op, id); err != nil {
		return "", err
	}
	if !exists(d.dir(id)) {
		return driver.StateAbsent, nil
	}
	h, err := d.readHandle(id)
	if err != nil {
		return "", err
	}
	if h == nil || h.PID == 0 {
		return driver.StateStopped, nil
	}
	st, err := readStat(h.PID)
	if err != nil || st.dead() || st.StartTime != h.StartTime {
		return driver.StateStopped, nil
	}
	return driver.StateRunning, nil
}

// UsedBytes sums the sizes of the files in the instance's data directory
// (on its volume, if it has one): what the engine stores, not the
// filesystem's own overhead.
func (d *Driver) UsedBytes(_ context.Context, id string) (int64, error) {
	const op = "driver.local.used_bytes"
	if err := checkID(op, id); err != nil {
		return 0, err
	}
	if !exists(d.dir(id)) {
		return 0, fault.Wrap(fault.NotFound, op, "instance not found", driver.ErrNotFound)
	}
	data := d.dataDir(id)
	if _, err := os.Stat(data); errors.Is(err, fs.ErrNotExist) {
		return 0, fault.Wrap(fault.NotFound, op, "instance not found", driver.ErrNotFound)
	}
	n, err := dirSize(data)
	if err != nil {
		return 0, fmt.Errorf("while measuring data of instance %s: %w", id, err)
	}
	return n, nil
}

// Recover re-attaches to the engines of specs that no other hoard process
// supervises (starting those whose handle says they should run but whose
// process is gone) and destroys instance directories not in specs. Other
// hoard processes may share Root: then they may be creating instances that
// specs, read before, lack, so unknown directories are left alone until a
// Recover runs with Root to itself.
func (d *Driver) Recover(ctx context.Context, specs []driver.Spec) error {
	const op = "driver.local.recover"
	var errs []error
	keep := make(map[string]bool, len(specs))
	for _, s := range specs {
		keep[s.InstanceID] = true
	}
	// Which instances have a filter: the loop below then runs nft only for
	// those that need a change (access.go).
	tables, listErr := d.listFilters(ctx, keep)
	if listErr != nil {
		errs = append(errs, fmt.Errorf("%s: %w", op, listErr))
	}
	for _, s := range specs {
		eng, err := d.engine(op, s)
		if err == nil && validID(s.InstanceID) {
			// Before adopting: a running engine keeps running (a hoard
			// restart), one started again gets its filter first.
			err = d.applyAccess(ctx, op, s)
		}
		if err == nil {
			err = d.adopt(ctx, op, s, eng, true)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("while listing %s: %w", d.root, err))...)
	}
	var orphans []string
	for _, e := range entries {
		id := e.Name()
		if e.IsDir() && !keep[id] && validID(id) && d.looksLikeInstance(id) {
			orphans = append(orphans, id)
		}
	}
	alone, release := d.alone()
	defer release()
	if alone && listErr == nil {
		if err := d.removeOrphanFilters(ctx, tables, keep); err != nil { // access.go
			errs = append(errs, err)
		}
	}
	if len(orphans) == 0 {
		return errors.Join(errs...)
	}
	if !alone {
		d.log.Info("other hoard processes share the instance root; unknown instance directories are left for now", "count", len(orphans))
		return errors.Join(errs...)
	}
	for _, id := range orphans {
		d.log.Warn("removing orphaned instance", "instance_id", id)
		if err := d.Destroy(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// joinCgroup puts a re-attached engine into its cgroup if it is not there
// (a hoard in another cgroup started it): the processes it forks from now
// on are limited with it; those it has are until the next start.
func (d *Driver) joinCgroup(s driver.Spec, pid int) {
	if ok, _ := d.cg.Available(); !ok || d.cg.Contains(s.InstanceID, pid) {
		return
	}
	g, err := d.cg.Prepare(s.InstanceID, limits(s))
	if err == nil {
		err = g.Join(pid)
	}
	if err != nil {
		d.log.Warn("cannot put a re-attached engine in its cgroup", "instance_id", s.InstanceID, "pid", pid, "err", err)
	}
}

// looksLikeInstance guards Recover against removing directories that
// someone else put under Root.
func (d *Driver) looksLikeInstance(id string) bool {
	for _, name := range []string{handleName, markerName, "conf", "data", "files", imageName, mountName} {
		if exists(filepath.Join(d.dir(id), name)) {
			return true
		}
	}
	return false
}

// adopt makes this Driver the supervisor of instance s unless another
// supervisor holds its sup.lock: it re-attaches to the engine when it
// runs, starts it when its handle says it should run, and finishes an
// interrupted Stop. With wait false (the adoption loop) it gives up at
// once when an operation on the instance runs in this Driver.
func (d *Driver) adopt(ctx context.Context, op string, s driver.Spec, eng datastore.Engine, wait bool) error {
	id := s.InstanceID
	inst, err := d.instance(op, id)
	if err != nil {
		return err
	}
	if wait {
		inst.mu.Lock()
	} else if !inst.mu.TryLock() {
		return nil
	}
	defer inst.mu.Unlock()
	if inst.sup != nil && !inst.sup.finished() {
		return nil
	}
	if !exists(d.dir(id)) {
		return nil
	}
	supLock := d.trySupLock(id)
	if supLock == nil {
		return nil // supervised elsewhere
	}
	defer func() {
		if supLock != nil {
			supLock.Close()
		}
	}()
	ol, err := d.opLock(ctx, id)
	if err != nil {
		return err
	}
	defer ol.Close()
	if !exists(d.dir(id)) { // destroyed meanwhile
		return nil
	}
	// After a host reboot no volume is mounted; mount those with an image
	// (a provision interrupted before the image was made has none yet).
	if exists(filepath.Join(d.dir(id), imageName)) {
		if err := d.ensureVolume(ctx, s, false); err != nil {
			return err
		}
	}
	h, err := d.readHandle(id)
	if err != nil || h == nil {
		return err
	}
	if p := attachPID(h.PID, h.StartTime, h.Exe, d.pollEvery); p != nil {
		if !h.Want {
			// Running although stopped: an interrupted Stop. Finish it.
			p.release()
			return d.stop(ctx, inst, id)
		}
		d.log.Info("re-attached to engine", "instance_id", id, "pid", p.pid)
		d.joinCgroup(s, p.pid)
		d.adoptTLS(ctx, s, eng) // tls.go
		lf := supLock
		supLock = nil
		d.supervise(inst, s, eng, p, lf)
		return nil
	}
	if h.Want {
		d.log.Info("engine gone while nobody supervised it; starting it", "instance_id", id)
		lf := supLock
		supLock = nil
		return d.start(op, inst, s, eng, lf, nil)
	}
	if h.PID != 0 {
		h.PID, h.StartTime, h.Exe, h.StartedAt = 0, 0, "", time.Time{}
		return d.writeHandle(id, h)
	}
	return nil
}
