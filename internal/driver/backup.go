package driver

import (
	"context"

	"github.com/hoard-db/hoard/internal/datastore"
)

// Filesystem is an optional Driver capability of drivers whose engines
// keep their files on hoard's own machine: physical backups read them and
// restores write them.
type Filesystem interface {
	// EngineSpec returns the engine's view of instance s: its directories
	// and socket, as the engine's datastore.Process sees them.
	EngineSpec(s Spec) datastore.Spec
	// ProvisionFrom is Provision with the data directory filled by fill
	// instead of the engine's init: fill runs as hoard's OS user with the
	// engine spec of s and an empty data directory; the driver then gives
	// the files to the instance's OS user and marks the instance
	// initialised. Once marked it is a no-op, as Provision is; a fill that
	// failed or was interrupted (even by a crash) is redone from an emptied
	// data directory, so the instance never starts on half-restored data.
	ProvisionFrom(ctx context.Context, s Spec, fill func(ctx context.Context, ds datastore.Spec) error) error
}
