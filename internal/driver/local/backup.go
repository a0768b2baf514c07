package local

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ driver.Filesystem = (*Driver)(nil)

// EngineSpec implements driver.Filesystem.
func (d *Driver) EngineSpec(s driver.Spec) datastore.Spec { return d.dsSpec(s) }

// ProvisionFrom implements driver.Filesystem. It lays out the instance as
// Provision does; unless the instance is already marked initialised, it
// empties the data directory, calls fill, hands every file under the data
// directory to the instance user and only then writes the marker.
func (d *Driver) ProvisionFrom(ctx context.Context, s driver.Spec, fill func(ctx context.Context, ds datastore.Spec) error) error {
	const op = "driver.local.provision_from"
	eng, err := d.engine(op, s)
	if err != nil {
		return err
	}
	_, unlock, err := d.lock(ctx, op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	ds := d.dsSpec(s)
	dir := d.dir(s.InstanceID)
	if err := checkSocket(op, s.InstanceID, eng.Process().Socket(ds)); err != nil {
		return err
	}
	if err := d.makeDirs(ctx, s, ds); err != nil {
		return fmt.Errorf("while creating directories of instance %s: %w", s.InstanceID, err)
	}
	if err := d.render(op, s, eng); err != nil {
		return err
	}
	marker := filepath.Join(dir, markerName)
	if exists(marker) {
		return nil
	}
	h, err := d.readHandle(s.InstanceID)
	if err != nil {
		return err
	}
	if h != nil && h.PID != 0 {
		if p := attachPID(h.PID, h.StartTime, h.Exe, time.Hour); p != nil {
			p.release()
			return fault.Errorf(fault.Conflict, op, "instance %s runs but is not initialised", s.InstanceID)
		}
	}
	if err := emptyDir(ds.DataDir); err != nil {
		return fmt.Errorf("while emptying data of instance %s: %w", s.InstanceID, err)
	}
	start := time.Now()
	if err := fill(ctx, ds); err != nil {
		// Leave nothing that a later start could mistake for data.
		if e := emptyDir(ds.DataDir); e != nil {
			d.log.Warn("empty data after failed fill", "instance_id", s.InstanceID, "err", e)
		}
		return err
	}
	a, err := d.account(ctx, s.InstanceID, true)
	if err != nil {
		return err
	}
	if err := chownTree(ds.DataDir, a); err != nil {
		return fmt.Errorf("while handing restored data of instance %s to %s: %w", s.InstanceID, a.name, err)
	}
	if err := d.writePrivateFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		return fmt.Errorf("while marking instance %s initialised: %w", s.InstanceID, err)
	}
	d.log.Info("filled data", "instance_id", s.InstanceID, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
