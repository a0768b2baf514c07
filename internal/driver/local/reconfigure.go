package local

import (
	"context"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Reconfigure renders s's configuration files again without touching the
// running engine: the engine reads them at its next start (a restart, or a
// supervision restart after a crash). The service calls it after a
// configuration group change, so that values applied at runtime survive.
func (d *Driver) Reconfigure(ctx context.Context, s driver.Spec) error {
	const op = "driver.local.reconfigure"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	_, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	if !exists(d.dir(s.InstanceID)) {
		return fault.Wrap(fault.NotFound, op, "instance not provisioned", driver.ErrNotFound)
	}
	return d.render(op, s, eng)
}
