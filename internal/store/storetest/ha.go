package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// testHAGroups checks that CreateHAGroup gives each group its own address
// and records its source member and task, that lookups are scoped to the
// tenant, that the spec round trips through UpdateHAGroup, that replicas
// made with an HAID list as members, and DeleteHAGroup.
func testHAGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	pool := []string{"127.0.3.1", "127.0.3.2"}
	newGroup := func(id, tenant string) (*model.HAGroup, *model.Instance, *model.Task) {
		g := &model.HAGroup{ID: id, TenantID: tenant, Name: "group " + id, Datastore: "mysql", DatastoreVersion: "10.11",
			DatastoreVersionID: "dv", FlavorID: 2, VolumeSize: 1, WritePort: 3306, ReadPort: 3307, ReplicaCount: 2, SourceID: "src", Networks: []string{"servicenet"},
			ACLs: []string{"10.0.0.0/8"}, Pending: []model.HAReplicaSpec{{Name: "r", FlavorID: 2, VolumeSize: 1}}, Created: t0, Updated: t0}
		src := newInstance(tenant, id+"-src", model.StatusBuild)
		return g, src, newTask("task-"+src.ID, "", model.TaskCreate, t0)
	}
	g1, src1, tk1 := newGroup("g1", "tenant-a")
	if err := s.CreateHAGroup(ctx, g1, pool, src1, tk1, nil); err != nil {
		t.Fatalf("CreateHAGroup g1: %v", err)
	}
	g2, src2, tk2 := newGroup("g2", "tenant-b")
	if err := s.CreateHAGroup(ctx, g2, pool, src2, tk2, nil); err != nil {
		t.Fatalf("CreateHAGroup g2: %v", err)
	}
	if g1.Address != "127.0.3.1" || g2.Address != "127.0.3.2" {
		t.Errorf("addresses = %q, %q; want the pool's first two", g1.Address, g2.Address)
	}
	g3, src3, tk3 := newGroup("g3", "tenant-a")
	if err := s.CreateHAGroup(ctx, g3, pool, src3, tk3, nil); !errors.Is(err, store.ErrNoAddress) {
		t.Errorf("CreateHAGroup with the pool used up = %v; want ErrNoAddress", err)
	}
	if _, err := s.GetInstance(ctx, "", src3.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused group's source was stored: %v", err)
	}
	got, err := s.GetInstance(ctx, "tenant-a", src1.ID)
	if err != nil || got.HAID != "g1" {
		t.Fatalf("source of g1 = %+v, %v; want HAID g1", got, err)
	}
	if tk, err := s.ActiveTask(ctx, src1.ID); err != nil || tk.Kind != model.TaskCreate {
		t.Errorf("ActiveTask of g1's source = %+v, %v", tk, err)
	}
	if _, err := s.GetHAGroup(ctx, "tenant-b", "g1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant's group = %v; want ErrNotFound", err)
	}
	read, err := s.GetHAGroup(ctx, "tenant-a", "g1")
	if err != nil {
		t.Fatal(err)
	}
	if read.Name != g1.Name || read.WritePort != 3306 || read.ReadPort != 3307 || read.ReplicaCount != 2 || read.SourceID != "src" || !slices.Equal(read.Networks, []string{"servicenet"}) ||
		!slices.Equal(read.ACLs, g1.ACLs) || len(read.Pending) != 1 || read.Pending[0] != g1.Pending[0] || !sameSecond(read.Created, t0) {
		t.Errorf("GetHAGroup = %+v; want %+v", read, g1)
	}
	list, err := s.ListHAGroups(ctx, "tenant-a")
	if err != nil || len(list) != 1 || list[0].ID != "g1" {
		t.Errorf("ListHAGroups(tenant-a) = %v, %v; want g1 alone", list, err)
	}
	if all, err := s.ListHAGroups(ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("ListHAGroups(all) = %d groups, %v; want 2", len(all), err)
	}
	up, err := s.UpdateHAGroup(ctx, "g1", func(g *model.HAGroup) error {
		g.Built = true
		g.Pending = nil
		g.Events = append(g.Events, model.HAEvent{Time: t0, Message: "failover"})
		return nil
	})
	if err != nil || !up.Built || len(up.Pending) != 0 {
		t.Fatalf("UpdateHAGroup = %+v, %v", up, err)
	}
	if read, _ := s.GetHAGroup(ctx, "", "g1"); read == nil || !read.Built || len(read.Events) != 1 || read.Events[0].Message != "failover" {
		t.Errorf("after UpdateHAGroup: %+v", read)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateHAGroup(ctx, "g1", func(g *model.HAGroup) error { g.Name = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateHAGroup with a failing fn = %v", err)
	}
	// An instance stored with the group's id is a member; ha_id round
	// trips through UpdateInstance.
	r := newInstance("tenant-a", "g1-r1", model.StatusBuild)
	r.ReplicaOf, r.HAID = src1.ID, "g1"
	if err := s.CreateInstance(ctx, r, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateInstance(ctx, r.ID, func(i *model.Instance) error { i.Status = model.StatusActive; return nil }); err != nil || got.HAID != "g1" {
		t.Fatalf("UpdateInstance of a member = %+v, %v; want HAID kept", got, err)
	}
	members, err := s.ListHAMembers(ctx, "g1")
	if err != nil || len(members) != 2 || members[0].ID != r.ID || members[1].ID != src1.ID {
		t.Errorf("ListHAMembers(g1) = %v, %v; want the source and its replica", members, err)
	}
	if err := s.DeleteHAGroup(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHAGroup(ctx, "", "g1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted group = %v", err)
	}
	if err := s.DeleteHAGroup(ctx, "g1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v; want ErrNotFound", err)
	}
	// InsertHAGroup keeps what it is given, and refuses a taken address.
	cp := *g2
	cp.ID = "g9"
	if err := s.InsertHAGroup(ctx, &cp); !errors.Is(err, store.ErrExists) {
		t.Errorf("InsertHAGroup with g2's address = %v; want ErrExists", err)
	}
	cp.Address = "10.9.9.9"
	if err := s.InsertHAGroup(ctx, &cp); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetHAGroup(ctx, "tenant-b", "g9"); err != nil || got.Address != "10.9.9.9" || got.Name != g2.Name {
		t.Errorf("inserted group = %+v, %v", got, err)
	}
	// Its address is free again.
	if err := s.CreateHAGroup(ctx, g3, pool, src3, tk3, nil); err != nil || g3.Address != "127.0.3.1" {
		t.Errorf("CreateHAGroup after a delete = %v, address %q; want 127.0.3.1", err, g3.Address)
	}
}
