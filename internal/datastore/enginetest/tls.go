package enginetest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

// NewCA returns a fresh certificate authority for a test's servers.
func NewCA(tb testing.TB) *pki.CA {
	tb.Helper()
	dir := tb.TempDir()
	s, err := secret.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := pki.LoadOrCreate(dir, s, "enginetest CA", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// IssueTLS writes a new certificate for the server's address from
// Options.TLS into its conf directory, as the local driver lays it out
// (the key the instance user's, mode 0600), and sets Spec.TLS. A running
// server keeps serving the old one until it reloads.
func (s *Server) IssueTLS(tb testing.TB) {
	tb.Helper()
	if s.opts.TLS == nil {
		tb.Fatal("IssueTLS: the server has no Options.TLS")
	}
	p, err := s.opts.TLS.Issue([]string{s.Spec.Address}, 0, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	f := datastore.TLSFiles{
		CertFile: filepath.Join(s.Spec.ConfDir, "tls-cert.pem"),
		KeyFile:  filepath.Join(s.Spec.ConfDir, "tls-key.pem"),
		CAFile:   filepath.Join(s.Spec.ConfDir, "tls-ca.pem"),
	}
	for _, w := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{f.CAFile, s.opts.TLS.CertPEM(), 0o644}, {f.CertFile, p.CertPEM, 0o644}, {f.KeyFile, p.Key, 0o600}} {
		tmp := w.path + ".new"
		if err := os.WriteFile(tmp, w.data, w.perm); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(tmp, w.perm); err != nil {
			tb.Fatal(err)
		}
		if s.cred != nil && w.perm == 0o600 {
			if err := os.Chown(tmp, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				tb.Fatal(err)
			}
		}
		if err := os.Rename(tmp, w.path); err != nil {
			tb.Fatal(err)
		}
	}
	s.Spec.TLS = &f
}

// ServedSerial connects to the server's TLS port with openssl s_client
// (starttls "mysql" or "postgres", or "" for TLS from the first byte),
// verifying its certificate against the CA and for the server's address,
// and returns the served certificate's serial number.
func (s *Server) ServedSerial(tb testing.TB, starttls string, port int) *big.Int {
	tb.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		Unavailable(tb, "openssl is not installed")
	}
	args := []string{"s_client", "-connect", s.Spec.Address + ":" + strconv.Itoa(port),
		"-CAfile", s.Spec.TLS.CAFile, "-verify_return_error", "-verify_ip", s.Spec.Address}
	if starttls != "" {
		args = append(args, "-starttls", starttls)
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(nil)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("openssl %q: %v\n%s", args, err, out)
	}
	blk, _ := pem.Decode(out[bytes.Index(out, []byte("-----BEGIN CERTIFICATE-----")):])
	if blk == nil {
		tb.Fatalf("openssl s_client showed no certificate:\n%s", out)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return c.SerialNumber
}
