package main

import (
	"os"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/task"
)

// crashHook returns a task hook that kills this process with SIGKILL at one
// step boundary, for the crash-resume tests: spec is "kind:step:phase", e.g.
// "create:start:after". It returns nil (no hook) when spec is empty.
func crashHook(spec string) func(*model.Task, string, task.Phase) error {
	if spec == "" {
		return nil
	}
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return nil
	}
	return func(t *model.Task, step string, phase task.Phase) error {
		if string(t.Kind) == parts[0] && step == parts[1] && phase.String() == parts[2] {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns: the process is gone
		}
		return nil
	}
}
