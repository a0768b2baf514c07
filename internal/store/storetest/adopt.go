package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// testAdoptInstance: a tenant's create takes the oldest matching ready
// instance of the pool's tenant, within its own quota; instances that do
// not match, are busy or unready are never taken.
func testAdoptInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	const pool = "pool"
	n := 0
	ready := func(id string, mod func(*model.Instance)) {
		n++
		inst := newInstance(pool, id, model.StatusActive)
		inst.Address = fmt.Sprintf("10.0.1.%d", n)
		if mod != nil {
			mod(inst)
		}
		mustCreate(t, s, inst, nil)
	}
	// Not candidates: each differs in one way from the request.
	ready("w1", func(i *model.Instance) { i.FlavorID = 3 })
	ready("w2", func(i *model.Instance) { i.VolumeSize = 6 })
	ready("w3", func(i *model.Instance) { i.DatastoreVersionID = "dsv-2" })
	ready("w4", func(i *model.Instance) { i.Status = model.StatusBuild })
	ready("w5", func(i *model.Instance) { i.ConfigurationID = "cfg" })
	ready("w6", func(i *model.Instance) { i.AllowedCIDRs = []string{"10.0.0.0/8"} })
	ready("w7", func(i *model.Instance) { i.Address = "" })
	ready("w8", func(i *model.Instance) { i.Deleting = true })
	ready("w9", nil) // candidate, but busy:
	noErr(t, "InsertTask", s.InsertTask(ctx, newTask("busy", "w9", model.TaskRestart, t0)))

	want := func() *model.Instance {
		inst := newInstance("tenant-a", "new-id", model.StatusBuild)
		inst.Name = "mine"
		inst.Created, inst.Updated = t0.Add(2*time.Hour), t0.Add(2*time.Hour)
		return inst
	}
	req := want()
	err := s.AdoptInstance(ctx, pool, req, newTask("t0", "", model.TaskCreate, t0), nil)
	wantErr(t, "AdoptInstance(nothing matches)", err, store.ErrNotFound)

	// Two candidates: the older one goes first.
	ready("x2", nil)
	ready("x1", func(i *model.Instance) {
		i.Created = t0.Add(-time.Hour)
		i.Fault = &model.Fault{Message: "old", Created: t0}
	})
	task := newTask("t1", "", model.TaskCreate, t0)
	req = want()
	noErr(t, "AdoptInstance", s.AdoptInstance(ctx, pool, req, task, nil))
	if req.ID != "x1" || req.TenantID != "tenant-a" || req.Name != "mine" || req.Status != model.StatusBuild ||
		req.Address != "10.0.1.11" || req.Fault != nil || req.Created.Unix() != t0.Add(2*time.Hour).Unix() || string(req.AdminSecret) != "sealed-x1" {
		t.Errorf("AdoptInstance gave %+v, want x1 of tenant-a named mine, BUILD, its own address and secret, no fault, created now", req)
	}
	got, err := s.GetInstance(ctx, "tenant-a", "x1")
	noErr(t, "GetInstance(adopted)", err)
	diff(t, "GetInstance(adopted)", got, req)
	if _, err := s.GetInstance(ctx, pool, "x1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetInstance(pool, adopted) = %v, want ErrNotFound", err)
	}
	if task.InstanceID != "x1" {
		t.Errorf("task.InstanceID = %q, want x1", task.InstanceID)
	}
	active, err := s.ActiveTask(ctx, "x1")
	noErr(t, "ActiveTask(adopted)", err)
	if active.ID != "t1" {
		t.Errorf("ActiveTask(adopted) = %s, want t1", active.ID)
	}

	// Over quota: nothing moves.
	q := &store.Quota{Defaults: model.QuotaLimits{model.QuotaInstances: 1}}
	err = s.AdoptInstance(ctx, pool, want(), newTask("t2", "", model.TaskCreate, t0), q)
	var qe *store.QuotaError
	if !errors.As(err, &qe) {
		t.Fatalf("AdoptInstance(over quota) = %v, want a QuotaError", err)
	}
	if _, err := s.GetInstance(ctx, pool, "x2"); err != nil {
		t.Errorf("x2 left the pool on a refused adoption: %v", err)
	}

	// Concurrent adoptions never take one instance twice.
	ready("y1", nil)
	ready("y2", nil)
	var wg sync.WaitGroup
	ids := make([]string, 4)
	errs := make([]error, 4)
	for i := range ids {
		wg.Go(func() {
			r := newInstance(fmt.Sprintf("tenant-%d", i), "ignored", model.StatusBuild)
			errs[i] = s.AdoptInstance(ctx, pool, r, newTask(fmt.Sprintf("c%d", i), "", model.TaskCreate, t0), nil)
			ids[i] = r.ID
		})
	}
	wg.Wait()
	taken := map[string]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			if taken[ids[i]] {
				t.Errorf("instance %s adopted twice", ids[i])
			}
			taken[ids[i]] = true
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("concurrent AdoptInstance: %v", err)
		}
	}
	if len(taken) != 3 {
		t.Errorf("concurrent adoptions took %v, want x2, y1 and y2", taken)
	}
}
