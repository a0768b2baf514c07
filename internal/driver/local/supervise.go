package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// errDestroyed says that an instance's lock files are gone: Destroy
// removed it.
var errDestroyed = errors.New("instance destroyed")

// pingTimeout bounds one supervision ping.
const pingTimeout = 2 * time.Second

// startingStopGrace is how long a stop waits for an engine that supervision
// restarted and that has not answered since, before killing it.
const startingStopGrace = 2 * time.Second

// stopReq asks a supervisor to stop its engine and end.
type stopReq struct {
	ctx   context.Context
	reply chan error
}

// supervisor is the one goroutine that owns an instance's engine process
// while its desired state is "running" (CloudNativePG's lifecycle loop,
// Nomad's handle.run). It restarts the engine with back-off when it dies
// unasked, and ends when asked to stop or when the driver closes.
//
// Several hoard processes may share Root; the supervisor holds the
// instance's sup.lock for its whole life, so that exactly one of them
// supervises an engine. Another process may still stop or restart the
// engine (under op.lock): so an exit is first checked against the handle,
// under op.lock. If the handle no longer wants the engine to run, or is
// gone, the supervisor ends; if it records another live process (a restart
// elsewhere), the supervisor follows that one; only otherwise is the exit
// an unexpected one, reported and repaired.
type supervisor struct {
	d     *Driver
	spec  driver.Spec // owned by run once started
	eng   datastore.Engine
	lock  *os.File // sup.lock
	stopc chan stopReq
	done  chan struct{}
	once  sync.Once
}

// finished reports whether the supervisor has ended.
func (s *supervisor) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// end releases sup.lock and marks the supervisor finished, in that order:
// whoever sees it finished may take sup.lock at once.
func (s *supervisor) end() {
	s.once.Do(func() {
		s.lock.Close()
		close(s.done)
	})
}

// stop asks the supervisor to stop the engine and waits for it; op.lock
// must be held.
func (s *supervisor) stop(ctx context.Context) error {
	req := stopReq{ctx: ctx, reply: make(chan error, 1)}
	select {
	case s.stopc <- req:
		return <-req.reply
	case <-s.done:
		return nil
	}
}

// lookNext is what supervision does after reading the engine's state.
type lookNext int

const (
	lookOn    lookNext = iota // act on the state read
	lookLater                 // op.lock was busy: look again later
	lookEnd                   // supervision ends
)

