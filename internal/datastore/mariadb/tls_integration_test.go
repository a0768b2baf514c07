package mariadb

import (
	"testing"

	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// TestTLSReload: a real server serves the certificate it was rendered
// with, verified against its CA for its address, and after ReloadTLS the
// one renewed in its files, without a restart.
func TestTLSReload(t *testing.T) {
	srv := startServerWith(t, enginetest.Options{TLS: enginetest.NewCA(t)})
	ctx := testCtx(t)
	admin := srv.socketConn(adminUser, adminPassword)
	if err := srv.engine.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	first := srv.ServedSerial(t, "mysql", srv.Spec.Port)
	srv.IssueTLS(t)
	if err := srv.engine.ReloadTLS(ctx, admin, *srv.Spec.TLS); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	if again := srv.ServedSerial(t, "mysql", srv.Spec.Port); again.Cmp(first) == 0 {
		t.Error("the server still serves its old certificate after ReloadTLS")
	}
}
