package service

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/groupproxy"
	"github.com/hoard-db/hoard/internal/model"
)

// fakeRouter records the routes the reconciler gives each group.
type fakeRouter struct {
	mu     sync.Mutex
	routes map[string]groupproxy.Route
}

func (r *fakeRouter) Set(id string, _ groupproxy.Listen, rt groupproxy.Route) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[id] = rt
	return nil
}

func (r *fakeRouter) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.routes, id)
}

func (r *fakeRouter) route(id string) (groupproxy.Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.routes[id]
	return rt, ok
}

func newHAEnv(t *testing.T) (*backupEnv, *fakeRouter) {
	router := &fakeRouter{routes: map[string]groupproxy.Route{}}
	e := newBackupEnvDriver(t, 0, nil, func(c *Config) {
		c.Router, c.HAAddresses, c.MaxInstances = router, []string{"127.0.8.1", "127.0.8.2"}, 10
	})
	return e, router
}

// reconcileUntil runs the reconciler until the group's detail satisfies
// cond, within a deadline.
func reconcileUntil(t *testing.T, e *backupEnv, id, what string, cond func(*HADetail) bool) *HADetail {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := e.svc.ReconcileHA(ctx); err != nil {
			t.Logf("reconcile: %v", err)
		}
		d, err := e.svc.GetHA(ctx, "t1", id)
		if err == nil && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last %+v, %v", what, d, err)
		}
		<-time.After(10 * time.Millisecond)
	}
}

func haRequest(replicas int) CreateHARequest {
	req := CreateHARequest{Name: "g", Source: HAMemberRequest{FlavorRef: "1", VolumeSize: 1}, ACLs: []string{"10.0.0.1", "10.0.0.0/8"}}
	for range replicas {
		req.Replicas = append(req.Replicas, HAMemberRequest{FlavorRef: "1", VolumeSize: 1})
	}
	return req
}

func TestHAGroupLifecycle(t *testing.T) {
	e, router := newHAEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateHA(ctx, "t1", haRequest(2))
	if err != nil {
		t.Fatal(err)
	}
	if d.State != model.HABuild || d.Address != "127.0.8.1" || d.WritePort == 0 || d.ReadPort != d.WritePort+1 {
		t.Errorf("created group %+v; want BUILD at the pool's first address, read port = write port + 1", d.HAGroup)
	}
	if got := strings.Join(d.ACLs, ","); got != "10.0.0.1/32,10.0.0.0/8" {
		t.Errorf("ACLs = %s; want them in CIDR form", got)
	}
	id := d.ID
	d = reconcileUntil(t, e, id, "the group ACTIVE with two replicas", func(d *HADetail) bool {
		return d.State == model.HAActive && len(d.Replicas) == 2
	})
	for _, m := range append([]*model.Instance{d.Source}, d.Replicas...) {
		if m.HAID != id {
			t.Errorf("member %s has ha_id %q; want %s", m.ID, m.HAID, id)
		}
	}
	rt, ok := router.route(id)
	if !ok || rt.Write != net.JoinHostPort(d.Source.Address, strconv.Itoa(d.Source.Port)) || len(rt.Reads) != 2 || len(rt.ACLs) != 2 {
		t.Errorf("route %+v; want writes to the source %s and reads to both replicas", rt, d.Source.Address)
	}

	// Calls Rackspace refuses on members, and the group's own refusals.
	wantKind(t, "delete a member", e.svc.DeleteInstance(ctx, "t1", d.Source.ID), fault.Unprocessable)
	wantKind(t, "restart a member", e.svc.RestartInstance(ctx, "t1", d.Replicas[0].ID), fault.Unprocessable)
	_, err = e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "r", ReplicaOf: d.Source.ID})
	wantKind(t, "a replica of a member", err, fault.Invalid)
	wantKind(t, "a third replica", e.svc.Act(ctx, "t1", id, HAAction{AddReplica: &HAMemberRequest{FlavorRef: "1", VolumeSize: 1}}), fault.Invalid)
	wantKind(t, "remove a non-member", e.svc.Act(ctx, "t1", id, HAAction{RemoveReplica: d.Source.ID}), fault.Invalid)
	wantKind(t, "another tenant's group", func() error { _, err := e.svc.GetHA(ctx, "t2", id); return err }(), fault.NotFound)
	wantKind(t, "an ACL that is no address", e.svc.AddHAACL(ctx, "t1", id, "nope"), fault.Invalid)
	wantKind(t, "an ACL it does not have", e.svc.DeleteHAACL(ctx, "t1", id, "192.0.2.0/24"), fault.NotFound)
	if err := e.svc.AddHAACL(ctx, "t1", id, "192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteHAACL(ctx, "t1", id, "10.0.0.1/32"); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.svc.GetHA(ctx, "t1", id); strings.Join(g.ACLs, ",") != "10.0.0.0/8,192.0.2.0/24" {
		t.Errorf("ACLs after an add and a delete = %v", g.ACLs)
	}

	// A replica removed is deleted, and the group keeps one.
	if err := e.svc.Act(ctx, "t1", id, HAAction{RemoveReplica: d.Replicas[1].ID}); err != nil {
		t.Fatal(err)
	}
	d = reconcileUntil(t, e, id, "one replica left", func(d *HADetail) bool { return d.State == model.HAActive && len(d.Replicas) == 1 })
	wantKind(t, "remove the last replica", e.svc.Act(ctx, "t1", id, HAAction{RemoveReplica: d.Replicas[0].ID}), fault.Invalid)

	// Failover: the source's engine is down and stays down.
	e.svc.cfg.HAFailoverAfter = time.Minute
	e.clk.Set(time.Now().UTC())
	oldSrc, replica := d.Source.ID, d.Replicas[0].ID
	if _, err := e.st.SetObservedStatus(ctx, oldSrc, []model.InstanceStatus{model.StatusActive}, model.StatusShutdown); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.svc.GetHA(ctx, "t1", id); g.State != model.HAFailover {
		t.Errorf("state with the source down = %s; want HA_FAILOVER", g.State)
	}
	if err := e.svc.ReconcileHA(ctx); err != nil {
		t.Fatal(err)
	}
	if rt, _ := router.route(id); rt.Write != "" {
		t.Errorf("write route with the source down = %q; want none (writes wait)", rt.Write)
	}
	e.clk.Add(2 * time.Minute)
	e.eng.setPing(errors.New("down"))
	if err := e.svc.FailoverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w := &env{svc: e.svc, st: e.st}
	w.waitStatus(t, replica, model.StatusActive)
	e.eng.setPing(nil)
	d = reconcileUntil(t, e, id, "the group whole again around the promoted replica", func(d *HADetail) bool {
		return d.State == model.HAActive && d.Source != nil && d.Source.ID == replica && len(d.Replicas) == 1
	})
	if len(d.Events) == 0 || !strings.Contains(d.Events[len(d.Events)-1].Message+d.Events[0].Message, "Failover") {
		t.Errorf("events %+v; want the failover", d.Events)
	}
	if _, err := e.st.GetInstance(ctx, "", oldSrc); err == nil {
		reconcileUntil(t, e, id, "the ejected source deleted", func(*HADetail) bool {
			_, err := e.st.GetInstance(ctx, "", oldSrc)
			return isNotFound(err)
		})
	}

	// Delete: members go, then the group.
	if err := e.svc.DeleteHA(ctx, "t1", id); err != nil {
		t.Fatal(err)
	}
	if _, ok := router.route(id); ok {
		t.Error("the deleted group's address is still routed")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := e.svc.ReconcileHA(ctx); err != nil {
			t.Logf("reconcile: %v", err)
		}
		if _, err := e.svc.GetHA(ctx, "t1", id); fault.Is(err, fault.NotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted group is still there")
		}
		<-time.After(10 * time.Millisecond)
	}
	if n, _ := e.st.CountInstances(ctx, "t1"); n != 0 {
		t.Errorf("%d instances left after the group's delete", n)
	}
}

