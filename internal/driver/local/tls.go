package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// DefaultTLSCheckEvery is how often a supervisor checks whether its
// engine's certificate needs renewal, when Config.TLSCheckEvery is zero.
const DefaultTLSCheckEvery = time.Hour

// Names of an instance's TLS files in its conf directory.
const (
	tlsCertName = "tls-cert.pem"
	tlsKeyName  = "tls-key.pem"
	tlsCAName   = "tls-ca.pem"
)

// tlsFiles are the paths of instance id's TLS files.
func (d *Driver) tlsFiles(id string) datastore.TLSFiles {
	conf := filepath.Join(d.dir(id), "conf")
	return datastore.TLSFiles{
		CertFile: filepath.Join(conf, tlsCertName),
		KeyFile:  filepath.Join(conf, tlsKeyName),
		CAFile:   filepath.Join(conf, tlsCAName),
	}
}

// tlsNames are the names instance s's certificate is for: its address,
// which is also the host name the API shows, then s.TLSNames (its HA
// group's address), without empty names or repeats.
func tlsNames(s driver.Spec) []string {
	names := []string{s.Address}
	for _, n := range s.TLSNames {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// ensureTLS makes sure instance s has a certificate from Config.TLS for
// its address with more than a third of its life left, and the CA's
// certificate, issuing a new one otherwise (then renewed is true). The
// certificate and CA are hoard's (mode 0640, the instance user's group);
// the key belongs to the instance user (mode 0600), as PostgreSQL
// demands. The key never leaves the file.
func (d *Driver) ensureTLS(s driver.Spec, a account) (files datastore.TLSFiles, renewed bool, err error) {
	ca := d.cfg.TLS
	files = d.tlsFiles(s.InstanceID)
	if err := d.writeIfChanged(files.CAFile, ca.CertPEM(), a); err != nil {
		return files, false, fmt.Errorf("while writing the CA certificate of instance %s: %w", s.InstanceID, err)
	}
	cur, err := os.ReadFile(files.CertFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return files, false, fmt.Errorf("while reading the certificate of instance %s: %w", s.InstanceID, err)
	}
	if !ca.NeedsRenewal(cur, tlsNames(s), time.Now()) && exists(files.KeyFile) {
		return files, false, nil
	}
	p, err := ca.Issue(tlsNames(s), d.cfg.TLSLifetime, time.Now())
	if err != nil {
		return files, false, fmt.Errorf("while issuing the certificate of instance %s: %w", s.InstanceID, err)
	}
	// The key first: a certificate is never served with another key (a
	// crash in between leaves the old certificate, which no longer
	// matches its key, and the next render issues a new pair).
	if err := writeAtomicOwned(files.KeyFile, p.Key, 0o600, a); err != nil {
		return files, false, fmt.Errorf("while writing the TLS key of instance %s: %w", s.InstanceID, err)
	}
	if err := d.writeConfFile(files.CertFile, p.CertPEM, a); err != nil {
		return files, false, fmt.Errorf("while writing the certificate of instance %s: %w", s.InstanceID, err)
	}
	d.log.Info("issued TLS certificate", "instance_id", s.InstanceID, "names", tlsNames(s))
	return files, true, nil
}

// writeIfChanged writes a conf file unless it already holds data.
func (d *Driver) writeIfChanged(path string, data []byte, a account) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == string(data) {
		return nil
	}
	return d.writeConfFile(path, data, a)
}

// writeAtomicOwned is writeAtomic for a file the instance user a owns
// (when hoard runs as root).
func writeAtomicOwned(path string, data []byte, perm os.FileMode, a account) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if a.asRoot {
		if err := f.Chown(int(a.uid), int(a.gid)); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// renewTLS is the supervisor's periodic check: when its engine's
// certificate needs renewal, it issues a new one and has the running
// engine load it. It skips the check while another operation holds the
// instance (that operation renders, and so renews, itself).
func (s *supervisor) renewTLS() {
	if s.d.cfg.TLS == nil {
		return
	}
	id := s.spec.InstanceID
	ol, err := tryLockFlags(s.d.opPath(id), 0)
	if err != nil || ol == nil {
		return
	}
	a, err := s.d.account(s.d.ctx, id, false)
	var (
		files   datastore.TLSFiles
		renewed bool
	)
	if err == nil {
		files, renewed, err = s.d.ensureTLS(s.spec, a)
	}
	ol.Close()
	if err != nil {
		s.d.log.Warn("TLS certificate renewal failed", "instance_id", id, "err", err)
		return
	}
	if renewed {
		s.d.reloadTLS(s.spec, s.eng, files)
	}
}

// adoptTLS is renewTLS for an engine that a hoard re-attaches to (the
// caller holds its op.lock): a certificate that no longer names what s
// names (a spec whose TLSNames changed while no hoard ran, or a member
// of an HA group made by a hoard that did not name the group) is issued
// again and loaded at once, not at the next periodic check.
func (d *Driver) adoptTLS(ctx context.Context, s driver.Spec, eng datastore.Engine) {
	if d.cfg.TLS == nil {
		return
	}
	a, err := d.account(ctx, s.InstanceID, false)
	var (
		files   datastore.TLSFiles
		renewed bool
	)
	if err == nil {
		files, renewed, err = d.ensureTLS(s, a)
	}
	if err != nil {
		d.log.Warn("TLS certificate renewal failed", "instance_id", s.InstanceID, "err", err)
		return
	}
	if renewed {
		d.reloadTLS(s, eng, files)
	}
}

// reloadTLS has the running engine of s load its renewed certificate
// files, when it can (datastore.TLSReloader); else its next start serves
// them.
func (d *Driver) reloadTLS(s driver.Spec, eng datastore.Engine, files datastore.TLSFiles) {
	id := s.InstanceID
	r, ok := eng.(datastore.TLSReloader)
	if !ok {
		return
	}
	c := d.Conn(s)
	if f := d.cfg.Credentials; f != nil {
		c.User, c.Password = f(id)
	}
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	if err := r.ReloadTLS(ctx, c, files); err != nil {
		// The files are renewed: the next start serves them.
		d.log.Warn("engine did not reload its renewed certificate", "instance_id", id, "err", err)
		return
	}
	d.log.Info("engine reloaded its renewed certificate", "instance_id", id)
}
