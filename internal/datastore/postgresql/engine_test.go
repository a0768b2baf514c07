package postgresql

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    datastore.Version
		wantErr bool
	}{
		{in: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", want: datastore.Version{Name: "15", Version: "15.18"}},
		{in: "postgres (PostgreSQL) 16.4", want: datastore.Version{Name: "16", Version: "16.4"}},
		{in: "postgres (PostgreSQL) 017.02 (x)", want: datastore.Version{Name: "17", Version: "17.2"}},
		{in: "postgres (PostgreSQL) 17devel", wantErr: true},
		{in: "postgres (PostgreSQL) 16beta2", wantErr: true},
		{in: "mariadbd  Ver 10.11.19-MariaDB", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	f.Add("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")
	f.Add("postgres (PostgreSQL) 9999.9999")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err == nil && !strings.HasPrefix(v.Version, v.Name+".") {
			t.Errorf("ParseVersion(%q) = %+v", s, v)
		}
	})
}

func testSpec() datastore.Spec {
	return datastore.Spec{
		InstanceID: "i1", DataDir: "/srv/h/i1/data", RunDir: "/srv/h/i1/run", LogDir: "/srv/h/i1/log",
		ConfDir: "/srv/h/i1/conf", Address: "127.0.1.7", Port: 5432, RAMMB: 2048,
	}
}

func TestRender(t *testing.T) {
	e := New(Config{})
	files, err := e.Process().Render(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Name] = string(f.Content)
	}
	conf := got[ConfigFile]
	for _, want := range []string{
		"listen_addresses = '127.0.1.7'\n", "port = 5432\n", "unix_socket_directories = '/srv/h/i1/run'\n",
		"hba_file = '/srv/h/i1/conf/pg_hba.conf'\n", "ident_file = '/srv/h/i1/conf/pg_ident.conf'\n",
		"shared_buffers = '512MB'\n", "effective_cache_size = '1536MB'\n", "max_connections = 200\n",
		"external_pid_file = '/srv/h/i1/run/postgres.pid'\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("postgresql.conf lacks %q:\n%s", want, conf)
		}
	}
	hba := got[HBAFile]
	if !regexp.MustCompile(`(?m)^local\s+all\s+postgres\s+trust$`).MatchString(hba) ||
		regexp.MustCompile(`(?m)^(host|local)\s+\S+\s+all\s+.*trust$`).MatchString(hba) {
		t.Errorf("pg_hba.conf trusts more than postgres on the socket:\n%s", hba)
	}
	if _, ok := got[IdentFile]; !ok {
		t.Error("no pg_ident.conf")
	}

	args := e.Process().ServerArgs(testSpec())
	joined := strings.Join(args, " ")
	for _, want := range []string{"-D /srv/h/i1/data", "-c config_file=/srv/h/i1/conf/postgresql.conf",
		"-c max_connections=200", "-c shared_buffers=512MB", "-c listen_addresses=127.0.1.7"} {
		if !strings.Contains(joined, want) {
			t.Errorf("ServerArgs lacks %q: %v", want, args)
		}
	}
	if s := e.Process().Socket(testSpec()); s != "/srv/h/i1/run/.s.PGSQL.5432" {
		t.Errorf("Socket = %s", s)
	}
}

