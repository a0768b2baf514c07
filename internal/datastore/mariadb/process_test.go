package mariadb

import (
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

func testSpec() datastore.Spec {
	return datastore.Spec{
		InstanceID: "7d9c1f2e",
		DataDir:    "/var/lib/hoard/i1/data",
		RunDir:     "/var/lib/hoard/i1/run",
		LogDir:     "/var/lib/hoard/i1/log",
		ConfDir:    "/var/lib/hoard/i1/conf",
		Address:    "127.0.0.1",
		Port:       23306,
		RAMMB:      512,
		VolumeGB:   1,
	}
}

func TestRender(t *testing.T) {
	files, err := New(Config{}).Process().Render(testSpec())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if len(files) != 1 || files[0].Name != "my.cnf" {
		t.Fatalf("Render returned %d files, want just my.cnf", len(files))
	}
	want := `[client]
socket=/var/lib/hoard/i1/run/mysqld.sock
port=23306
default-character-set=utf8mb4

[mariadbd]
datadir=/var/lib/hoard/i1/data
port=23306
bind-address=127.0.0.1
socket=/var/lib/hoard/i1/run/mysqld.sock
pid-file=/var/lib/hoard/i1/run/mysqld.pid
tmpdir=/var/lib/hoard/i1/run
log-error=/var/lib/hoard/i1/log/error.log
skip-name-resolve=1
open_files_limit=20000
max_connections=100
innodb_buffer_pool_size=256M
innodb_log_file_size=48M
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
server-id=1939140928
relay-log=relay-bin
local-infile=0
symbolic-links=0
secure_file_priv=/var/lib/hoard/i1/run
log_output=FILE
general_log_file=/var/lib/hoard/i1/log/general.log
slow_query_log_file=/var/lib/hoard/i1/log/slow_query.log
`
	if diff := cmp.Diff(want, string(files[0].Content)); diff != "" {
		t.Errorf("Render my.cnf mismatch (-want +got):\n%s", diff)
	}
}

// TestRenderAdminInit checks the init-file that re-creates hoard's account
// at every start: rendered when the admin password is known, holding its
// hash and never the password, and named in my.cnf; and that a files
// directory replaces the run directory as secure_file_priv.
func TestRenderAdminInit(t *testing.T) {
	spec := testSpec()
	spec.FilesDir = "/var/lib/hoard/i1/vol/files"
	spec.AdminUser, spec.AdminPassword = "os_admin", "s3cret-admin-pw"
	files, err := New(Config{}).Process().Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[1].Name != adminInitFile {
		t.Fatalf("Render returned %d files, want my.cnf and %s", len(files), adminInitFile)
	}
	cnf, init := string(files[0].Content), string(files[1].Content)
	for _, want := range []string{"secure_file_priv=/var/lib/hoard/i1/vol/files\n", "init-file=/var/lib/hoard/i1/conf/" + adminInitFile + "\n"} {
		if !strings.Contains(cnf, want) {
			t.Errorf("my.cnf lacks %q:\n%s", want, cnf)
		}
	}
	if strings.Contains(init, "s3cret-admin-pw") || !strings.Contains(init, passwordHash("s3cret-admin-pw")) {
		t.Errorf("init-file must hold the hash, not the password:\n%s", init)
	}
	// Not binlogged: its statements would reach every replica at each
	// start of a source, and give a replica transactions of its own.
	if !strings.HasPrefix(init, "SET sql_log_bin = 0;\n") {
		t.Errorf("init-file does not start by turning off the binary log:\n%s", init)
	}
	for _, want := range []string{"CREATE USER IF NOT EXISTS 'os_admin'@'%'", "ACCOUNT UNLOCK", "GRANT ALL PRIVILEGES ON *.* TO 'os_admin'@'localhost' WITH GRANT OPTION"} {
		if !strings.Contains(init, want) {
			t.Errorf("init-file lacks %q:\n%s", want, init)
		}
	}
	spec.AdminUser = "x'; DROP"
	if _, err := New(Config{}).Process().Render(spec); err == nil {
		t.Error("Render accepted an admin name that needs quoting")
	}
}

func TestSizing(t *testing.T) {
	tests := []struct {
		ram, pool, conns int
	}{
		{0, 32, 100},
		{32, 32, 100},
		{64, 32, 100},
		{512, 256, 100},
		{1024, 512, 100},
		{1025, 512, 200},
		{2048, 1024, 200},
		{4096, 2048, 400},
		{16384, 8192, 1000},
		{maxRAMMB, maxRAMMB / 2, 1000},
	}
	for _, tt := range tests {
		if got := bufferPoolMB(tt.ram); got != tt.pool {
			t.Errorf("bufferPoolMB(%d) = %d, want %d", tt.ram, got, tt.pool)
		}
		if got := maxConnections(tt.ram); got != tt.conns {
			t.Errorf("maxConnections(%d) = %d, want %d", tt.ram, got, tt.conns)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*datastore.Spec)
	}{
		{"newline in data dir", func(s *datastore.Spec) { s.DataDir = "/d\n[mariadbd]\nlocal-infile=1" }},
		{"relative data dir", func(s *datastore.Spec) { s.DataDir = "data" }},
		{"empty run dir", func(s *datastore.Spec) { s.RunDir = "" }},
		{"unclean log dir", func(s *datastore.Spec) { s.LogDir = "/var/../etc" }},
		{"trailing slash", func(s *datastore.Spec) { s.LogDir = "/var/log/" }},
		{"comment in conf dir", func(s *datastore.Spec) { s.ConfDir = "/x#y" }},
		{"space in path", func(s *datastore.Spec) { s.DataDir = "/a b" }},
		{"quote in path", func(s *datastore.Spec) { s.DataDir = `/a"b` }},
		{"backslash in path", func(s *datastore.Spec) { s.DataDir = `/a\nb` }},
		{"long socket path", func(s *datastore.Spec) { s.RunDir = "/" + strings.Repeat("r", 100) }},
		{"host name address", func(s *datastore.Spec) { s.Address = "localhost" }},
		{"address injection", func(s *datastore.Spec) { s.Address = "127.0.0.1\nskip-grant-tables" }},
		{"zone", func(s *datastore.Spec) { s.Address = "fe80::1%eth0" }},
		{"port 0", func(s *datastore.Spec) { s.Port = 0 }},
		{"port 65536", func(s *datastore.Spec) { s.Port = 65536 }},
		{"negative RAM", func(s *datastore.Spec) { s.RAMMB = -1 }},
		{"huge RAM", func(s *datastore.Spec) { s.RAMMB = maxRAMMB + 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec()
			tt.mod(&spec)
			files, err := New(Config{}).Process().Render(spec)
			if err == nil {
				t.Fatalf("Render(%+v) = %q, want error", spec, files[0].Content)
			}
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("Render error %v is not fault.Invalid", err)
			}
		})
	}
}

