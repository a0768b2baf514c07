package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

func TestStoreBackup(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() // open throughout, as under hoard serve
	if _, err := st.InitSetting(ctx, "probe", "value"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"secret.key", nodeIDName, pki.CertFile, pki.SealedKeyFile} {
		if err := os.WriteFile(filepath.Join(data, f), []byte(f+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dest := filepath.Join(t.TempDir(), "copy")
	var out bytes.Buffer
	if err := storeBackupCmd(ctx, []string{"--data-dir", data, dest}, &out); err != nil {
		t.Fatalf("store-backup: %v\n%s", err, out.String())
	}
	for _, f := range []string{"hoard.db", "secret.key", nodeIDName, pki.CertFile, pki.SealedKeyFile} {
		fi, err := os.Stat(filepath.Join(dest, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s in the copy: %v, %v; want mode 0600", f, fi, err)
		}
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("destination: %v, %v; want mode 0700", fi, err)
	}
	cp, err := sqlite.Open(ctx, filepath.Join(dest, "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if v, err := cp.InitSetting(ctx, "probe", "other"); err != nil || v != "value" {
		t.Errorf("setting in the copy = %q, %v", v, err)
	}
	var _ store.Settings = cp

	for name, args := range map[string][]string{
		"existing destination": {"--data-dir", data, dest},
		"postgres store":       {"--data-dir", data, "--store", "postgres://h/db", filepath.Join(t.TempDir(), "x")},
		"no store":             {"--data-dir", t.TempDir(), filepath.Join(t.TempDir(), "y")},
	} {
		if err := storeBackupCmd(ctx, args, &out); err == nil {
			t.Errorf("%s: store-backup = nil, want an error", name)
		}
	}
	if err := storeBackupCmd(ctx, []string{"--data-dir", data}, &out); err != errUsage {
		t.Errorf("no destination: %v, want errUsage", err)
	}
}

func TestStopAll(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	empty := t.TempDir()
	if err := stopAllCmd(ctx, []string{"--data-dir", empty}, &out); err != nil || !strings.Contains(out.String(), "no engines") {
		t.Errorf("stop-all of an empty data dir = %v, %q", err, out.String())
	}

	busy := t.TempDir()
	// As hoard serve leaves it: engine users may traverse it.
	for _, d := range []string{filepath.Dir(busy), busy} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(busy, "instances"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := lockDataDir(busy, true) // a hoard serve on PostgreSQL
	if err != nil {
		t.Fatal(err)
	}
	err = stopAllCmd(ctx, []string{"--data-dir", busy}, &out)
	lock.Close()
	if err == nil || !strings.Contains(err.Error(), "stop hoard serve first") {
		t.Errorf("stop-all while serving = %v, want a refusal", err)
	}
	out.Reset()
	if err := stopAllCmd(ctx, []string{"--data-dir", busy}, &out); err != nil || !strings.Contains(out.String(), "0 engines stopped") {
		t.Errorf("stop-all of no engines = %v, %q", err, out.String())
	}
}

// TestServeBindsFirst: a busy port is reported before hoard creates
// anything in a new data directory.
func TestServeBindsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "new-data")
	err = serve(context.Background(), []string{"--listen", ln.Addr().String(), "--data-dir", dir})
	if err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("serve on a busy port = %v, want a --listen error", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("serve on a busy port created %s: %v", dir, err)
	}
}