func TestHACreateRefusals(t *testing.T) {
	e, _ := newHAEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*CreateHARequest)
		kind fault.Kind
		msg  string
	}{
		{"no replica", func(r *CreateHARequest) { r.Replicas = nil }, fault.Invalid, "1 to 2 replicas"},
		{"three replicas", func(r *CreateHARequest) { *r = haRequest(3) }, fault.Invalid, "1 to 2 replicas"},
		{"bad ACL", func(r *CreateHARequest) { r.ACLs = []string{"10.0.0.0/33"} }, fault.Invalid, "not an IP address or a CIDR"},
		{"unknown network", func(r *CreateHARequest) { r.Networks = []string{"internet"} }, fault.Invalid, "Network \"internet\" is unknown"},
		{"unknown flavor", func(r *CreateHARequest) { r.Source.FlavorRef = "99" }, fault.Invalid, "cannot be found"},
		{"smaller replica volume", func(r *CreateHARequest) { r.Source.VolumeSize = 2 }, fault.Invalid, "at least as large"},
		{"no name", func(r *CreateHARequest) { r.Name = "" }, fault.Invalid, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := haRequest(1)
			tt.edit(&req)
			_, err := e.svc.CreateHA(ctx, "t1", req)
			if !fault.Is(err, tt.kind) || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("CreateHA = %v; want %v saying %q", err, tt.kind, tt.msg)
			}
		})
	}
	if groups, _ := e.svc.ListHA(ctx, "t1"); len(groups) != 0 {
		t.Errorf("refused creates left %d groups", len(groups))
	}
	if n, _ := e.st.CountInstances(ctx, "t1"); n != 0 {
		t.Errorf("refused creates left %d instances", n)
	}
}

func TestHAOff(t *testing.T) {
	e := newBackupEnv(t, 0)
	_, err := e.svc.CreateHA(context.Background(), "t1", haRequest(1))
	wantKind(t, "CreateHA without HA addresses", err, fault.NotImplemented)
}

// TestHAMemberTLSNames: every member's driver spec names its group's
// address for its certificate (clients verify a member by the address
// they reach it at, the group's); an instance outside a group, or whose
// group is gone, names none.
func TestHAMemberTLSNames(t *testing.T) {
	e, _ := newHAEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateHA(ctx, "t1", haRequest(1))
	if err != nil {
		t.Fatal(err)
	}
	d = reconcileUntil(t, e, d.ID, "the group ACTIVE with one replica", func(d *HADetail) bool {
		return d.State == model.HAActive && len(d.Replicas) == 1
	})
	standalone := *d.Source
	standalone.ID, standalone.HAID = "standalone", ""
	orphan := *d.Replicas[0]
	orphan.ID, orphan.HAID = "orphan", "no-such-group"
	tests := []struct {
		name string
		inst *model.Instance
		want []string
	}{
		{"source", d.Source, []string{d.Address}},
		{"replica", d.Replicas[0], []string{d.Address}},
		{"no group", &standalone, nil},
		{"group gone", &orphan, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := e.svc.deps.spec(ctx, tc.inst)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sp.TLSNames, tc.want) {
				t.Errorf("TLSNames = %v; want %v", sp.TLSNames, tc.want)
			}
		})
	}
}
