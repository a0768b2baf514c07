package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// HaltAll stops every engine under Root that runs, each with its stop
// signal (then a kill after StopTimeout), and returns the ids of those it
// stopped. Unlike Stop it keeps each instance's wish to run: the next hoard
// that recovers the instances starts them again. It is `hoard stop-all`,
// run while no hoard serves from Root; a hoard that does would restart
// what it stops. An engine this Driver supervises is an error.
func (d *Driver) HaltAll(ctx context.Context) ([]string, error) {
	const op = "driver.local.halt"
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("while listing %s: %w", d.root, err)
	}
	var (
		halted []string
		errs   []error
	)
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || !validID(id) {
			continue
		}
		ok, err := d.halt(ctx, op, id)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			halted = append(halted, id)
		}
	}
	slices.Sort(halted)
	return halted, errors.Join(errs...)
}

// halt stops instance id's engine if it runs, keeping Want.
func (d *Driver) halt(ctx context.Context, op, id string) (bool, error) {
	inst, unlock, err := d.lock(ctx, op, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	if inst.sup != nil && !inst.sup.finished() {
		return false, fmt.Errorf("instance %s: its engine is supervised by this process; halt is for engines nobody supervises", id)
	}
	h, err := d.readHandle(id)
	if err != nil || h == nil {
		return false, err
	}
	p := attachPID(h.PID, h.StartTime, h.Exe, d.pollEvery)
	if p == nil {
		return false, nil
	}
	err = d.terminate(ctx, id, p, d.stopSignal(h.Engine))
	p.release()
	if err != nil {
		return false, err
	}
	h.PID, h.StartTime, h.Exe, h.StartedAt = 0, 0, "", time.Time{}
	if err := d.writeHandle(id, h); err != nil {
		return true, err
	}
	d.log.Info("halted engine", "instance_id", id)
	return true, nil
}
