package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/secret"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestCA(t *testing.T) (*CA, string, *secret.Sealer) {
	t.Helper()
	dir := t.TempDir()
	s, err := secret.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreate(dir, s, "hoard test CA", t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir, s
}

func TestLoadOrCreate(t *testing.T) {
	ca, dir, s := newTestCA(t)
	for name, want := range map[string]os.FileMode{CertFile: 0o644, SealedKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, SealedKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "BEGIN PRIVATE KEY") || strings.Contains(string(b), "EC PRIVATE KEY") {
		t.Error("the CA key rests unsealed")
	}
	again, err := LoadOrCreate(dir, s, "ignored", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if string(again.CertPEM()) != string(ca.CertPEM()) {
		t.Error("a second start made a new CA")
	}
	other, err := secret.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, other, "x", t0); err == nil {
		t.Error("opened the CA key with the wrong secret key")
	}
}

func TestLoadOperatorCA(t *testing.T) {
	ca, dir, _ := newTestCA(t)
	// An operator's CA: a certificate and an unsealed key of their own.
	keyPEM := ca.keyPEMForTest(t)
	keyFile := filepath.Join(dir, "op.key")
	certFile := filepath.Join(dir, CertFile)
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	op, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := op.Issue([]string{"db.example"}, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ca, p, "db.example", t0)

	other, _, _ := newTestCA(t)
	if err := os.WriteFile(keyFile, other.keyPEMForTest(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(certFile, keyFile); err == nil {
		t.Error("a key that does not match the certificate was accepted")
	}
}

func (ca *CA) keyPEMForTest(t *testing.T) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// verify checks p as a TLS client would: chain to ca, name, validity.
func verify(t *testing.T, ca *CA, p Pair, name string, at time.Time) {
	t.Helper()
	c, err := tls.X509KeyPair(p.CertPEM, p.Key)
	if err != nil {
		t.Fatalf("key pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, CurrentTime: at}); err != nil {
		t.Errorf("verify %s: %v", name, err)
	}
}

func TestIssue(t *testing.T) {
	ca, _, _ := newTestCA(t)
	p, err := ca.Issue([]string{"127.0.1.7", "db-1.example", "127.0.1.7", ""}, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ca, p, "127.0.1.7", t0)
	verify(t, ca, p, "db-1.example", t0)
	if s := fmt.Sprint(p.Key) + fmt.Sprintf("%v %#v %v %+v %#v", p, p, ca, ca, ca); strings.Contains(s, "PRIVATE") || strings.Contains(s, "D:") {
		t.Errorf("a key printed: %s", s)
	}
	if _, err := ca.Issue(nil, 0, t0); err == nil {
		t.Error("issued a certificate with no name")
	}
	// Never past the CA's own life.
	long, err := ca.Issue([]string{"x.example"}, 20*CALifetime, t0)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(long.CertPEM)
	leaf, _ := x509.ParseCertificate(blk.Bytes)
	if leaf.NotAfter.After(ca.NotAfter()) {
		t.Errorf("leaf expires %v, after its CA %v", leaf.NotAfter, ca.NotAfter())
	}
}

func TestNeedsRenewal(t *testing.T) {
	ca, _, _ := newTestCA(t)
	other, _, _ := newTestCA(t)
	names := []string{"127.0.1.7", "db.example"}
	p, err := ca.Issue(names, 90*24*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(names, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cert  []byte
		names []string
		at    time.Time
		want  bool
	}{
		{"fresh", p.CertPEM, names, t0, false},
		{"names in another order", p.CertPEM, []string{"db.example", "127.0.1.7"}, t0, false},
		{"half its life", p.CertPEM, names, t0.Add(45 * 24 * time.Hour), false},
		{"less than a third left", p.CertPEM, names, t0.Add(61 * 24 * time.Hour), true},
		{"expired", p.CertPEM, names, t0.Add(100 * 24 * time.Hour), true},
		{"address changed", p.CertPEM, []string{"127.0.1.8", "db.example"}, t0, true},
		{"name added", p.CertPEM, append([]string{"other.example"}, names...), t0, true},
		{"other CA", foreign.CertPEM, names, t0, true},
		{"garbage", []byte("not a certificate"), names, t0, true},
		{"none", nil, names, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ca.NeedsRenewal(tt.cert, tt.names, tt.at); got != tt.want {
				t.Errorf("NeedsRenewal = %v, want %v", got, tt.want)
			}
		})
	}
}