func TestRenderIPv6(t *testing.T) {
	spec := testSpec()
	spec.Address = "::ffff:127.0.0.1"
	files, err := New(Config{}).Process().Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files[0].Content), "\nbind-address=127.0.0.1\n") {
		t.Errorf("a v4-mapped address is not rendered as IPv4:\n%s", files[0].Content)
	}
}

func TestCommands(t *testing.T) {
	spec := testSpec()
	for _, root := range []bool{false, true} {
		p := New(Config{BinDir: "/opt/mariadb/bin", RunAsRoot: root}).Process()
		// BinDir does not hold the programs, so the bare names are used.
		wantInit := []string{"mariadb-install-db", "--defaults-file=/var/lib/hoard/i1/conf/my.cnf",
			"--auth-root-authentication-method=normal", "--skip-test-db"}
		if diff := cmp.Diff(wantInit, p.InitArgs(spec)); diff != "" {
			t.Errorf("InitArgs (-want +got):\n%s", diff)
		}
		wantServer := []string{"mariadbd", "--defaults-file=/var/lib/hoard/i1/conf/my.cnf"}
		if root {
			wantServer = append(wantServer, "--user=root")
		}
		if diff := cmp.Diff(wantServer, p.ServerArgs(spec)); diff != "" {
			t.Errorf("ServerArgs(RunAsRoot=%v) (-want +got):\n%s", root, diff)
		}
		if p.StopSignal() != syscall.SIGTERM {
			t.Errorf("StopSignal = %v", p.StopSignal())
		}
		if got := p.Socket(spec); got != "/var/lib/hoard/i1/run/mysqld.sock" {
			t.Errorf("Socket = %q", got)
		}
	}
}

