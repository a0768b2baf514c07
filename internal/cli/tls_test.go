package cli

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	if _, err := b.lookup(tenant, id); err != nil {
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
