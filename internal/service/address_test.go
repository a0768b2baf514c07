package service

import (
	"context"
	"testing"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/fake"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/task"
)

// TestAddresserNamesInstances: with a driver that names its instances (the
// Kubernetes driver's Service DNS names), the instance's address is that
// name, written once, and the local address pool is not used at all.
func TestAddresserNamesInstances(t *testing.T) {
	drv := fake.NewAddressing("svc")
	e := newEnvConfig(t, drv, func(c *Config) { c.Addresses = nil })
	ctx := context.Background()
	var ids []string
	for range 2 {
		d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	for _, id := range ids {
		got := e.waitStatus(t, id, model.StatusActive)
		if want := "hoard-" + id + ".t1.svc"; got.Address != want {
			t.Errorf("address of %s = %q, want %q", id, got.Address, want)
		}
		if !drv.Running(id) {
			t.Errorf("instance %s not running", id)
		}
	}

	// A repeated step (a resumed task) finds the address in place and
	// writes nothing.
	before, err := e.st.GetInstance(ctx, "", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.stepAssignAddress(ctx, &task.Exec{Task: &model.Task{InstanceID: ids[0]}}); err != nil {
		t.Fatalf("repeated assign_address: %v", err)
	}
	after, err := e.st.GetInstance(ctx, "", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if after.Address != before.Address || !after.Updated.Equal(before.Updated) {
		t.Errorf("repeated assign_address changed the instance: %q %v → %q %v", before.Address, before.Updated, after.Address, after.Updated)
	}
	// An instance that has none yet (a task interrupted before the step
	// finished) gets it.
	if _, err := e.st.UpdateInstance(ctx, ids[1], func(i *model.Instance) error { i.Address = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.svc.stepAssignAddress(ctx, &task.Exec{Task: &model.Task{InstanceID: ids[1]}}); err != nil {
			t.Fatalf("assign_address: %v", err)
		}
	}
	if got, _ := e.st.GetInstance(ctx, "", ids[1]); got == nil || got.Address != "hoard-"+ids[1]+".t1.svc" {
		t.Errorf("address after the step = %+v", got)
	}
	// A gone instance is a permanent failure, not a retry loop.
	err = e.svc.stepAssignAddress(ctx, &task.Exec{Task: &model.Task{InstanceID: "00000000-0000-4000-8000-00000000dead"}})
	if err == nil || !task.IsPermanent(err) {
		t.Errorf("assign_address of a missing instance = %v, want a permanent error", err)
	}
}

// noNames is an Addresser that has no name for any instance.
type noNames struct{ *fake.Driver }

func (noNames) Address(driver.Spec) string { return "" }

// TestAddresserWithoutNameUsesPool: "" from the driver means the pool.
func TestAddresserWithoutNameUsesPool(t *testing.T) {
	e := newEnvWith(t, noNames{fake.New()})
	d, err := e.svc.CreateInstance(context.Background(), "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, d.ID, model.StatusActive); got.Address != "127.0.9.1" {
		t.Errorf("address = %q, want the pool's first", got.Address)
	}
}
