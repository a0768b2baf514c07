package datastore

import "context"

// TLSFiles are the files of a server's TLS identity, absolute paths the
// driver wrote before rendering (Spec.TLS): the server certificate for
// the instance's address, its private key (readable by the instance user
// only) and the certificate of hoard's CA.
type TLSFiles struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// RedisTLSPortOffset is how far above its plain port a Redis server
// serves TLS: Redis cannot offer both on one port (it has no STARTTLS),
// and the plain port stays for the clients, replicas and the HA proxy
// that use it (6379 → 6380, the port Redis TLS is usually found on).
const RedisTLSPortOffset = 1

// TLSReloader is an optional Engine capability: ReloadTLS makes a running
// server read its TLS files (Spec.TLS) again, so that a renewed
// certificate is served without a restart. Idempotent; must not block
// past ctx.
type TLSReloader interface {
	ReloadTLS(ctx context.Context, c Conn, files TLSFiles) error
}
