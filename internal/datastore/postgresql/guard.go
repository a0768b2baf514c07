package postgresql

import (
	"context"
	"fmt"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.AdminChecker = (*Engine)(nil)

// CheckAdmin implements datastore.AdminChecker: c must log in and be a
// superuser. Root is no superuser and cannot change a superuser's role, so
// only a root enabled before hoard made root a non-superuser could take it
// away.
func (e *Engine) CheckAdmin(ctx context.Context, c datastore.Conn) error {
	conn, err := connect(ctx, c, c.User, c.Password, maintenanceDB, pingDialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return fmt.Errorf("postgresql: check admin: %w", err)
	}
	if !super {
		return fmt.Errorf("postgresql: check admin: %w: it is no longer a superuser", datastore.ErrAdminLost)
	}
	return nil
}