var (
	sectionRE = regexp.MustCompile(`^\[(client|mariadbd)\]$`)
	kvRE      = regexp.MustCompile(`^[a-z_-]+=[A-Za-z0-9._/+@,:-]+$`)
)

// FuzzRender checks that no Spec, however hostile, makes Render produce a
// line that is not a known section header, blank, or key=value with a
// plain value (no comment, quote, escape or blank), and that every key
// appears once per section.
func FuzzRender(f *testing.F) {
	s := testSpec()
	f.Add(s.DataDir, s.RunDir, s.LogDir, s.ConfDir, s.Address, s.Port, s.RAMMB)
	f.Add("/d\n[mysqld]\nskip-grant-tables", "/r", "/l", "/c", "::1", 1, 0)
	f.Add("/d", "/r#x", "/l", "/c", "127.0.0.1 # x", 65535, 1<<30)
	f.Fuzz(func(t *testing.T, data, run, log, conf, addr string, port, ram int) {
		spec := datastore.Spec{DataDir: data, RunDir: run, LogDir: log, ConfDir: conf,
			Address: addr, Port: port, RAMMB: ram}
		files, err := New(Config{}).Process().Render(spec)
		if err != nil {
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("Render error %v is not fault.Invalid", err)
			}
			return
		}
		seen := map[string]bool{}
		section := ""
		for _, line := range strings.Split(strings.TrimSuffix(string(files[0].Content), "\n"), "\n") {
			switch {
			case line == "":
			case sectionRE.MatchString(line):
				section = line
			case kvRE.MatchString(line):
				key := section + strings.SplitN(line, "=", 2)[0]
				if seen[key] {
					t.Fatalf("key %q repeated in:\n%s", key, files[0].Content)
				}
				seen[key] = true
			default:
				t.Fatalf("bad line %q in:\n%s", line, files[0].Content)
			}
		}
		if len(seen) != 25 {
			t.Fatalf("rendered %d keys, want 25:\n%s", len(seen), files[0].Content)
		}
	})
}

// TestRenderLogs checks that the enabled guest logs are switched on in
// my.cnf, and that the log files are named whether enabled or not.
func TestRenderLogs(t *testing.T) {
	tests := []struct {
		logs    []string
		want    []string
		notWant []string
	}{
		{nil, []string{"general_log_file=/var/lib/hoard/i1/log/general.log\n"}, []string{"general_log=1", "slow_query_log=1"}},
		{[]string{"general"}, []string{"general_log=1\n"}, []string{"slow_query_log=1"}},
		{[]string{"slow_query"}, []string{"slow_query_log=1\n", "long_query_time=1\n"}, []string{"general_log=1"}},
		{[]string{"general", "slow_query", "error"}, []string{"general_log=1\n", "slow_query_log=1\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.logs, ","), func(t *testing.T) {
			spec := testSpec()
			spec.Logs = tt.logs
			files, err := New(Config{}).Process().Render(spec)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			got := string(files[0].Content)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(Logs %v) lacks %q", tt.logs, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Render(Logs %v) has %q", tt.logs, w)
				}
			}
		})
	}
}
