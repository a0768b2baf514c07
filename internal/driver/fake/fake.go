package fake

import (
	"context"
	"errors"
	"sync"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
)

// Driver is an in-memory driver. The zero value is not usable; use New.
type Driver struct {
	mu        sync.Mutex
	instances map[string]*instance
	// Fail, if set, is consulted before each operation ("provision",
	// "start", "stop", "restart", "destroy") and its error returned.
	Fail func(op, id string) error
	// Starts counts process starts per instance.
	Starts map[string]int
	// AccessUnavailable, if set, is what AccessAvailable returns: the
	// driver then enforces no access lists, as on a host without a packet
	// filter.
	AccessUnavailable error
	// access is the access in force per instance (AccessEnforcer): set by
	// Start, Restart, Recover and SetAccess, removed by Destroy.
	access map[string]driver.Access
}

type instance struct {
	spec    driver.Spec
	running bool
	used    int64
}

var (
	_ driver.Driver         = (*Driver)(nil)
	_ driver.AccessEnforcer = (*Driver)(nil)
)

// New returns an empty fake driver.
func New() *Driver {
	return &Driver{instances: map[string]*instance{}, Starts: map[string]int{}, access: map[string]driver.Access{}}
}

// AccessAvailable implements driver.AccessEnforcer.
func (d *Driver) AccessAvailable() error { return d.AccessUnavailable }

// SetAccess implements driver.AccessEnforcer: it records s.Access ("access"
// is the operation Fail is asked about).
func (d *Driver) SetAccess(_ context.Context, s driver.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("access", s.InstanceID); err != nil {
		return err
	}
	return d.applyAccess(s)
}

// applyAccess records s.Access as in force, as the real drivers do at
// every start; d.mu is held.
func (d *Driver) applyAccess(s driver.Spec) error {
	if len(s.Access.Allowed) == 0 {
		delete(d.access, s.InstanceID)
		return nil
	}
	if d.AccessUnavailable != nil {
		return d.AccessUnavailable
	}
	d.access[s.InstanceID] = s.Access
	return nil
}

// Access returns the access in force for instance id; ok is false when
// none is (every network may connect).
func (d *Driver) Access(id string) (a driver.Access, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok = d.access[id]
	return a, ok
}

func (d *Driver) fail(op, id string) error {
	if d.Fail != nil {
		return d.Fail(op, id)
	}
	return nil
}

// Provision implements driver.Driver.
func (d *Driver) Provision(_ context.Context, s driver.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("provision", s.InstanceID); err != nil {
		return err
	}
	if i, ok := d.instances[s.InstanceID]; ok {
		i.spec = s
		return nil
	}
	d.instances[s.InstanceID] = &instance{spec: s, used: 120 << 20}
	return nil
}

// Start implements driver.Driver.
func (d *Driver) Start(_ context.Context, s driver.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("start", s.InstanceID); err != nil {
		return err
	}
	i, ok := d.instances[s.InstanceID]
	if !ok {
		return driver.ErrNotFound
	}
	if err := d.applyAccess(s); err != nil {
		return err
	}
	if !i.running {
		i.running = true
		d.Starts[s.InstanceID]++
	}
	return nil
}

// Stop implements driver.Driver.
func (d *Driver) Stop(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("stop", id); err != nil {
		return err
	}
	if i, ok := d.instances[id]; ok {
		i.running = false
	}
	return nil
}

// Restart implements driver.Driver.
func (d *Driver) Restart(_ context.Context, s driver.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("restart", s.InstanceID); err != nil {
		return err
	}
	i, ok := d.instances[s.InstanceID]
	if !ok {
		return driver.ErrNotFound
	}
	if err := d.applyAccess(s); err != nil {
		return err
	}
	i.spec = s
	i.running = true
	d.Starts[s.InstanceID]++
	return nil
}

// Destroy implements driver.Driver.
func (d *Driver) Destroy(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.fail("destroy", id); err != nil {
		return err
	}
	delete(d.instances, id)
	delete(d.access, id)
	return nil
}

// State implements driver.Driver.
func (d *Driver) State(_ context.Context, id string) (driver.State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.instances[id]
	switch {
	case !ok:
		return driver.StateAbsent, nil
	case i.running:
		return driver.StateRunning, nil
	}
	return driver.StateStopped, nil
}

// UsedBytes implements driver.Driver.
func (d *Driver) UsedBytes(_ context.Context, id string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.instances[id]
	if !ok {
		return 0, driver.ErrNotFound
	}
	return i.used, nil
}

// Conn implements driver.Driver.
func (d *Driver) Conn(s driver.Spec) datastore.Conn {
	return datastore.Conn{Address: s.Address, Port: s.Port}
}

// Recover implements driver.Driver: instances not in specs are forgotten.
func (d *Driver) Recover(_ context.Context, specs []driver.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := map[string]bool{}
	var errs []error
	for _, s := range specs {
		keep[s.InstanceID] = true
		errs = append(errs, d.applyAccess(s))
	}
	for id := range d.instances {
		if !keep[id] {
			delete(d.instances, id)
		}
	}
	for id := range d.access {
		if !keep[id] {
			delete(d.access, id)
		}
	}
	return errors.Join(errs...)
}

// Close implements driver.Driver.
func (d *Driver) Close() error { return nil }

// Running reports whether the instance's fake engine runs.
func (d *Driver) Running(id string) bool {
	st, _ := d.State(context.Background(), id)
	return st == driver.StateRunning
}

// Exists reports whether the driver has anything of the instance.
func (d *Driver) Exists(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.instances[id]
	return ok
}

// Addressing is the fake driver with the driver.Addresser capability, as
// the Kubernetes driver has it: every instance is reached by a DNS name of
// its own. Use NewAddressing.
type Addressing struct {
	*Driver
	// Domain follows the instance's name in its address.
	Domain string
}

var _ driver.Addresser = (*Addressing)(nil)

// NewAddressing returns an empty fake driver whose instances are addressed
// "hoard-<instance id>.<tenant id>.<domain>".
func NewAddressing(domain string) *Addressing {
	return &Addressing{Driver: New(), Domain: domain}
}

// Address implements driver.Addresser.
func (d *Addressing) Address(s driver.Spec) string {
	return "hoard-" + s.InstanceID + "." + s.TenantID + "." + d.Domain
}

// Conn implements driver.Driver: the instance's address, as the Kubernetes
// driver does.
func (d *Addressing) Conn(s driver.Spec) datastore.Conn {
	return datastore.Conn{Address: d.Address(s), Port: s.Port}
}

// ErrInjected is a convenient error for Fail functions.
var ErrInjected = errors.New("fake: injected failure")
