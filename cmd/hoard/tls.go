package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

// tlsConfig is the TLS part of serveConfig.
type tlsConfig struct {
	// TLSCert and TLSKey are the API's own certificate and key files
	// (re-read when they change); TLSAuto has the CA issue one instead.
	TLSCert string
	TLSKey  string
	TLSAuto bool
	// CACert and CAKey are an operator's CA; empty: hoard's own, made on
	// first start in the data directory (its key sealed).
	CACert string
	CAKey  string
	// InstanceTLS gives every instance of the local driver a certificate.
	InstanceTLS bool
}

func tlsFlags(fs *flag.FlagSet, c *serveConfig, str func(p *string, name, def, help string)) {
	str(&c.TLSCert, "tls-cert", "", "serve the API and identity over HTTPS with this PEM certificate (chain) file; re-read when it changes")
	str(&c.TLSKey, "tls-key", "", "the PEM private key file of --tls-cert")
	fs.BoolVar(&c.TLSAuto, "tls-auto", false, fmt.Sprintf("serve the API and identity over HTTPS with a certificate from hoard's CA for the --public-url and --listen hosts, renewed by itself (env %s)", envName("tls-auto")))
	str(&c.CACert, "ca-cert", "", "the certificate of the CA that issues instance (and --tls-auto) certificates (default: hoard's own, made on first start in <data-dir>/ca.crt)")
	str(&c.CAKey, "ca-key", "", "the PEM private key file of --ca-cert, read only at start")
	fs.BoolVar(&c.InstanceTLS, "instance-tls", true, fmt.Sprintf("local driver: every instance serves TLS with a certificate from the CA (env %s)", envName("instance-tls")))
}

// apiTLS reports whether the API listener serves HTTPS.
func (c *serveConfig) apiTLS() bool { return c.TLSAuto || c.TLSCert != "" }

func (c *serveConfig) validateTLS() []error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.TLSAuto && c.TLSCert != "" {
		errs = append(errs, errors.New("--tls-auto and --tls-cert exclude each other"))
	}
	if (c.CACert == "") != (c.CAKey == "") {
		errs = append(errs, errors.New("--ca-cert and --ca-key go together"))
	}
	if c.apiTLS() && c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme != "https" {
			errs = append(errs, fmt.Errorf("--public-url %q: the API serves HTTPS (--tls-cert or --tls-auto): want https://", c.PublicURL))
		}
	}
	return errs
}

// loadCA returns the operator's CA, or hoard's own in dataDir (made on
// first start, its key sealed with sealer), and the path of its
// certificate.
func loadCA(c *serveConfig, dataDir string, sealer *secret.Sealer) (*pki.CA, string, error) {
	if c.CACert != "" {
		ca, err := pki.Load(c.CACert, c.CAKey)
		if err != nil {
			return nil, "", fmt.Errorf("--ca-cert/--ca-key: %w", err)
		}
		return ca, c.CACert, nil
	}
	ca, err := pki.LoadOrCreate(dataDir, sealer, "hoard CA", time.Now())
	if err != nil {
		return nil, "", err
	}
	return ca, filepath.Join(dataDir, pki.CertFile), nil
}

// apiTLSConfig is the API listener's TLS configuration: --tls-cert's
// files, or a certificate from ca for the service's own names.
func apiTLSConfig(c *serveConfig, ca *pki.CA, log *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if c.TLSCert != "" {
		fc := &fileCert{cert: c.TLSCert, key: c.TLSKey}
		if _, err := fc.get(); err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return fc.get() }
		return cfg, nil
	}
	ac := &autoCert{ca: ca, names: apiNames(c), log: log}
	if _, err := ac.get(time.Now()); err != nil {
		return nil, err
	}
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return ac.get(time.Now()) }
	return cfg, nil
}

// apiNames are the names an automatic API certificate is for: the host of
// the public URL and the --listen host, or this machine's name when
// neither names one.
func apiNames(c *serveConfig) []string {
	var names []string
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		names = append(names, u.Hostname())
	}
	if host, _, err := net.SplitHostPort(c.Listen); err == nil && host != "" {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			names = append(names, host)
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	return names
}

// fileCert is a certificate read from files, read again when either
// file's modification time changes (an operator's renewal).
type fileCert struct {
	cert, key string

	mu       sync.Mutex
	cur      *tls.Certificate
	certTime time.Time
	keyTime  time.Time
}

func (f *fileCert) get() (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ci, err1 := os.Stat(f.cert)
	ki, err2 := os.Stat(f.key)
	if err := errors.Join(err1, err2); err != nil {
		if f.cur != nil {
			return f.cur, nil // keep serving what was loaded
		}
		return nil, err
	}
	if f.cur != nil && ci.ModTime().Equal(f.certTime) && ki.ModTime().Equal(f.keyTime) {
		return f.cur, nil
	}
	c, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		if f.cur != nil {
			return f.cur, nil // half-written: the next handshake tries again
		}
		return nil, err
	}
	f.cur, f.certTime, f.keyTime = &c, ci.ModTime(), ki.ModTime()
	return f.cur, nil
}

// autoCert is the API's certificate from hoard's CA, issued again once
// less than a third of its life is left.
type autoCert struct {
	ca    *pki.CA
	names []string
	log   *slog.Logger

	mu      sync.Mutex
	cur     *tls.Certificate
	renewAt time.Time
}

func (a *autoCert) get(now time.Time) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cur != nil && now.Before(a.renewAt) {
		return a.cur, nil
	}
	p, err := a.ca.Issue(a.names, pki.LeafLifetime, now)
	if err != nil {
		if a.cur != nil {
			return a.cur, nil
		}
		return nil, err
	}
	c, err := tls.X509KeyPair(p.CertPEM, p.Key)
	if err != nil {
		return nil, err
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	a.cur, a.renewAt = &c, c.Leaf.NotAfter.Add(-life/3)
	a.log.Info("issued the API's TLS certificate", "names", a.names, "expires", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return a.cur, nil
}
