package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// TestAccessCreateAndChange: an instance created with networks has them
// in force from its first start; a change is applied to the driver and
// stored; an empty list removes the filter.
func TestAccessCreateAndChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := basicRequest()
	req.Access, req.AllowedCIDRs = true, []string{"127.0.0.2/32", "10.0.0.0/8"}
	d, err := e.svc.CreateInstance(ctx, "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, d.ID, model.StatusActive)
	if a, ok := e.drv.Access(d.ID); !ok || !slices.Equal(a.Allowed, req.AllowedCIDRs) || len(a.Peers) != 0 {
		t.Errorf("access in force after create = %+v (%v), want %v without peers", a, ok, req.AllowedCIDRs)
	}

	steps := []struct {
		name  string
		cidrs []string
	}{
		{"narrowed", []string{"127.0.0.3/32"}},
		{"same again", []string{"127.0.0.3/32"}},
		{"opened", nil},
		{"closed again", []string{"::1/128"}},
	}
	for _, st := range steps {
		if err := e.svc.SetInstanceAccess(ctx, "t1", d.ID, st.cidrs); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := e.st.GetInstance(ctx, "", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := e.drv.Access(d.ID)
		if !slices.Equal(got.AllowedCIDRs, st.cidrs) || ok != (len(st.cidrs) > 0) || !slices.Equal(a.Allowed, st.cidrs) {
			t.Errorf("%s: stored %v, in force %v (%v); want %v", st.name, got.AllowedCIDRs, a.Allowed, ok, st.cidrs)
		}
	}

	// Another tenant's instance is not found.
	if err := e.svc.SetInstanceAccess(ctx, "t2", d.ID, nil); fault.KindOf(err) != fault.NotFound {
		t.Errorf("other tenant: %v, want NotFound", err)
	}
	// An instance that is not ready is 422, and keeps its list.
	if _, err := e.st.UpdateInstance(ctx, d.ID, func(i *model.Instance) error { i.Status = model.StatusError; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetInstanceAccess(ctx, "t1", d.ID, nil); fault.KindOf(err) != fault.Unprocessable {
		t.Errorf("ERROR instance: %v, want Unprocessable", err)
	}
	if a, _ := e.drv.Access(d.ID); !slices.Equal(a.Allowed, []string{"::1/128"}) {
		t.Errorf("refused change applied: %v", a.Allowed)
	}
}

// TestAccessFailureChangesNothing: a driver that fails to apply a list
// leaves both the stored list and the one in force as they were.
func TestAccessFailureChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := basicRequest()
	req.Access, req.AllowedCIDRs = true, []string{"127.0.0.2/32"}
	d, err := e.svc.CreateInstance(ctx, "t1", req)
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, d.ID, model.StatusActive)
	e.drv.Fail = func(op, id string) error {
		if op == "access" {
			return errors.New("nft: netlink: Error: Could not process rule")
		}
		return nil
	}
	for _, cidrs := range [][]string{{"127.0.0.3/32"}, nil} {
		err := e.svc.SetInstanceAccess(ctx, "t1", d.ID, cidrs)
		if fault.KindOf(err) != fault.Unavailable || strings.Contains(fault.Message(err), "netlink") {
			t.Errorf("SetInstanceAccess(%v) = %v (%q), want Unavailable without the driver's text", cidrs, err, fault.Message(err))
		}
		got, _ := e.st.GetInstance(ctx, "", d.ID)
		a, _ := e.drv.Access(d.ID)
		if !slices.Equal(got.AllowedCIDRs, req.AllowedCIDRs) || !slices.Equal(a.Allowed, req.AllowedCIDRs) {
			t.Errorf("after a failed change to %v: stored %v, in force %v; want both %v", cidrs, got.AllowedCIDRs, a.Allowed, req.AllowedCIDRs)
		}
	}
}

// TestAccessUnavailable: a driver that cannot enforce lists on this host
// makes every non-empty list 501 naming why, and accepts empty ones.
func TestAccessUnavailable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.drv.AccessUnavailable = errors.New("nft list tables: operation not permitted")
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	req := basicRequest()
	req.Name, req.Access, req.AllowedCIDRs = "db2", true, []string{"10.0.0.0/8"}
	if _, err := e.svc.CreateInstance(ctx, "t1", req); fault.KindOf(err) != fault.NotImplemented ||
		!strings.Contains(fault.Message(err), "operation not permitted") {
		t.Errorf("create with networks: %v (%q), want NotImplemented naming why", err, fault.Message(err))
	}
	e.waitStatus(t, d.ID, model.StatusActive)
	if err := e.svc.SetInstanceAccess(ctx, "t1", d.ID, []string{"10.0.0.0/8"}); fault.KindOf(err) != fault.NotImplemented {
		t.Errorf("update with networks: %v, want NotImplemented", err)
	}
	if err := e.svc.SetInstanceAccess(ctx, "t1", d.ID, nil); err != nil {
		t.Errorf("update to every network: %v", err)
	}
	if n, err := e.st.CountInstances(ctx, "t1"); err != nil || n != 1 {
		t.Errorf("instances after a refused create: %d (%v), want 1", n, err)
	}
}

