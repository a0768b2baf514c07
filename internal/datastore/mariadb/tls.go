package mariadb

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.TLSReloader = (*Engine)(nil)

// tlsSettings are the [mariadbd] settings that make the server offer TLS
// with spec's files (none without spec.TLS). Clients choose: nothing
// requires TLS, so replicas and older clients keep working.
func tlsSettings(spec datastore.Spec) [][2]string {
	if spec.TLS == nil {
		return nil
	}
	return [][2]string{
		{"ssl_cert", spec.TLS.CertFile},
		{"ssl_key", spec.TLS.KeyFile},
		{"ssl_ca", spec.TLS.CAFile},
	}
}

// ReloadTLS implements datastore.TLSReloader: FLUSH SSL makes the server
// read its certificate and key files again (MariaDB 10.4 and later).
func (e *Engine) ReloadTLS(ctx context.Context, c datastore.Conn, _ datastore.TLSFiles) error {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.exec(ctx, "FLUSH SSL"); err != nil {
		return fmt.Errorf("mariadb: reload TLS: %w", err)
	}
	return nil
}
