package local

import (
	"context"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// pingTimeout bounds one supervision ping.
const pingTimeout = 2 * time.Second

// stopReq asks a supervisor to stop its engine and end.
type stopReq struct {
	ctx   context.Context
	reply chan error
}

// supervisor is the one goroutine that owns an instance's engine process
// while its desired state is "running" (CloudNativePG's lifecycle loop,
// Nomad's handle.run). It restarts the engine with back-off when it dies
// unasked, and ends when asked to stop or when the driver closes.
type supervisor struct {
	d     *Driver
	spec  driver.Spec
	eng   datastore.Engine
	stopc chan stopReq
	done  chan struct{}
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

// stop asks the supervisor to stop the engine and waits for it.
func (s *supervisor) stop(ctx context.Context) error {
	req := stopReq{ctx: ctx, reply: make(chan error, 1)}
	select {
	case s.stopc <- req:
		return <-req.reply
	case <-s.done:
		return nil
	}
}

// run supervises cur until stopped or closed.
func (s *supervisor) run(cur *proc) {
	defer s.d.wg.Done()
	defer close(s.done)
	var (
		id      = s.spec.InstanceID
		log     = s.d.log.With("instance", id)
		backoff = s.d.backoffMin
		upSince = time.Now()
		outage  bool // between EventExited and EventRecovered
		restart <-chan time.Time
		ping    <-chan time.Time
		ready   <-chan time.Time
	)
	for {
		var exited <-chan struct{}
		if cur != nil {
			exited = cur.done
		}
		select {
		case <-exited:
			detail := cur.detail
			cur, ping, ready = nil, nil, nil
			if !outage {
				outage = true
				if time.Since(upSince) >= s.d.backoffMax {
					backoff = s.d.backoffMin // it ran well for a while
				}
				log.Warn("engine exited unexpectedly; restarting it", "detail", detail, "backoff", backoff)
				s.d.report(driver.Event{InstanceID: id, Kind: driver.EventExited, Detail: detail})
			} else {
				log.Warn("restarted engine exited before it was ready", "detail", detail, "backoff", backoff)
			}
			restart = time.After(backoff)
			backoff = min(2*backoff, s.d.backoffMax)

		case <-restart:
			restart = nil
			p, err := s.d.launch(s.spec, s.eng)
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
			outage = false
			upSince = time.Now()
			log.Info("engine recovered", "pid", cur.pid)
			s.d.report(driver.Event{InstanceID: id, Kind: driver.EventRecovered, Detail: "answers again"})

		case <-ready:
			ping, ready = nil, nil
			log.Warn("restarted engine did not answer in time; killing it", "timeout", s.d.cfg.ReadyTimeout)
			cur.killGroup() // its exit is handled above

		case req := <-s.stopc:
			var err error
			if cur != nil {
				err = s.d.terminate(req.ctx, id, cur, s.eng.Process().StopSignal())
			}
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