// TestAccessDriverWithout: a driver without the capability refuses clearly.
func TestAccessDriverWithout(t *testing.T) {
	e := newEnv(t)
	e.svc.cfg.Driver = plainDriver{e.drv}
	req := basicRequest()
	req.Access, req.AllowedCIDRs = true, []string{"10.0.0.0/8"}
	_, err := e.svc.CreateInstance(context.Background(), "t1", req)
	if fault.KindOf(err) != fault.NotImplemented || !strings.Contains(fault.Message(err), "not implemented by this hoard's instance driver") {
		t.Errorf("create: %v (%q), want NotImplemented", err, fault.Message(err))
	}
}

// plainDriver hides every optional capability of its driver.
type plainDriver struct{ driver.Driver }

// TestAccessReplicaInheritsAndPeers: a replica is limited to its source's
// networks unless its request gives its own, and the source's filter lets
// the replica's engine through.
func TestAccessReplicaInheritsAndPeers(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	w := &env{svc: e.svc, st: e.st}
	drv := e.svc.cfg.Driver.(*fsDriver)
	req := basicRequest()
	req.Access, req.AllowedCIDRs = true, []string{"127.0.0.2/32"}
	srcID := e.active(t, req)

	d, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "ro", ReplicaOf: srcID})
	if err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, d.ID, model.StatusActive)
	if !slices.Equal(d.AllowedCIDRs, req.AllowedCIDRs) {
		t.Errorf("replica's networks %v, want its source's %v", d.AllowedCIDRs, req.AllowedCIDRs)
	}
	if a, _ := drv.Access(d.ID); !slices.Equal(a.Allowed, req.AllowedCIDRs) || !slices.Equal(a.Peers, []string{srcID}) {
		t.Errorf("replica's access in force %+v, want %v with peer %s", a, req.AllowedCIDRs, srcID)
	}
	if a, _ := drv.Access(srcID); !slices.Equal(a.Peers, []string{d.ID}) {
		t.Errorf("source's peers %v, want its replica %s", a.Peers, d.ID)
	}

	open, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "ro2", ReplicaOf: srcID, Access: true})
	if err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, open.ID, model.StatusActive)
	if _, ok := drv.Access(open.ID); ok || open.AllowedCIDRs != nil {
		t.Errorf("replica created with an empty list has networks %v", open.AllowedCIDRs)
	}
	if a, _ := drv.Access(srcID); !slices.Equal(a.Peers, []string{d.ID, open.ID}) && !slices.Equal(a.Peers, []string{open.ID, d.ID}) {
		t.Errorf("source's peers %v, want both replicas", a.Peers)
	}
}
