package postgresql

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.TLSReloader = (*Engine)(nil)

// tlsSettings are the settings that turn TLS on with spec's files, or
// off without spec.TLS. pg_hba's "host" lines match connections with and
// without TLS: clients choose (sslmode).
func tlsSettings(spec datastore.Spec) []setting {
	if spec.TLS == nil {
		return []setting{{"ssl", "off"}}
	}
	return []setting{
		{"ssl", "on"},
		{"ssl_cert_file", spec.TLS.CertFile},
		{"ssl_key_file", spec.TLS.KeyFile},
		{"ssl_ca_file", spec.TLS.CAFile},
		{"ssl_min_protocol_version", "TLSv1.2"},
	}
}

// ReloadTLS implements datastore.TLSReloader: a configuration reload
// makes the server read its certificate and key files again.
func (e *Engine) ReloadTLS(ctx context.Context, c datastore.Conn, _ datastore.TLSFiles) error {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_reload_conf()").Scan(&ok); err != nil {
		return fmt.Errorf("postgresql: reload TLS: %w", err)
	}
	if !ok {
		return fmt.Errorf("postgresql: reload TLS: pg_reload_conf() failed")
	}
	return nil
}
