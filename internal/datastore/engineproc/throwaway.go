package engineproc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Throwaway is a server started for a moment (to read its settings, to
// run an offline step) and stopped again, never supervised.
type Throwaway struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// ExitError is returned by [Throwaway.Poll] when the server exited
// before it answered; Err is what waiting for it returned.
type ExitError struct{ Err error }

func (e *ExitError) Error() string { return fmt.Sprintf("throwaway server exited: %v", e.Err) }

func (e *ExitError) Unwrap() error { return e.Err }

// StartThrowaway starts cmd. cmd should run in a process group of its own
// (SysProcAttr.Setpgid), so that Stop's SIGKILL reaches all of it.
func StartThrowaway(cmd *exec.Cmd) (*Throwaway, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &Throwaway{cmd: cmd, done: make(chan struct{})}
	go func() {
		t.err = cmd.Wait()
		close(t.done)
	}()
	return t, nil
}

// Poll calls try every interval until it returns nil. It returns an
// *ExitError if the server exits first, and try's last error if ctx ends
// first.
func (t *Throwaway) Poll(ctx context.Context, interval time.Duration, try func() error) error {
	for {
		err := try()
		if err == nil {
			return nil
		}
		select {
		case <-t.done:
			return &ExitError{Err: t.err}
		case <-ctx.Done():
			return err
		case <-time.After(interval):
		}
	}
}

// Stop ends the server: SIGTERM, then, if it has not exited within grace,
// SIGKILL to its whole process group. It returns once the process is gone.
func (t *Throwaway) Stop(grace time.Duration) {
	select {
	case <-t.done:
		return
	default:
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
		_ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
		<-t.done
	}
}

// IsExit reports whether err is (or wraps) an *ExitError.
func IsExit(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee)
}
