//go:build hoardtest

package main

import (
	"os"
	"strings"
	"syscall"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/task"
)

// crashHook returns the task hook of a test build (go build -tags
// hoardtest, as test/e2e builds hoard): when HOARD_TEST_CRASH_AT is
// "kind:step:phase", e.g. "create:start:after", it kills this process with
// SIGKILL at that step boundary, for the crash-resume tests. It returns nil
// (no hook) when the variable is unset or malformed. The default build has
// a crashHook that always returns nil (nocrash.go).
func crashHook() func(*model.Task, string, task.Phase) error {
	spec := os.Getenv("HOARD_TEST_CRASH_AT")
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
