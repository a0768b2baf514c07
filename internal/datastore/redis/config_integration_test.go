package redis

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// TestConfigBackupIntegration checks, on real servers: the catalogue is
// what CONFIG GET * has; group values in effect at start and after a
// restart, ApplyDynamic at once, a tenant's CONFIG SET gone after a
// restart; a backup restored into a second server with every key and
// the users.
func TestConfigBackupIntegration(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	admin := srv.socketConn(adminUser, adminPassword)
	ctx := testCtx(t)
	if err := e.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "app-pw-123"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("Catalogue", func(t *testing.T) {
		ps, err := e.Parameters(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(catalogue) {
			t.Errorf("%d parameters, want all %d of the catalogue", len(ps), len(catalogue))
		}
		c := srv.goClient(t, adminUser, string(adminPassword))
		for _, p := range ps {
			if p.RestartRequired {
				t.Errorf("%s needs a restart", p.Name)
			}
			if _, ok := c.ConfigGet(testCtx(t), p.Name).Val()[p.Name]; !ok {
				t.Errorf("CONFIG GET %s: none", p.Name)
			}
		}
	})

	t.Run("GroupValues", func(t *testing.T) {
		srv.stop(t)
		srv.spec.Config = map[string]string{"maxmemory-policy": "allkeys-lru", "timeout": "300", "lazyfree-lazy-eviction": "true", "notify-keyspace-events": "Ex"}
		srv.start(t)
		c := srv.goClient(t, adminUser, string(adminPassword))
		want := map[string]string{"maxmemory-policy": "allkeys-lru", "timeout": "300", "lazyfree-lazy-eviction": "yes", "notify-keyspace-events": "xE"}
		check := func(when string) {
			t.Helper()
			for k, v := range want {
				if got := c.ConfigGet(testCtx(t), k).Val()[k]; got != v {
					t.Errorf("%s: %s = %q, want %q", when, k, got, v)
				}
			}
		}
		check("at start")
		if err := e.ApplyDynamic(testCtx(t), admin, map[string]string{"hz": "20", "timeout": "600"}); err != nil {
			t.Fatalf("ApplyDynamic: %v", err)
		}
		want["hz"], want["timeout"] = "20", "600"
		check("after ApplyDynamic")
		if err := e.ApplyDynamic(testCtx(t), admin, map[string]string{"dir": "/tmp"}); err == nil {
			t.Error("ApplyDynamic of dir = nil error")
		}
		// The group as the service would have it now; a tenant's own
		// CONFIG SET is gone after a restart.
		srv.spec.Config["hz"], srv.spec.Config["timeout"] = "20", "600"
		if err := srv.goClient(t, "app", "app-pw-123").ConfigSet(testCtx(t), "slowlog-max-len", "7").Err(); err != nil {
			t.Fatal(err)
		}
		srv.stop(t)
		srv.start(t)
		c = srv.goClient(t, adminUser, string(adminPassword))
		check("after restart")
		if got := c.ConfigGet(testCtx(t), "slowlog-max-len").Val()["slowlog-max-len"]; got != "128" {
			t.Errorf("slowlog-max-len after restart = %s, want the default 128", got)
		}
	})

	t.Run("BackupRestore", func(t *testing.T) {
		c := srv.goClient(t, "app", "app-pw-123")
		want := map[string]string{}
		for i := range 2000 {
			k, v := fmt.Sprintf("key:%d", i), fmt.Sprintf("value-%d", i*7)
			want[k] = v
			if err := c.Set(testCtx(t), k, v, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := e.Backup(testCtx(t), admin, srv.Spec, t.TempDir(), &buf, &datastore.BackupRef{ID: "p"}); err == nil {
			t.Error("incremental backup = nil error")
		}
		meta, err := e.Backup(testCtx(t), admin, srv.Spec, t.TempDir(), &buf, nil)
		if err != nil || meta[MetaBackupType] != "full" {
			t.Fatalf("Backup = %v, %v", meta, err)
		}
		// A write after the backup is not in it.
		if err := c.Set(testCtx(t), "late", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}

		dst := startServer(t)
		dst.stop(t)
		if err := os.RemoveAll(dst.Spec.DataDir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dst.Spec.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := e.Restore(testCtx(t), dst.Spec, t.TempDir(), []io.Reader{bytes.NewReader(buf.Bytes())}); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		chownTree(t, dst.Spec.DataDir)
		dst.start(t)
		// The users came along: the admin password and app still work.
		if err := e.Bootstrap(testCtx(t), dst.socketConn(adminUser, adminPassword)); err != nil {
			t.Fatalf("Bootstrap after restore: %v", err)
		}
		dc := dst.goClient(t, "app", "app-pw-123")
		keys, err := dc.Keys(testCtx(t), "*").Result()
		if err != nil || len(keys) != len(want) {
			t.Fatalf("restored %d keys, %v; want %d", len(keys), err, len(want))
		}
		for k, v := range want {
			if got, err := dc.Get(testCtx(t), k).Result(); err != nil || got != v {
				t.Errorf("restored %s = %q, %v; want %q", k, got, err, v)
				break
			}
		}
	})
}

// chownTree hands dir to the instance user, as the driver does.
func chownTree(t *testing.T, dir string) {
	t.Helper()
	cred, err := enginetest.Credential()
	if err != nil || cred == nil {
		return
	}
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}
