package redis

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDurabilityIntegration kills a real redis-server with SIGKILL and
// checks that a key acknowledged more than a second before survives (the
// append-only file, fsynced every second), then that a data directory
// holding only an RDB snapshot (a restored backup, or an instance made
// before the AOF was on) keeps its data when the server starts with AOF.
func TestDurabilityIntegration(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	ctx := testCtx(t)
	conn := srv.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, conn); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	set := func(k, v string) {
		t.Helper()
		cl, err := admin(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := cl.do(ctx, "SET", k, v); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	get := func(k string) string {
		t.Helper()
		cl, err := admin(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		v, err := cl.do(ctx, "GET", k)
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		s, _ := v.(string)
		return s
	}

	set("acked", "before-the-kill")
	acked := time.Now()
	// The premise of the test, not a synchronisation: the kill comes more
	// than one fsync period (appendfsync everysec) after the ack.
	waitFor(t, "a second past the ack", func() bool { return time.Since(acked) > 1100*time.Millisecond })
	srv.Kill(t)
	srv.start(t)
	if got := get("acked"); got != "before-the-kill" {
		t.Fatalf("after kill -9: GET acked = %q, want the value acknowledged before; log:\n%s", got, srv.Log())
	}

	// An RDB snapshot and no append-only file: Prepare seeds the AOF.
	cl, err := admin(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	set("snap", "shot")
	if _, err := cl.do(ctx, "SAVE"); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	cl.Close()
	srv.Kill(t)
	if err := os.RemoveAll(filepath.Join(srv.spec.DataDir, aofDirName)); err != nil {
		t.Fatal(err)
	}
	srv.start(t)
	if got := get("snap"); got != "shot" {
		t.Errorf("snapshot only: GET snap = %q, want shot; log:\n%s", got, srv.Log())
	}
	if _, err := os.Stat(filepath.Join(srv.spec.DataDir, aofDirName)); err != nil {
		t.Errorf("no append-only directory after the start: %v", err)
	}
}
