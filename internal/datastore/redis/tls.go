package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.TLSReloader = (*Engine)(nil)

// tlsLines are the redis.conf lines that add a TLS port (the plain port +
// datastore.RedisTLSPortOffset) with spec's files; none without spec.TLS.
// The plain port stays: Redis cannot serve both on one port, and hoard's
// own connections, replicas and the HA proxy use it. Clients present no
// certificate; replication stays on the plain port.
func tlsLines(spec datastore.Spec) []string {
	if spec.TLS == nil {
		return nil
	}
	return []string{
		"tls-port " + strconv.Itoa(spec.Port+datastore.RedisTLSPortOffset),
		"tls-cert-file " + spec.TLS.CertFile,
		"tls-key-file " + spec.TLS.KeyFile,
		"tls-ca-cert-file " + spec.TLS.CAFile,
		"tls-auth-clients no",
		"tls-replication no",
		"tls-protocols \"TLSv1.2 TLSv1.3\"",
	}
}

// ReloadTLS implements datastore.TLSReloader: setting a TLS file makes
// the server load its whole TLS configuration again.
func (e *Engine) ReloadTLS(ctx context.Context, c datastore.Conn, f datastore.TLSFiles) error {
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := cl.do(ctx, "CONFIG", "SET", "tls-cert-file", f.CertFile, "tls-key-file", f.KeyFile, "tls-ca-cert-file", f.CAFile); err != nil {
		return fmt.Errorf("redis: reload TLS: %w", err)
	}
	return nil
}
