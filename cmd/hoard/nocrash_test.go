//go:build !hoardtest

package main

import "testing"

// TestNoCrashHookByDefault: without the hoardtest tag, HOARD_TEST_CRASH_AT
// gives no hook, so a deployed hoard cannot be made to kill itself.
func TestNoCrashHookByDefault(t *testing.T) {
	t.Setenv("HOARD_TEST_CRASH_AT", "create:start:after")
	if crashHook() != nil {
		t.Fatal("the default build has a crash hook")
	}
}