func TestRenderRefusesBadSpecs(t *testing.T) {
	e := New(Config{})
	for name, mod := range map[string]func(*datastore.Spec){
		"quote in path":  func(s *datastore.Spec) { s.DataDir = "/srv/x'y" },
		"newline":        func(s *datastore.Spec) { s.ConfDir = "/srv/x\nport = 1" },
		"relative":       func(s *datastore.Spec) { s.RunDir = "run" },
		"address":        func(s *datastore.Spec) { s.Address = "127.0.0.1' x" },
		"port":           func(s *datastore.Spec) { s.Port = 70000 },
		"ram":            func(s *datastore.Spec) { s.RAMMB = -1 },
		"long socket":    func(s *datastore.Spec) { s.RunDir = "/" + strings.Repeat("r", 100) },
		"unclean path":   func(s *datastore.Spec) { s.LogDir = "/srv/../etc" },
		"zone in adress": func(s *datastore.Spec) { s.Address = "fe80::1%eth0" },
	} {
		s := testSpec()
		mod(&s)
		if _, err := e.Process().Render(s); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: Render = %v, want Invalid", name, err)
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add("/srv/data", "127.0.0.1", 5432, 512)
	f.Fuzz(func(t *testing.T, dir, addr string, port, ram int) {
		s := testSpec()
		s.DataDir, s.Address, s.Port, s.RAMMB = dir, addr, port, ram
		files, err := New(Config{}).Process().Render(s)
		if err != nil {
			return
		}
		for _, f := range files {
			for _, line := range strings.Split(string(f.Content), "\n") {
				if !strings.HasPrefix(line, "#") && strings.Count(line, "'")%2 != 0 {
					t.Fatalf("unbalanced quotes in %s: %q", f.Name, line)
				}
			}
		}
	})
}

func TestSizing(t *testing.T) {
	tests := []struct{ ram, sb, conns int }{
		{0, 32, 100}, {512, 128, 100}, {1024, 256, 100}, {4096, 1024, 400}, {65536, 16384, 500},
	}
	for _, tt := range tests {
		if sb, c := sharedBuffersMB(tt.ram), maxConnections(tt.ram); sb != tt.sb || c != tt.conns {
			t.Errorf("sizing(%d) = %d MB, %d conns; want %d, %d", tt.ram, sb, c, tt.sb, tt.conns)
		}
	}
}

func TestSCRAMVerifier(t *testing.T) {
	// Computed with PostgreSQL's own algorithm (src/common/scram-common.c)
	// for password "pencil" and the RFC 7677 salt.
	salt := []byte("[m\x99h\x9d\x125\x8e\xec\xa0K\x14\x126\xfa\x81")
	got, err := scramVerifierSalt("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"; !strings.HasPrefix(got, want) {
		t.Errorf("verifier = %s, want prefix %s", got, want)
	}
	// RFC 7677's ServerKey-derived ServerSignature can't be checked without
	// the exchange; the login tests in integration_test.go check the rest.
	a, _ := scramVerifier("pw")
	b, _ := scramVerifier("pw")
	if a == b || !regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$`).MatchString(a) {
		t.Errorf("scramVerifier = %s, %s", a, b)
	}
}

func TestValidate(t *testing.T) {
	e := New(Config{})
	okDBs := []string{"shop", "a", "my-db", "x$1", "_u", strings.Repeat("d", 63)}
	badDBs := []string{"", "postgres", "Template1", "-x", "$x", "a b", "a\"b", "a;b", strings.Repeat("d", 64), "é"}
	for _, n := range okDBs {
		if err := e.ValidateDatabase(datastore.Database{Name: n}); err != nil {
			t.Errorf("ValidateDatabase(%q) = %v", n, err)
		}
	}
	for _, n := range badDBs {
		if err := e.ValidateDatabase(datastore.Database{Name: n}); !fault.Is(err, fault.Invalid) {
			t.Errorf("ValidateDatabase(%q) = %v, want Invalid", n, err)
		}
	}
	for _, db := range []datastore.Database{{Name: "d", CharacterSet: "UTF8'"}, {Name: "d", Collate: "C' x"}} {
		if err := e.ValidateDatabase(db); !fault.Is(err, fault.Invalid) {
			t.Errorf("ValidateDatabase(%+v) = %v, want Invalid", db, err)
		}
	}
	users := []struct {
		u  datastore.User
		ok bool
	}{
		{datastore.User{Name: "app", Password: "pw"}, true},
		{datastore.User{Name: "app", Password: "pw", Host: "%"}, true},
		{datastore.User{Name: "app", Password: "p w!#"}, true},
		{datastore.User{Name: "app", Password: ""}, false},
		{datastore.User{Name: "app", Password: " pw"}, false},
		{datastore.User{Name: "app", Password: "pw\n"}, false},
		{datastore.User{Name: "app", Password: "pw", Host: "localhost"}, false},
		{datastore.User{Name: "PG_monitor", Password: "pw"}, false},
		{datastore.User{Name: "public", Password: "pw"}, false},
		{datastore.User{Name: "OS_ADMIN", Password: "pw"}, false},
		{datastore.User{Name: "app", Password: "pw", Databases: []string{"template0"}}, false},
	}
	for _, tt := range users {
		err := e.ValidateUser(tt.u)
		if (err == nil) != tt.ok || (err != nil && !fault.Is(err, fault.Invalid)) {
			t.Errorf("ValidateUser(%q/%q) = %v, want ok=%v", tt.u.Name, tt.u.Host, err, tt.ok)
		}
		if err != nil && tt.u.Password != "" && strings.Contains(fault.Message(err), string(tt.u.Password)) {
			t.Errorf("ValidateUser message contains the password: %v", err)
		}
	}
	if !slices.Contains(ReservedUsers(), "os_admin") || !slices.Contains(ReservedDatabases(), "template1") {
		t.Error("reserved lists")
	}
}

func FuzzValidateDatabaseName(f *testing.F) {
	f.Add("shop")
	f.Add("a\"b")
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateDatabaseName(name) == nil && (len(name) > 63 || strings.ContainsAny(name, "\"' \x00;\\")) {
			t.Errorf("ValidateDatabaseName(%q) accepted", name)
		}
	})
}

// TestRenderHBA: the tenants' "host" lines of pg_hba.conf admit every
// address without AllowedSources, and with them only those networks and
// hoard's own addresses on the host; the socket and replication lines
// stay.
func TestRenderHBA(t *testing.T) {
	e := New(Config{})
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	hoard := []string{"127.0.0.1/32", "::1/128", "127.0.1.7/32"}
	for _, tc := range []struct {
		name    string
		address string
		allowed []netip.Prefix
		want    []string // the tenants' host networks, in order
	}{
		{"no list", "", nil, []string{"0.0.0.0/0", "::/0"}},
		{"empty list", "", []netip.Prefix{}, []string{"0.0.0.0/0", "::/0"}},
		{"IPv4", "", pfx("127.0.0.2/32"), append(slices.Clone(hoard), "127.0.0.2/32")},
		{"IPv6", "", pfx("2001:db8::/32"), append(slices.Clone(hoard), "2001:db8::/32")},
		{"several, host bits cleared", "", pfx("10.1.2.3/8", "192.0.2.0/24", "fd00::1/64"),
			append(slices.Clone(hoard), "10.0.0.0/8", "192.0.2.0/24", "fd00::/64")},
		{"instance on 127.0.0.1", "127.0.0.1", pfx("10.0.0.0/8"), []string{"127.0.0.1/32", "::1/128", "10.0.0.0/8"}},
		{"instance on IPv6", "2001:db8::5", pfx("10.0.0.0/8"), []string{"127.0.0.1/32", "::1/128", "2001:db8::5/128", "10.0.0.0/8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec()
			if tc.address != "" {
				s.Address = tc.address
			}
			s.AllowedSources = tc.allowed
			files, err := e.Process().Render(s)
			if err != nil {
				t.Fatal(err)
			}
			var hba string
			for _, f := range files {
				if f.Name == HBAFile {
					hba = string(f.Content)
				}
			}
			var hosts []string
			var local, repl int
			for line := range strings.Lines(hba) {
				f := strings.Fields(line)
				switch {
				case len(f) == 0 || strings.HasPrefix(f[0], "#"):
				case f[0] == "local":
					local++
				case len(f) == 5 && f[0] == "host" && f[1] == "all" && f[2] == "all" && f[4] == "scram-sha-256":
					hosts = append(hosts, f[3])
				case slices.Equal(f, []string{"host", "replication", replicationUser, "all", "scram-sha-256"}):
					repl++
				default:
					t.Errorf("unexpected line %q", line)
				}
			}
			if !slices.Equal(hosts, tc.want) {
				t.Errorf("host lines admit %v, want %v:\n%s", hosts, tc.want, hba)
			}
			if local != 3 || repl != 1 {
				t.Errorf("%d local lines (want 3), %d replication lines (want 1):\n%s", local, repl, hba)
			}
		})
	}
	s := testSpec()
	s.AllowedSources = []netip.Prefix{{}}
	if _, err := e.Process().Render(s); !fault.Is(err, fault.Invalid) {
		t.Errorf("Render with an invalid prefix = %v, want Invalid", err)
	}
}
