package enginetest

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatalf instead of
// ending the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = args[0].(string) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = format }

func TestUnavailable(t *testing.T) {
	for _, tt := range []struct {
		env        string
		skip, fail bool
	}{{"", true, false}, {"1", false, true}} {
		t.Run("env="+tt.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			r := &recorder{TB: t}
			Unavailable(r, "%s is not installed", "redis")
			if (r.skipped != "") != tt.skip || (r.failed != "") != tt.fail {
				t.Errorf("Unavailable with %s=%q: skipped %q, failed %q", RequireEnv, tt.env, r.skipped, r.failed)
			}
			if tt.skip && !strings.Contains(r.skipped, "redis is not installed") {
				t.Errorf("skip message %q", r.skipped)
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Errorf("FreePort = %d", p)
	}
}
