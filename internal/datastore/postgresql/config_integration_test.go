package postgresql

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// TestConfigBackupIntegration checks, on real servers: the catalogue
// against pg_settings; a group's values in effect at start, a dynamic
// change applied by ApplyDynamic (reload), and values surviving a
// restart; a backup restored into a second server with identical data.
func TestConfigBackupIntegration(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	admin := srv.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(testCtx(t), admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}

	t.Run("CatalogueMatchesPgSettings", func(t *testing.T) {
		ps, err := e.Parameters(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) < len(catalogueNames)-2 {
			t.Errorf("%d parameters, want about %d", len(ps), len(catalogueNames))
		}
		c := mustConnect(t, admin, maintenanceDB)
		for _, p := range ps {
			var vartype, context, lo, hi, enums string
			err := c.QueryRow(testCtx(t), `SELECT vartype, context, coalesce(min_val, ''), coalesce(max_val, ''),
				coalesce(array_to_string(enumvals, ','), '') FROM pg_settings WHERE lower(name) = $1`, p.Name).
				Scan(&vartype, &context, &lo, &hi, &enums)
			if err != nil {
				t.Errorf("%s: %v", p.Name, err)
				continue
			}
			wantType := map[string]datastore.ParamType{"bool": datastore.ParamBoolean, "integer": datastore.ParamInteger,
				"real": datastore.ParamFloat, "string": datastore.ParamString, "enum": datastore.ParamString}[vartype]
			if p.Type != wantType || p.RestartRequired != (context == "postmaster") {
				t.Errorf("%s = %+v; pg_settings: %s %s", p.Name, p, vartype, context)
			}
			if vartype == "integer" && (p.Min != lo || p.Max != hi) {
				t.Errorf("%s range %s..%s; pg_settings %s..%s", p.Name, p.Min, p.Max, lo, hi)
			}
			if vartype == "enum" {
				for _, a := range p.Allowed {
					if !slices.Contains(strings.Split(enums, ","), a) {
						t.Errorf("%s allows %s; pg_settings enumvals %s", p.Name, a, enums)
					}
				}
			}
		}
	})

	t.Run("GroupValues", func(t *testing.T) {
		srv.stop(t)
		srv.spec.Config = map[string]string{"work_mem": "8192", "shared_buffers": "4096", "jit": "false", "log_statement": "ddl"}
		srv.start(t)
		c := mustConnect(t, admin, maintenanceDB)
		for name, want := range map[string]string{"work_mem": "8MB", "shared_buffers": "32MB", "jit": "off", "log_statement": "ddl"} {
			if got := queryString(t, c, "SHOW "+name); got != want {
				t.Errorf("at start %s = %s, want %s", name, got, want)
			}
		}
		// A dynamic change: the driver re-renders, ApplyDynamic reloads.
		srv.spec.Config["work_mem"] = "16384"
		srv.Spec = srv.spec
		files, err := e.Process().Render(srv.Spec)
		if err != nil {
			t.Fatal(err)
		}
		writeConf(t, srv.Spec.ConfDir, files)
		if err := e.ApplyDynamic(testCtx(t), admin, map[string]string{"work_mem": "16384"}); err != nil {
			t.Fatalf("ApplyDynamic: %v", err)
		}
		c2 := mustConnect(t, admin, maintenanceDB)
		if got := queryString(t, c2, "SHOW work_mem"); got != "16MB" {
			t.Errorf("after ApplyDynamic work_mem = %s, want 16MB", got)
		}
		if err := e.ApplyDynamic(testCtx(t), admin, map[string]string{"data_directory": "/x"}); err == nil {
			t.Error("ApplyDynamic of data_directory = nil")
		}
		srv.stop(t)
		srv.start(t)
		c3 := mustConnect(t, admin, maintenanceDB)
		if got := queryString(t, c3, "SHOW work_mem"); got != "16MB" {
			t.Errorf("after restart work_mem = %s, want 16MB", got)
		}
	})

	t.Run("BackupRestore", func(t *testing.T) {
		c := mustConnect(t, admin, maintenanceDB)
		for _, q := range []string{"CREATE TABLE items (id int PRIMARY KEY, v text)",
			"INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g"} {
			if _, err := c.Exec(testCtx(t), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		const sum = "SELECT count(*)::text || ' ' || md5(string_agg(v, ',' ORDER BY id)) FROM items"
		want := queryString(t, c, sum)
		var buf bytes.Buffer
		if _, err := e.Backup(testCtx(t), admin, srv.Spec, t.TempDir(), &buf, &datastore.BackupRef{ID: "p"}); err == nil {
			t.Error("incremental backup = nil error")
		}
		meta, err := e.Backup(testCtx(t), admin, srv.Spec, t.TempDir(), &buf, nil)
		if err != nil {
			t.Fatalf("Backup: %v", err)
		}
		if meta[MetaBackupType] != "full" || buf.Len() == 0 {
			t.Errorf("Backup = %v, %d bytes", meta, buf.Len())
		}
		if strings.Contains(srv.logs.String(), string(adminPassword)) {
			t.Error("the password reached the logs")
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
		c2 := mustConnect(t, dst.socketConn(adminUser, adminPassword), maintenanceDB)
		if got := queryString(t, c2, sum); got != want {
			t.Errorf("restored items = %s, want %s", got, want)
		}
	})
}

func writeConf(t *testing.T, dir string, files []datastore.File) {
	t.Helper()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
