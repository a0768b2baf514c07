package local

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

func testCA(t *testing.T) *pki.CA {
	t.Helper()
	dir := t.TempDir()
	s, err := secret.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreate(dir, s, "test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func leafOf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(readFile(t, path)))
	if blk == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTLSFiles: Provision gives the instance a certificate for its
// address from the CA, the key readable by the instance user only, and
// keeps it across renders until the address changes.
func TestTLSFiles(t *testing.T) {
	h := newHarness(t, &fakeEngine{serve: "serve"})
	ca := testCA(t)
	d := h.driver(func(c *Config) { c.TLS = ca })
	ctx := context.Background()
	s := h.spec("tls")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	files := d.tlsFiles("tls")
	a := instanceAccount(t, d, "tls")
	for _, f := range []struct {
		path  string
		perm  os.FileMode
		owner uint32
	}{
		{files.KeyFile, 0o600, a.uid},
		{files.CertFile, 0o640, uint32(os.Geteuid())},
		{files.CAFile, 0o640, uint32(os.Geteuid())},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.perm {
			t.Errorf("%s mode %v, want %v", filepath.Base(f.path), fi.Mode().Perm(), f.perm)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; a.asRoot && uid != f.owner {
			t.Errorf("%s owned by %d, want %d", filepath.Base(f.path), uid, f.owner)
		}
	}
	leaf := leafOf(t, files.CertFile)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: s.Address}); err != nil {
		t.Errorf("certificate does not verify for %s: %v", s.Address, err)
	}
	if got := readFile(t, files.CAFile); got != string(ca.CertPEM()) {
		t.Error("the CA file is not the CA's certificate")
	}

	// Rendering again keeps a certificate that is still good.
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if again := leafOf(t, files.CertFile); again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("a good certificate was replaced")
	}
	// A new address gets a new certificate.
	s.Address = "127.0.0.2"
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	moved := leafOf(t, files.CertFile)
	if _, err := moved.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.2"}); err != nil {
		t.Errorf("after the address changed: %v", err)
	}
	if strings.Contains(readFile(t, filepath.Join(h.root, "tls", "conf", "fake.conf")), "PRIVATE KEY") {
		t.Error("the key leaked into the config")
	}
}

// reloadEngine is a fake engine that counts TLS reloads.
type reloadEngine struct {
	*fakeEngine
	reloads atomic.Int32
}

func (e *reloadEngine) ReloadTLS(context.Context, datastore.Conn, datastore.TLSFiles) error {
	e.reloads.Add(1)
	return nil
}

// TestTLSRenewedBySupervisor: a certificate with less than a third of its
// life left is replaced by the supervisor's periodic check, and the
// running engine is told to reload it.
func TestTLSRenewedBySupervisor(t *testing.T) {
	eng := &reloadEngine{fakeEngine: &fakeEngine{serve: "serve"}}
	h := newHarness(t, eng.fakeEngine)
	ca := testCA(t)
	d := h.driver(func(c *Config) {
		c.Engines["fake"] = eng
		c.TLS = ca
		// Backdated by minutes, a one-second certificate is always due.
		c.TLSLifetime = time.Second
		c.TLSCheckEvery = 20 * time.Millisecond
	})
	ctx := context.Background()
	s := h.spec("tlsrenew")
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := leafOf(t, d.tlsFiles("tlsrenew").CertFile)
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	eventually(t, "a renewed certificate reloaded", func() bool {
		return eng.reloads.Load() > 0 && leafOf(t, d.tlsFiles("tlsrenew").CertFile).SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if err := d.Stop(ctx, "tlsrenew"); err != nil {
		t.Fatal(err)
	}
}

// TestTLSNames: a certificate names the instance's address, then the
// further names of its spec (an HA group's address), once each.
func TestTLSNames(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{"standalone", nil, []string{"127.0.0.5"}},
		{"group member", []string{"127.0.8.1"}, []string{"127.0.0.5", "127.0.8.1"}},
		{"group with a host name", []string{"127.0.8.1", "db.example.com"}, []string{"127.0.0.5", "127.0.8.1", "db.example.com"}},
		{"repeats and empty names", []string{"", "127.0.0.5", "127.0.8.1", "127.0.8.1"}, []string{"127.0.0.5", "127.0.8.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tlsNames(driver.Spec{Address: "127.0.0.5", TLSNames: tc.extra})
			if !slices.Equal(got, tc.want) {
				t.Errorf("tlsNames = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestTLSGroupNames: a member of an HA group gets a certificate that
// verifies for its own address and its group's; a render without the
// group's name issues one without it; and a hoard that re-attaches to a
// running engine whose spec now names the group issues and has the engine
// load the new certificate at once.
func TestTLSGroupNames(t *testing.T) {
	eng := &reloadEngine{fakeEngine: &fakeEngine{serve: "serve"}}
	h := newHarness(t, eng.fakeEngine)
	ca := testCA(t)
	cfg := func(c *Config) {
		c.Engines["fake"] = eng
		c.TLS = ca
	}
	d := h.driver(cfg)
	ctx := context.Background()
	s := h.spec("tlsgroup")
	s.TLSNames = []string{"127.0.8.1"}
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	certFile := d.tlsFiles("tlsgroup").CertFile
	verifies := func(name string) bool {
		_, err := leafOf(t, certFile).Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name})
		return err == nil
	}
	if !verifies(s.Address) || !verifies("127.0.8.1") {
		t.Errorf("a member's certificate names %v; want its address and its group's", leafOf(t, certFile).IPAddresses)
	}
	// Out of the group: the group's name goes.
	s.TLSNames = nil
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !verifies(s.Address) || verifies("127.0.8.1") {
		t.Errorf("without a group the certificate names %v; want its address alone", leafOf(t, certFile).IPAddresses)
	}

	// A running engine, re-attached with a spec that names a group.
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	before := eng.reloads.Load()
	s.TLSNames = []string{"127.0.8.2"}
	d2 := h.driver(cfg)
	if err := d2.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	if !verifies("127.0.8.2") || eng.reloads.Load() == before {
		t.Errorf("after Recover the certificate names %v with %d reloads; want the group's address, loaded", leafOf(t, certFile).IPAddresses, eng.reloads.Load()-before)
	}
	if err := d2.Stop(ctx, "tlsgroup"); err != nil {
		t.Fatal(err)
	}
}
