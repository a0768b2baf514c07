//go:build !hoardtest

package main

import (
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/task"
)

// crashHook is nil in the production build: crash injection exists only in
// a test build (go build -tags hoardtest, see crash.go), so no environment
// variable can make a deployed hoard kill itself at a step boundary.
func crashHook() func(*model.Task, string, task.Phase) error { return nil }