// run supervises cur until stopped or closed.
func (s *supervisor) run(cur *proc) {
	defer s.d.wg.Done()
	defer s.end()
	var (
		id      = s.spec.InstanceID
		log     = s.d.log.With("instance_id", id)
		backoff = s.d.backoffMin
		upSince = time.Now()
		outage  bool  // between EventExited and EventRecovered
		gone    *proc // the process whose exit is being checked
		check   <-chan time.Time
		restart <-chan time.Time
		ping    <-chan time.Time
		ready   <-chan time.Time
		rotate  = time.NewTicker(s.d.rotateEvery)
		renew   = time.NewTicker(s.d.tlsEvery)
	)
	defer rotate.Stop()
	defer renew.Stop()
	// follow makes p, which another hoard process started, the current
	// process; an outage ends once it answers.
	follow := func(h *handle, p *proc) {
		if h.Spec.InstanceID == id {
			s.spec = h.Spec
			if e, ok := s.d.cfg.Engines[h.Engine]; ok {
				s.eng = e
			}
		}
		cur = p
		if outage {
			ping = time.After(0)
			ready = time.After(s.d.cfg.ReadyTimeout)
		}
		log.Info("following the engine another hoard process started", "pid", p.pid)
	}
	// look reads the engine's current state under op.lock (current): it
	// says to end supervision (the instance destroyed, or its engine
	// stopped by another hoard process), to look again later (op.lock
	// busy), or hands over the held lock, the handle and its process.
	look := func() (*os.File, *handle, *proc, lookNext) {
		ol, h, p, err := s.current()
		switch {
		case errors.Is(err, errDestroyed):
			log.Info("instance destroyed; supervision ends")
			return nil, nil, nil, lookEnd
		case err != nil:
			log.Warn("cannot read the engine's handle", "err", err)
		}
		if ol == nil {
			return nil, nil, nil, lookLater
		}
		if h == nil || !h.Want {
			log.Info("engine stopped by another hoard process; supervision ends")
			s.end()
			ol.Close()
			return nil, nil, nil, lookEnd
		}
		return ol, h, p, lookOn
	}
	for {
		var exited <-chan struct{}
		if cur != nil {
			exited = cur.done
		}
		select {
		case <-exited:
			gone, cur, ping, ready = cur, nil, nil, nil
			check = time.After(0)

		case <-check:
			check = nil
			ol, h, p, next := look()
			switch next {
			case lookEnd:
				return
			case lookLater:
				check = time.After(s.d.pollEvery)
				continue
			}
			if p != nil && (p.pid != gone.pid || p.startTime != gone.startTime) {
				ol.Close()
				follow(h, p)
				continue
			}
			if p != nil {
				p.release()
			}
			ol.Close()
			if !outage {
				outage = true
				if time.Since(upSince) >= s.d.backoffMax {
					backoff = s.d.backoffMin // it ran well for a while
				}
				log.Warn("engine exited unexpectedly; restarting it", "detail", gone.detail, "backoff", backoff)
				s.d.report(driver.Event{InstanceID: id, Kind: driver.EventExited, Detail: gone.detail})
			} else {
				log.Warn("restarted engine exited before it was ready", "detail", gone.detail, "backoff", backoff)
			}
			restart = time.After(backoff)
			backoff = min(2*backoff, s.d.backoffMax)

		case <-restart:
			restart = nil
			ol, h, p, next := look()
			switch next {
			case lookEnd:
				return
			case lookLater:
				restart = time.After(s.d.pollEvery)
				continue
			}
			if p != nil {
				ol.Close()
				follow(h, p)
				continue
			}
			p, err := s.d.launch(s.spec, s.eng, nil)
			ol.Close()
			if err != nil {
				log.Error("restarting engine failed", "err", err, "backoff", backoff)
				restart = time.After(backoff)
				backoff = min(2*backoff, s.d.backoffMax)
				continue
			}
			log.Info("restarted engine", "pid", p.pid)
			cur = p
			ping = time.After(0)
			ready = time.After(s.d.cfg.ReadyTimeout)

		case <-ping:
			if err := s.ping(); err != nil {
				ping = time.After(s.d.pingEvery)
				continue
			}
			ping, ready = nil, nil
			upSince = time.Now()
			if outage {
				outage = false
				log.Info("engine recovered", "pid", cur.pid)
				s.d.report(driver.Event{InstanceID: id, Kind: driver.EventRecovered, Detail: "answers again"})
			}

		case <-rotate.C:
			// The log files stay bounded (logrotate.go), whatever the
			// engine writes.
			if err := rotateLogs(s.d.dsSpec(s.spec).LogDir, s.d.cfg.MaxLogBytes); err != nil {
				log.Warn("log rotation failed", "err", err)
			}

		case <-renew.C:
			if cur != nil && !outage {
				s.renewTLS()
			}

		case <-ready:
			ping, ready = nil, nil
			log.Warn("restarted engine did not answer in time; killing it", "timeout", s.d.cfg.ReadyTimeout)
			cur.killGroup() // its exit is handled above

		case req := <-s.stopc:
			var err error
			if cur != nil {
				ctx, cancel := req.ctx, context.CancelFunc(func() {})
				if outage {
					// Restarted and never answered: it serves no one, and an
					// engine still starting may not heed its stop signal yet
					// (mariadbd on a full volume waits for free space in Aria
					// recovery, retrying every minute). Crash recovery copes
					// with being cut short; a volume resize should not wait
					// out StopTimeout for it.
					log.Warn("engine never answered since its restart; stopping it with a short grace", "pid", cur.pid, "grace", startingStopGrace)
					ctx, cancel = context.WithTimeout(ctx, startingStopGrace)
				}
				err = s.d.terminate(ctx, id, cur, s.eng.Process().StopSignal())
				cancel()
			}
			s.end() // before the reply: a Restart takes sup.lock next
			req.reply <- err
			return

		case <-s.d.ctx.Done():
			if cur != nil {
				cur.release() // the engine keeps running
			}
			return
		}
	}
}

// current takes op.lock without waiting (nil if busy: the caller retries,
// and meanwhile answers a stop request, whose sender holds op.lock) and
// reads the handle and its live process, if any. The caller releases the
// lock. When Destroy has removed the instance (and its lock files), it
// returns errDestroyed.
func (s *supervisor) current() (*os.File, *handle, *proc, error) {
	id := s.spec.InstanceID
	ol, err := tryLockFlags(s.d.opPath(id), 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, errDestroyed
	}
	if err != nil || ol == nil {
		return nil, nil, nil, err
	}
	h, err := s.d.readHandle(id)
	if err != nil {
		ol.Close()
		return nil, nil, nil, err
	}
	if h == nil || !h.Want {
		return ol, h, nil, nil
	}
	return ol, h, attachPID(h.PID, h.StartTime, h.Exe, s.d.pollEvery), nil
}

// ping asks the engine once whether it answers.
func (s *supervisor) ping() error {
	c := s.d.Conn(s.spec)
	if f := s.d.cfg.Credentials; f != nil {
		c.User, c.Password = f(s.spec.InstanceID)
	}
	ctx, cancel := context.WithTimeout(s.d.ctx, pingTimeout)
	defer cancel()
	return s.eng.Ping(ctx, c)
}
