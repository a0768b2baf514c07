package redis

import (
	"context"

	"github.com/hoard-db/hoard/internal/datastore"
)

var _ datastore.AdminChecker = (*Engine)(nil)

// CheckAdmin implements datastore.AdminChecker: c must authenticate (root
// has no ACL command that could change it, so only an operator could).
func (e *Engine) CheckAdmin(ctx context.Context, c datastore.Conn) error {
	cl, err := admin(ctx, c)
	if err != nil {
		return err
	}
	return cl.Close()
}
