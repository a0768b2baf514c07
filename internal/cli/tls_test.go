package cli

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/api"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

const testCAPEM = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"

// caBackend is fakeBackend with a CA for its instances.
type caBackend struct{ *fakeBackend }

func (b caBackend) InstanceCA(_ context.Context, tenant, id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.fakeBackend.lookup(tenant, id); err != nil {
		return nil, err
	}
	return []byte(testCAPEM), nil
}

// newTLSTestServer is newTestServerWith over HTTPS; caFile holds the
// certificate the server's chains to.
func newTLSTestServer(t *testing.T, fb backend) (s *testServer, caFile string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hoard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ids := identity.New(st, identity.Config{})
	if err := ids.Bootstrap(ctx, testUser, testPassword, testProject); err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Config{Identity: ids.Handler(), PageSize: 2}, fb, ids)
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := st.GetProjectByName(ctx, testProject)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{url: ts.URL, project: p.ID, fb: fb.fake()}, caFile
}

func TestInstanceCAOverHTTPS(t *testing.T) {
	fb := caBackend{newFakeBackend()}
	s, caFile := newTLSTestServer(t, fb)
	fb.add(s.project, "alpha", model.StatusActive)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("server at %s", s.url)
	}
	tests := []struct {
		name      string
		cacert    string
		code      int
		stdout    string
		errSubstr string
	}{
		{"OS_CACERT", caFile, 0, testCAPEM, ""},
		{"no CA: the server is not trusted", "", 1, "", "certificate"},
		{"missing CA file", filepath.Join(t.TempDir(), "none.pem"), 1, "", "OS_CACERT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := s.env()
			if tt.cacert != "" {
				vars["OS_CACERT"] = tt.cacert
			}
			r := runCLI(t, vars, "", "instance", "ca", "alpha")
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tt.code, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			if !strings.Contains(r.stderr, tt.errSubstr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.errSubstr)
			}
		})
	}
}

// TestConnectTLS: instance connect verifies an instance that serves TLS
// against its CA, kept in the user's cache directory; --no-tls leaves TLS
// out.
func TestConnectTLS(t *testing.T) {
	fb := caBackend{newFakeBackend()}
	s := newTestServerWith(t, fb)
	in := fb.add(s.project, "db1", model.StatusActive)
	vars := s.env()
	cache := t.TempDir()
	caFile := filepath.Join(cache, "hoard", "ca-"+in.ID+".pem")

	var gotArgv, gotEnv []string
	env := Env{
		LookPath:   func(f string) (string, error) { return "/usr/bin/" + f, nil },
		Exec:       func(_ string, argv, envv []string) error { gotArgv, gotEnv = argv, envv; return nil },
		Environ:    func() []string { return []string{"MYSQL_PWD=pw"} },
		CacheDir:   func() (string, error) { return cache, nil },
		ReadSecret: func(string) (string, bool, error) { t.Error("asked for a password"); return "", false, nil },
	}
	r := runWith(t, env, vars, "instance", "connect", "db1", "--print")
	if want := "mysql://root@127.0.1.9:3306?ssl-ca=" + url.QueryEscape(caFile) + "&ssl-mode=VERIFY_IDENTITY\n"; r.code != 0 || r.stdout != want {
		t.Errorf("connect --print = %+v, want stdout %q", r, want)
	}
	b, err := os.ReadFile(caFile)
	if err != nil || string(b) != testCAPEM {
		t.Fatalf("CA file = %q, %v", b, err)
	}
	if st, err := os.Stat(caFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("CA file mode = %v, %v", st.Mode(), err)
	}
	if r := runWith(t, env, vars, "instance", "connect", "db1"); r.code != 0 {
		t.Fatalf("connect = %+v", r)
	}
	want := []string{"/usr/bin/mariadb", "--host=127.0.1.9", "--port=3306", "--protocol=TCP", "--user=root",
		"--ssl", "--ssl-ca=" + caFile, "--ssl-verify-server-cert"}
	if !slices.Equal(gotArgv, want) || !slices.Equal(gotEnv, []string{"MYSQL_PWD=pw"}) {
		t.Errorf("exec %q env %q, want %q", gotArgv, gotEnv, want)
	}
	if r := runWith(t, env, vars, "instance", "connect", "db1", "--no-tls"); r.code != 0 || slices.Contains(gotArgv, "--ssl") {
		t.Errorf("connect --no-tls = %+v, argv %q", r, gotArgv)
	}
}

// TestClientTLS: each engine's client verifies the instance's certificate.
func TestClientTLS(t *testing.T) {
	tests := []struct {
		datastore        string
		wantURI          string
		wantArgs, wantEv []string
	}{
		{"postgresql", "postgresql://app@10.0.0.5:5432/postgres?sslmode=verify-full&sslrootcert=%2Fc%2Fca.pem", nil,
			[]string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=/c/ca.pem"}},
		{"redis", "rediss://app@10.0.0.5:6380/postgres?ssl_ca_certs=%2Fc%2Fca.pem", []string{"--tls", "--cacert", "/c/ca.pem"}, nil},
	}
	for _, tt := range tests {
		e := engineClients[tt.datastore]
		tl := e.tls("/c/ca.pem", e.port)
		if got := connectURI(e, "10.0.0.5", e.port, "app", "postgres", &tl); got != tt.wantURI {
			t.Errorf("%s URI = %q, want %q", tt.datastore, got, tt.wantURI)
		}
		if !slices.Equal(tl.args, tt.wantArgs) || !slices.Equal(tl.env, tt.wantEv) {
			t.Errorf("%s TLS args %q env %q", tt.datastore, tl.args, tl.env)
		}
	}
}
