package k8stest

import (
	"fmt"
	"os"
	"testing"
)

// Own starts a control plane for test t alone and stops it when t ends:
// for tests that change the cluster itself (cordon the node) or whose
// binary has no TestMain calling Main. It takes as long as Require's
// first call. Without binaries the test is skipped, or fails when
// HOARD_REQUIRE_K8S=1, as with Require.
func Own(t testing.TB) *Cluster {
	t.Helper()
	bins := BinDir()
	if bins == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (%s=1)", errNoBins, EnvRequire)
		}
		t.Skipf("SKIP Kubernetes tier: %v", errNoBins)
	}
	c, err := Start(bins, "")
	if err != nil {
		t.Fatal(fmt.Errorf("k8stest: control plane: %w", err))
	}
	t.Cleanup(c.Stop)
	return c
}
