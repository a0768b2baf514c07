package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args    []string
		want    string // public URL
		wantErr string
	}{
		{[]string{"--tls-auto"}, "https://127.0.0.1:8779", ""},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, "https://127.0.0.1:8779", ""},
		{[]string{"--tls-auto", "--public-url", "https://db.example.com"}, "https://db.example.com", ""},
		{[]string{"--tls-auto", "--public-url", "http://db.example.com"}, "", "want https://"},
		{[]string{"--tls-cert", "c.pem"}, "", "--tls-cert and --tls-key go together"},
		{[]string{"--tls-auto", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "", "exclude each other"},
		{[]string{"--ca-cert", "ca.pem"}, "", "--ca-cert and --ca-key go together"},
		{[]string{"--instance-tls=false"}, "http://127.0.0.1:8779", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, err := parseServeFlags(append([]string{"--data-dir", dir}, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PublicURL != tt.want {
				t.Errorf("PublicURL = %q, want %q", c.PublicURL, tt.want)
			}
		})
	}
}

func testServeCA(t *testing.T) *pki.CA {
	t.Helper()
	dir := t.TempDir()
	s, err := secret.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := &serveConfig{}
	ca, path, err := loadCA(c, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, pki.CertFile) {
		t.Errorf("CA path %s", path)
	}
	return ca
}

// serveTLS serves "ok" over HTTPS with cfg on a loopback port.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func getOK(t *testing.T, roots *x509.CertPool, url string) error {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	return nil
}

// TestAPITLSAuto: --tls-auto serves a certificate from the CA for the
// public URL's host, which a client trusting the CA verifies.
func TestAPITLSAuto(t *testing.T) {
	ca := testServeCA(t)
	c := &serveConfig{Listen: "127.0.0.1:0", PublicURL: "https://localhost:8779", tlsConfig: tlsConfig{TLSAuto: true}}
	cfg, err := apiTLSConfig(c, ca, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	_, port, _ := net.SplitHostPort(addr)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := getOK(t, ca.Pool(), "https://"+net.JoinHostPort(host, port)+"/"); err != nil {
			t.Errorf("GET over %s: %v", host, err)
		}
	}
	if err := getOK(t, x509.NewCertPool(), "https://"+addr+"/"); err == nil {
		t.Error("a client that does not trust the CA connected")
	}
}

// TestAPITLSFiles: --tls-cert/--tls-key are served, and read again when
// they change.
func TestAPITLSFiles(t *testing.T) {
	ca := testServeCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	write := func(names ...string) *x509.Certificate {
		p, err := ca.Issue(names, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, p.Key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, p.CertPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		kp, err := tls.X509KeyPair(p.CertPEM, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Leaf
	}
	write("127.0.0.1")
	c := &serveConfig{Listen: "127.0.0.1:0", tlsConfig: tlsConfig{TLSCert: certFile, TLSKey: keyFile}}
	cfg, err := apiTLSConfig(c, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	if err := getOK(t, ca.Pool(), "https://"+addr+"/"); err != nil {
		t.Fatal(err)
	}
	// A renewed pair, a second later (modification times differ).
	later := time.Now().Add(2 * time.Second)
	leaf := write("127.0.0.1", "renewed.example")
	os.Chtimes(certFile, later, later)
	os.Chtimes(keyFile, later, later)
	got, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("the renewed certificate was not picked up")
	}
	bad := &serveConfig{tlsConfig: tlsConfig{TLSCert: filepath.Join(dir, "none"), TLSKey: keyFile}}
	if _, err := apiTLSConfig(bad, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a missing certificate file was accepted")
	}
}
