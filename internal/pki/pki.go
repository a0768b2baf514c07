package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/secret"
)

// Lifetimes of what the CA makes.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 90 * 24 * time.Hour
	// backdate covers clocks a little behind this one.
	backdate = 5 * time.Minute
)

// File names of a generated CA in its directory.
const (
	CertFile       = "ca.crt"
	SealedKeyFile  = "ca.key.sealed"
	sealedKeyBlock = "HOARD SEALED PRIVATE KEY"
)

// CA is a certificate authority. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// Pair is an issued certificate and its private key, PEM encoded. Key
// never prints (it implements fmt.Stringer and fmt.GoStringer redacted).
type Pair struct {
	CertPEM []byte
	Key     KeyPEM
}

// KeyPEM is a PEM-encoded private key that never prints.
type KeyPEM []byte

// String implements fmt.Stringer without revealing the key.
func (KeyPEM) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer without revealing the key.
func (KeyPEM) GoString() string { return "[redacted]" }

// LoadOrCreate returns the CA kept in dir (CertFile and SealedKeyFile),
// generating it on first use: an ECDSA P-256 key, sealed with s, and a
// self-signed certificate valid for CALifetime. name goes into the
// certificate's subject.
func LoadOrCreate(dir string, s *secret.Sealer, name string, now time.Time) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, SealedKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return create(certPath, keyPath, s, name, now)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != sealedKeyBlock {
		return nil, fmt.Errorf("pki: %s holds no sealed key", keyPath)
	}
	der, err := s.Open(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: open CA key %s: %w", keyPath, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("pki: CA key is not a PKCS #8 key")
	}
	return newCA(certPEM, key)
}

// Load returns the CA of an operator: a PEM certificate file and a PEM
// private key file (PKCS #8, PKCS #1 or SEC 1), which hoard only reads.
func Load(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA key: %w", err)
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key %s: %w", keyFile, err)
	}
	return newCA(certPEM, key)
}

func parseKey(b []byte) (any, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key")
		}
		switch blk.Type {
		case "PRIVATE KEY":
			return x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		}
	}
}

func newCA(certPEM []byte, key any) (*CA, error) {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("pki: CA certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("pki: the CA certificate may not sign certificates")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: unsupported CA key type")
	}
	pub, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	certPub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil || !bytes.Equal(pub, certPub) {
		return nil, errors.New("pki: the CA key does not match the CA certificate")
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: signer}, nil
}

func create(certPath, keyPath string, s *secret.Sealer, name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"hoard"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	sealed, err := s.Seal(pk)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate without its key is never left behind
	// as "the CA" (a crash in between leaves a key that the next start
	// overwrites).
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: sealedKeyBlock, Bytes: sealed}), 0o600); err != nil {
		return nil, fmt.Errorf("pki: write CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("pki: write CA certificate: %w", err)
	}
	return newCA(certPEM, key)
}

// writeFile writes path atomically (temporary file, fsync, rename).
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

// CertPEM returns the CA certificate, PEM encoded: what clients verify
// servers with.
func (ca *CA) CertPEM() []byte { return slices.Clone(ca.certPEM) }

// NotAfter is when the CA certificate expires.
func (ca *CA) NotAfter() time.Time { return ca.cert.NotAfter }

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// splitNames sorts names into IP addresses and DNS names, dropping empty
// and duplicate ones.
func splitNames(names []string) (ips []net.IP, dns []string) {
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(strings.ToLower(n))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return ips, dns
}

// Issue makes a server certificate for names (IP addresses or DNS names;
// at least one), valid from now for lifetime (LeafLifetime if zero, never
// past the CA's own expiry), with a fresh ECDSA P-256 key.
func (ca *CA) Issue(names []string, lifetime time.Duration, now time.Time) (Pair, error) {
	ips, dns := splitNames(names)
	if len(ips)+len(dns) == 0 {
		return Pair{}, errors.New("pki: a certificate needs at least one name")
	}
	if lifetime <= 0 {
		lifetime = LeafLifetime
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Pair{}, err
	}
	cn := ""
	if len(dns) > 0 {
		cn = dns[0]
	} else {
		cn = ips[0].String()
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"hoard"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: issue: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("pki: %w", err)
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}

// NeedsRenewal reports whether certPEM must be replaced by a new
// certificate for names at now: it does not parse, was not signed by this
// CA, does not name exactly names, or has less than a third of its
// lifetime left.
func (ca *CA) NeedsRenewal(certPEM []byte, names []string, now time.Time) bool {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return true
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return true
	}
	if cert.CheckSignatureFrom(ca.cert) != nil {
		return true
	}
	ips, dns := splitNames(names)
	if !sameIPs(ips, cert.IPAddresses) || !sameStrings(dns, cert.DNSNames) {
		return true
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotAfter.Sub(now) < life/3
}

func sameIPs(a, b []net.IP) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(ip net.IP) bool {
		return !slices.ContainsFunc(b, ip.Equal)
	})
}

func sameStrings(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

// String implements fmt.Stringer: the CA's subject, never its key.
func (ca *CA) String() string { return "CA " + ca.cert.Subject.String() }

// LogValue implements slog.LogValuer: the CA's subject, never its key.
func (ca *CA) LogValue() slog.Value { return slog.StringValue(ca.String()) }

// GoString implements fmt.GoStringer: the CA's subject, never its key.
func (ca *CA) GoString() string { return ca.String() }
