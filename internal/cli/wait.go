package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/hoard-db/hoard/internal/safetext"
)

// --wait follows an operation by polling: the first pause is
// Env.PollInterval, and it grows by half while nothing changes, up to four
// times that. --timeout bounds the whole wait; when it runs out the command
// fails (exit 1) saying what the status still was. The operation itself
// goes on: the API accepted it before the wait began.

// WaitError is returned by --wait when the instance ends in ERROR or
// FAILED; Fault is the instance's fault message.
type WaitError struct {
	ID, Name, Status, Fault string
}

func (e *WaitError) Error() string {
	if e.Fault == "" {
		return fmt.Sprintf("instance %s went to %s", label(e.Name, e.ID), e.Status)
	}
	return fmt.Sprintf("instance %s went to %s: %s", label(e.Name, e.ID), e.Status, e.Fault)
}

// errWaitTimeout is the cause of a wait's context ending at --timeout.
var errWaitTimeout = errors.New("cli: --timeout reached")

// waiter is one --wait.
type waiter struct {
	c        *call
	ctx      context.Context
	cancel   context.CancelFunc
	start    time.Time
	interval time.Duration
	what     string // "instance db1 (id)", for errors
	name     string // what progress lines show
	last     string // the last status seen
}

func (c *call) newWaiter(ctx context.Context, what, name string) *waiter {
	w := &waiter{c: c, start: c.env.Now(), interval: c.env.PollInterval, what: what, name: name}
	if c.o.timeout > 0 {
		w.ctx, w.cancel = context.WithTimeoutCause(ctx, c.o.timeout, errWaitTimeout)
	} else {
		w.ctx, w.cancel = context.WithCancel(ctx)
	}
	return w
}

// see records a status, printing it with the elapsed time on stderr when it
// changed.
func (w *waiter) see(status string) {
	if status == w.last {
		return
	}
	w.last = status
	w.interval = w.c.env.PollInterval
	fmt.Fprintf(w.c.env.Stderr, "%7.1fs  %s  %s\n", w.c.env.Now().Sub(w.start).Seconds(), safetext.Escape(w.name), safetext.Escape(status))
}

// pause sleeps until the next poll.
func (w *waiter) pause() error {
	t := time.NewTimer(w.interval)
	defer t.Stop()
	w.interval = min(w.interval*3/2, 4*w.c.env.PollInterval)
	select {
	case <-w.ctx.Done():
		return w.fail(w.ctx.Err())
	case <-t.C:
		return nil
	}
}

// fail explains why the wait stopped: --timeout ran out, or err.
func (w *waiter) fail(err error) error {
	if errors.Is(context.Cause(w.ctx), errWaitTimeout) {
		return fmt.Errorf("cli: gave up waiting for %s after %s (--timeout); its status is still %s, and the operation goes on",
			w.what, w.c.o.timeout, w.last)
	}
	if w.last != "" {
		return fmt.Errorf("cli: wait for %s (last status %s): %w", w.what, w.last, err)
	}
	return fmt.Errorf("cli: wait for %s: %w", w.what, err)
}

// waitStatus polls an instance until it is ACTIVE (or HEALTHY), printing
// each status change on stderr. last is the status the caller already
// knows, if any.
func (c *call) waitStatus(ctx context.Context, id, name, last string) (*instance, error) {
	w := c.newWaiter(ctx, "instance "+label(name, id), nameOr(name, id))
	defer w.cancel()
	if last != "" {
		w.see(last)
	}
	for {
		in, err := c.getInstance(w.ctx, id)
		if err != nil {
			return nil, w.fail(err)
		}
		w.see(in.Status)
		switch in.Status {
		case "ACTIVE", "HEALTHY":
			return in, nil
		case "ERROR", "FAILED":
			we := &WaitError{ID: id, Name: in.Name, Status: in.Status}
			if in.Fault != nil {
				we.Fault = in.Fault.Message
			}
			return in, we
		}
		if err := w.pause(); err != nil {
			return nil, err
		}
	}
}

// waitGone polls until the instance answers 404.
func (c *call) waitGone(ctx context.Context, id, name string) error {
	w := c.newWaiter(ctx, "instance "+label(name, id)+" to go", nameOr(name, id))
	defer w.cancel()
	for {
		in, err := c.getInstance(w.ctx, id)
		switch {
		case gophercloud.ResponseCodeIs(err, http.StatusNotFound):
			w.see("DELETED")
			return nil
		case err != nil:
			return w.fail(err)
		}
		w.see(in.Status)
		if in.Status == "ERROR" || in.Status == "FAILED" {
			we := &WaitError{ID: id, Name: in.Name, Status: in.Status}
			if in.Fault != nil {
				we.Fault = in.Fault.Message
			}
			return we
		}
		if err := w.pause(); err != nil {
			return err
		}
	}
}

// BackupError is returned by backup create --wait when the backup fails.
type BackupError struct{ ID, Name, Status string }

func (e *BackupError) Error() string {
	return fmt.Sprintf("backup %s went to %s", label(e.Name, e.ID), e.Status)
}

// waitBackup polls a backup until it leaves NEW/BUILDING/SAVING.
func (c *call) waitBackup(ctx context.Context, b backupView) (backupView, error) {
	w := c.newWaiter(ctx, "backup "+label(b.Name, b.ID), nameOr(b.Name, b.ID))
	defer w.cancel()
	for {
		w.see(b.Status)
		switch b.Status {
		case "COMPLETED", "RESTORED":
			return b, nil
		case "NEW", "BUILDING", "SAVING":
		default:
			return b, &BackupError{ID: b.ID, Name: b.Name, Status: b.Status}
		}
		if err := w.pause(); err != nil {
			return b, err
		}
		var err error
		if b, err = c.getBackup(w.ctx, b.ID); err != nil {
			return b, w.fail(err)
		}
	}
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
