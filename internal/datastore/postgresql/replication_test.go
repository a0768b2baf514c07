package postgresql

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// confStringRE is one quoted string of postgresql.conf (guc-file.l's
// STRING token).
var confStringRE = regexp.MustCompile(`^'((?:[^'\\\n]|\\.|'')*)'$`)

// confUnquote reads a quoted postgresql.conf value as the server does
// (guc-file.l: ” is a quote, a backslash escapes the next character;
// hoard writes no \b\f\n\r\t or octal escapes).
func confUnquote(t *testing.T, v string) string {
	t.Helper()
	m := confStringRE.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("not one postgresql.conf string: %s", v)
	}
	var b strings.Builder
	in := m[1]
	for i := 0; i < len(in); i++ {
		switch {
		case in[i] == '\\':
			i++
			b.WriteByte(in[i])
		case in[i] == '\'':
			i++ // the second of ''
			b.WriteByte('\'')
		default:
			b.WriteByte(in[i])
		}
	}
	return b.String()
}

// replicaSpec is testSpec as a replica of another local source.
func replicaSpec() datastore.Spec {
	s := testSpec()
	s.ReplicaOf = &datastore.ReplicaSource{Address: "127.0.1.8", Port: 5432, User: replicationUser, Password: replPassword}
	return s
}

// renderConf renders spec and returns postgresql.conf, with every file
// checked to hold no password.
func renderConf(t *testing.T, spec datastore.Spec) (string, error) {
	t.Helper()
	files, err := New(Config{}).Process().Render(spec)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if spec.ReplicaOf != nil && spec.ReplicaOf.Password != "" && strings.Contains(string(f.Content), string(spec.ReplicaOf.Password)) {
			t.Errorf("%s holds the password:\n%s", f.Name, f.Content)
		}
	}
	return string(files[0].Content), nil
}

// conninfoRE finds the primary_conninfo line.
var conninfoRE = regexp.MustCompile(`(?m)^primary_conninfo = (.*)$`)

