package datastore

import "context"

// AccessReloader is an optional Engine capability of engines whose server
// enforces Spec.AllowedSources itself, from the configuration files its
// Process renders (PostgreSQL's pg_hba.conf). Rendered with
// AllowedSources, those files admit, besides the allowed networks, the
// addresses hoard's own connections on the local host come from (the
// loopback addresses and the instance's own address: a connection from
// this host to a local address gets that address's route source) and the
// engine's replication account from anywhere (replicas; the driver's
// packet filter limits who reaches the port). ReloadAccess makes a
// running server apply the files the driver has just rendered again, and
// returns once new connections are checked against them. Idempotent;
// must not block past ctx.
type AccessReloader interface {
	ReloadAccess(ctx context.Context, c Conn) error
}
