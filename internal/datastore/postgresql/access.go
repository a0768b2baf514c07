package postgresql

import (
	"context"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.AccessReloader = (*Engine)(nil)

// ReloadAccess implements datastore.AccessReloader: a configuration
// reload makes the postmaster read pg_hba.conf (rendered with
// Spec.AllowedSources by hbaConf) again; it returns once a new session
// sees the reload, so new connections are checked against the new lines.
// Sessions already open stay (PostgreSQL checks pg_hba.conf at login
// only).
func (e *Engine) ReloadAccess(ctx context.Context, c datastore.Conn) error {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return reload(ctx, c, conn)
}
