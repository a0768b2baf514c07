package mariadb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

func TestParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real mariadbd")
	}
	e := New(Config{})
	if e.program(serverProgram) == "" {
		enginetest.Unavailable(t, "MariaDB is not installed")
	}
	ps, err := e.Parameters(testCtx(t))
	if err != nil {
		t.Fatalf("Parameters: %v", err)
	}
	if len(ps) < 40 {
		t.Errorf("catalogue has %d parameters, want at least 40", len(ps))
	}
	by := map[string]datastore.Parameter{}
	for _, p := range ps {
		by[p.Name] = p
	}
	for _, tt := range []struct {
		name    string
		typ     datastore.ParamType
		restart bool
		min     string
	}{
		{"max_connections", datastore.ParamInteger, false, "10"},
		{"ft_min_word_len", datastore.ParamInteger, true, "1"},
		{"long_query_time", datastore.ParamFloat, false, "0"},
		{"slow_query_log", datastore.ParamBoolean, false, ""},
		{"sql_mode", datastore.ParamString, false, ""},
		{"innodb_buffer_pool_size", datastore.ParamInteger, false, "2097152"},
	} {
		p, ok := by[tt.name]
		if !ok {
			t.Errorf("%s missing from the catalogue", tt.name)
			continue
		}
		if p.Type != tt.typ || p.RestartRequired != tt.restart || p.Min != tt.min {
			t.Errorf("%s = %+v, want type %s restart %v min %q", tt.name, p, tt.typ, tt.restart, tt.min)
		}
	}
	if p := by["sql_mode"]; !p.Set || len(p.Allowed) < 10 {
		t.Errorf("sql_mode = %+v, want a set with its flags", p)
	}
	again, err := e.Parameters(testCtx(t))
	if err != nil || len(again) != len(ps) {
		t.Errorf("cached Parameters = %d, %v", len(again), err)
	}
}

func TestRenderConfig(t *testing.T) {
	spec := testSpec()
	spec.Config = map[string]string{"max_connections": "77", "slow_query_log": "true", "sql_mode": "ANSI_QUOTES,STRICT_ALL_TABLES"}
	files, err := New(Config{}).Process().Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := string(files[0].Content)
	want := "# configuration group\nmax_connections=77\nslow_query_log=ON\nsql_mode=ANSI_QUOTES,STRICT_ALL_TABLES\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("my.cnf does not end with the group values:\n%s", got)
	}
	for _, bad := range []map[string]string{
		{"datadir": "/tmp"},
		{"max_connections": "1\ndatadir=/tmp"},
		{"time_zone": "a#b"},
		{"Max_Connections": "1"},
	} {
		spec.Config = bad
		if _, err := New(Config{}).Process().Render(spec); err == nil {
			t.Errorf("Render accepted %q", bad)
		}
	}
	d := New(Config{}).Defaults(testSpec())
	if d["max_connections"] != "100" || d["innodb_buffer_pool_size"] != "256M" || d["character_set_server"] != "utf8mb4" || d["port"] != "23306" {
		t.Errorf("Defaults = %v", d)
	}
}

func TestSQLLiteral(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"max_connections", "77", "77"},
		{"long_query_time", "2.5", "2.5"},
		{"slow_query_log", "true", "ON"},
		{"slow_query_log", "false", "OFF"},
		{"sql_mode", "ANSI_QUOTES", "'ANSI_QUOTES'"},
		{"time_zone", "+00:00", "'+00:00'"},
		{"time_zone", "x' OR '1", `'x'' OR ''1'`},
	} {
		got, err := sqlLiteral(tt.name, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("sqlLiteral(%s, %q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	if _, err := sqlLiteral("datadir", "x"); err == nil {
		t.Error("sqlLiteral accepted a parameter outside the catalogue")
	}
}

// TestConfigServer checks against a real server that group values are in
// effect after ApplyDynamic and, written to my.cnf, after a restart (the
// restart-only ft_min_word_len too), while a plain SET GLOBAL is gone.
func TestConfigServer(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	ctx := testCtx(t)
	admin := srv.socketConn(adminUser, "cfg-admin-pw-1")
	if err := e.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	dyn := map[string]string{"max_connections": "77", "slow_query_log": "true", "long_query_time": "2.5", "sql_mode": "ANSI_QUOTES,STRICT_ALL_TABLES"}
	if err := e.ApplyDynamic(ctx, admin, dyn); err != nil {
		t.Fatalf("ApplyDynamic: %v", err)
	}
	want := map[string]string{"max_connections": "77", "slow_query_log": "ON", "long_query_time": "2.500000", "sql_mode": "ANSI_QUOTES,STRICT_ALL_TABLES"}
	check := func(when string, want map[string]string) {
		t.Helper()
		s := mustOpen(t, admin)
		defer s.Close()
		for k, v := range want {
			if got := query(t, s, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = ?", strings.ToUpper(k)); got != v {
				t.Errorf("%s: %s = %q, want %q", when, k, got, v)
			}
		}
	}
	check("after ApplyDynamic", want)

	s := mustOpen(t, admin)
	if err := s.exec(ctx, "SET GLOBAL wait_timeout = 123"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	// The group, with a restart-only value, written to my.cnf.
	srv.spec.Config = map[string]string{"ft_min_word_len": "3"}
	for k, v := range dyn {
		srv.spec.Config[k] = v
	}
	files, err := e.Process().Render(srv.spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.spec.ConfDir, files[0].Name), files[0].Content, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	srv.start(t)
	want["ft_min_word_len"] = "3"
	want["wait_timeout"] = "28800" // the SET GLOBAL outside the group is gone
	check("after restart", want)

}
