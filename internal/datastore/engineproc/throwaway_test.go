package engineproc

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func group(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func TestThrowaway(t *testing.T) {
	errNotYet := errors.New("not yet")
	tests := []struct {
		name     string
		script   string
		ready    int // try succeeds on this call (0: never)
		timeout  time.Duration
		wantExit bool
		wantErr  error
	}{
		{"answers", "sleep 60", 3, 10 * time.Second, false, nil},
		{"exits first", "exit 3", 0, 10 * time.Second, true, nil},
		{"never answers", "sleep 60", 0, 100 * time.Millisecond, false, errNotYet},
		{"ignores SIGTERM", "trap '' TERM; sleep 60 & wait", 1, 10 * time.Second, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := StartThrowaway(group(exec.Command("sh", "-c", tt.script)))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop(100 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			calls := 0
			err = srv.Poll(ctx, 5*time.Millisecond, func() error {
				calls++
				if calls == tt.ready {
					return nil
				}
				return errNotYet
			})
			switch {
			case tt.wantExit:
				if !IsExit(err) {
					t.Fatalf("Poll = %v, want an ExitError", err)
				}
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("Poll = %v, want %v", err, tt.wantErr)
			}
			start := time.Now()
			srv.Stop(100 * time.Millisecond)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Stop took %v", took)
			}
			select {
			case <-srv.done:
			default:
				t.Error("Stop returned with the process running")
			}
		})
	}
}
