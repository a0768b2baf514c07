package k8stest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
	used bool
}

// Main runs a test binary's tests and then stops the shared cluster, if a
// test started one. Call it from TestMain:
//
//	func TestMain(m *testing.M) { k8stest.Main(m) }
func Main(m *testing.M) {
	shared.used = true
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	os.Exit(code)
}

// Require returns the test binary's control plane, starting it on first
// use (about 10 to 30 seconds). Without binaries (see BinDir) the test is
// skipped with a notice, or fails when HOARD_REQUIRE_K8S=1: CI must never
// skip this tier silently. The package's TestMain must call Main.
func Require(t testing.TB) *Cluster {
	t.Helper()
	if !shared.used {
		t.Fatal("k8stest: TestMain must call k8stest.Main")
	}
	bins := BinDir()
	if bins == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (%s=1)", errNoBins, EnvRequire)
		}
		t.Skipf("SKIP Kubernetes tier: %v", errNoBins)
	}
	shared.once.Do(func() {
		shared.c, shared.err = Start(bins, "")
	})
	if shared.err != nil {
		t.Fatal(fmt.Errorf("k8stest: control plane: %w", shared.err))
	}
	return shared.c
}