func TestRenderReplica(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*datastore.Spec)
		// want is primary_conninfo as the server reads it; "" for none.
		want string
	}{
		{"standalone", func(s *datastore.Spec) { s.ReplicaOf = nil }, ""},
		{"replica", func(*datastore.Spec) {},
			`host='127.0.1.8' port=5432 user='os_replicator' passfile='/srv/h/i1/run/replication.pgpass' application_name='i1'`},
		{"host name, other port", func(s *datastore.Spec) {
			s.ReplicaOf.Address, s.ReplicaOf.Port = "db-1.example.com", 6543
		}, `host='db-1.example.com' port=6543 user='os_replicator' passfile='/srv/h/i1/run/replication.pgpass' application_name='i1'`},
		{"IPv6, odd user and paths", func(s *datastore.Spec) {
			s.ReplicaOf.Address, s.ReplicaOf.User, s.RunDir, s.InstanceID = "::1", "r$-x", "/srv/a,b@c:d", `i'1\x y`
		}, `host='::1' port=5432 user='r$-x' passfile='/srv/a,b@c:d/replication.pgpass' application_name='i\'1\\x y'`},
		{"no password", func(s *datastore.Spec) { s.ReplicaOf.Password = "" },
			`host='127.0.1.8' port=5432 user='os_replicator' passfile='/srv/h/i1/run/replication.pgpass' application_name='i1'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := replicaSpec()
			tt.mod(&spec)
			conf, err := renderConf(t, spec)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			for _, want := range []string{"wal_level = 'replica'\n", "max_wal_senders = 10\n", "hot_standby = 'on'\n", "wal_keep_size = '64MB'\n"} {
				if !strings.Contains(conf, want) {
					t.Errorf("postgresql.conf lacks %q", want)
				}
			}
			m := conninfoRE.FindStringSubmatch(conf)
			if tt.want == "" {
				if m != nil {
					t.Errorf("a standalone server has %s", m[0])
				}
				return
			}
			if m == nil {
				t.Fatalf("no primary_conninfo in:\n%s", conf)
			}
			got := confUnquote(t, m[1])
			if got != tt.want {
				t.Errorf("primary_conninfo = %s\nwant               %s", got, tt.want)
			}
			// libpq's reading of it (pgx parses connection strings alike).
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("ParseConfig(%s): %v", got, err)
			}
			src := spec.ReplicaOf
			if cfg.Host != src.Address || int(cfg.Port) != src.Port || cfg.User != src.User ||
				cfg.RuntimeParams["application_name"] != spec.InstanceID || cfg.Password != "" {
				t.Errorf("libpq reads host %q port %d user %q application_name %q password %q",
					cfg.Host, cfg.Port, cfg.User, cfg.RuntimeParams["application_name"], cfg.Password)
			}
			args := strings.Join(New(Config{}).Process().ServerArgs(spec), " ")
			if strings.Contains(args, "primary_conninfo") || !strings.Contains(args, "-c wal_level=replica") {
				t.Errorf("ServerArgs = %s", args)
			}
		})
	}
}

func TestRenderReplicaRefusesBadSources(t *testing.T) {
	for name, mod := range map[string]func(*datastore.Spec){
		"two hosts":          func(s *datastore.Spec) { s.ReplicaOf.Address = "10.0.0.1,10.0.0.2" },
		"socket directory":   func(s *datastore.Spec) { s.ReplicaOf.Address = "/tmp" },
		"empty address":      func(s *datastore.Spec) { s.ReplicaOf.Address = "" },
		"zone":               func(s *datastore.Spec) { s.ReplicaOf.Address = "fe80::1%eth0" },
		"quote in address":   func(s *datastore.Spec) { s.ReplicaOf.Address = "h' x" },
		"port 0":             func(s *datastore.Spec) { s.ReplicaOf.Port = 0 },
		"port too big":       func(s *datastore.Spec) { s.ReplicaOf.Port = 65536 },
		"empty user":         func(s *datastore.Spec) { s.ReplicaOf.User = "" },
		"user with a blank":  func(s *datastore.Spec) { s.ReplicaOf.User = "a b" },
		"long user":          func(s *datastore.Spec) { s.ReplicaOf.User = strings.Repeat("u", 64) },
		"password newline":   func(s *datastore.Spec) { s.ReplicaOf.Password = "pw\nport = 1" },
		"password too long":  func(s *datastore.Spec) { s.ReplicaOf.Password = datastore.Secret(strings.Repeat("p", 256)) },
		"itself":             func(s *datastore.Spec) { s.ReplicaOf.Address, s.ReplicaOf.Port = s.Address, s.Port },
		"control in the id":  func(s *datastore.Spec) { s.InstanceID = "i1\nhot_standby = off" },
		"a bad spec as well": func(s *datastore.Spec) { s.Port = 0 },
	} {
		spec := replicaSpec()
		mod(&spec)
		_, err := New(Config{}).Process().Render(spec)
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: Render = %v, want Invalid", name, err)
		}
		if err != nil && strings.Contains(err.Error(), string(spec.ReplicaOf.Password)) {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

func FuzzRenderReplica(f *testing.F) {
	f.Add("127.0.0.1", 5432, "os_replicator", "i1")
	f.Add("db.example", 1, "x$", `a'b\c`)
	f.Fuzz(func(t *testing.T, addr string, port int, user, id string) {
		spec := replicaSpec()
		spec.ReplicaOf.Address, spec.ReplicaOf.Port, spec.ReplicaOf.User, spec.InstanceID = addr, port, user, id
		conf, err := renderConf(t, spec)
		if err != nil {
			return
		}
		m := conninfoRE.FindStringSubmatch(conf)
		if m == nil {
			t.Fatalf("no primary_conninfo in:\n%s", conf)
		}
		cfg, err := pgconn.ParseConfig(confUnquote(t, m[1]))
		if err != nil {
			t.Fatalf("ParseConfig: %v", err)
		}
		if cfg.Host != addr || int(cfg.Port) != port || cfg.User != user || cfg.RuntimeParams["application_name"] != id {
			t.Errorf("libpq reads host %q port %d user %q application_name %q", cfg.Host, cfg.Port, cfg.User, cfg.RuntimeParams["application_name"])
		}
	})
}

func TestRenderHBAReplication(t *testing.T) {
	files, err := New(Config{}).Process().Render(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	hba := string(files[1].Content)
	if !regexp.MustCompile(`(?m)^host\s+replication\s+os_replicator\s+all\s+scram-sha-256$`).MatchString(hba) {
		t.Errorf("pg_hba.conf does not admit os_replicator for replication:\n%s", hba)
	}
	if regexp.MustCompile(`(?m)^host\s+replication\s+all\s`).MatchString(hba) {
		t.Errorf("pg_hba.conf admits every role for replication over TCP:\n%s", hba)
	}
}

func TestWalKeep(t *testing.T) {
	for _, tt := range []struct{ gb, mb int }{
		{-1, 64}, {0, 64}, {1, 102}, {10, 1024}, {100, 10240}, {1000, 16384}, {1 << 40, 16384},
	} {
		if got := walKeepMB(tt.gb); got != tt.mb {
			t.Errorf("walKeepMB(%d) = %d, want %d", tt.gb, got, tt.mb)
		}
	}
}

// prepareDirs returns a spec whose data and run directories are new
// temporary ones.
func prepareDirs(t *testing.T) datastore.Spec {
	spec := replicaSpec()
	base := t.TempDir()
	spec.DataDir, spec.RunDir = filepath.Join(base, "data"), filepath.Join(base, "run")
	for _, d := range []string{spec.DataDir, spec.RunDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

func TestPrepareReplica(t *testing.T) {
	p := New(Config{}).Process().(datastore.Preparer)
	spec := prepareDirs(t)
	signal := filepath.Join(spec.DataDir, standbySignalFile)
	pass := filepath.Join(spec.RunDir, replicaPassFile)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Links in the way are replaced, never followed.
	for _, l := range []string{signal, pass, pass + ".new"} {
		if err := os.Symlink(victim, l); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 { // idempotent
		if err := p.Prepare(spec); err != nil {
			t.Fatalf("Prepare #%d: %v", i+1, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("Prepare wrote through a link: victim = %q", b)
	}
	for _, f := range []string{signal, pass} {
		fi, err := os.Lstat(f)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want a regular 0600 file", f, fi.Mode(), err)
		}
	}
	if _, err := os.Lstat(pass + ".new"); !os.IsNotExist(err) {
		t.Errorf("%s.new left behind: %v", pass, err)
	}
	if b, _ := os.ReadFile(pass); string(b) != `*:*:*:os_replicator:Repl 'pw\\ #1-of-hoard`+"\n" {
		t.Errorf("password file = %q", b)
	}

	// Without a password: no password file, still a standby.
	spec.ReplicaOf.Password = ""
	if err := p.Prepare(spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(pass); !os.IsNotExist(err) {
		t.Errorf("password file without a password: %v", err)
	}
	// Without ReplicaOf: standby.signal is left to the server (only
	// promotion removes it), the password file goes.
	spec.ReplicaOf = &datastore.ReplicaSource{Address: "127.0.1.8", Port: 5432, User: replicationUser, Password: replPassword}
	if err := p.Prepare(spec); err != nil {
		t.Fatal(err)
	}
	spec.ReplicaOf = nil
	if err := p.Prepare(spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(signal); err != nil {
		t.Errorf("standby.signal after a Prepare without ReplicaOf: %v", err)
	}
	if _, err := os.Lstat(pass); !os.IsNotExist(err) {
		t.Errorf("password file without ReplicaOf: %v", err)
	}
}
