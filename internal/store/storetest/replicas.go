package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// testReplicas checks CreateReplica's checks of the source (tenant, state
// gate, a replica of a replica, the replica limit), that the first replica
// gives the source its replication secret and later ones keep it, and
// ListReplicas.
func testReplicas(t *testing.T, s store.Store) {
	ctx := context.Background()
	src := newInstance("tenant-a", "src", model.StatusActive)
	if err := s.CreateInstance(ctx, src, nil, nil); err != nil {
		t.Fatal(err)
	}
	building := newInstance("tenant-a", "building", model.StatusBuild)
	if err := s.CreateInstance(ctx, building, nil, nil); err != nil {
		t.Fatal(err)
	}
	replica := func(id, of, tenant string) *model.Instance {
		r := newInstance(tenant, id, model.StatusBuild)
		r.ReplicaOf = of
		return r
	}
	create := func(r *model.Instance, max int, secret string) error {
		return s.CreateReplica(ctx, r, newTask("task-"+r.ID, r.ID, model.TaskReplicaCreate, t0), model.ActionAllowedStatuses, max, []byte(secret), nil)
	}
	if err := create(replica("r1", "src", "tenant-a"), 2, "secret-1"); err != nil {
		t.Fatalf("CreateReplica r1: %v", err)
	}
	got, err := s.GetInstance(ctx, "", "src")
	if err != nil || !bytes.Equal(got.ReplicationSecret, []byte("secret-1")) {
		t.Fatalf("source after its first replica = %+v, %v; want ReplicationSecret secret-1", got, err)
	}
	r1, err := s.GetInstance(ctx, "tenant-a", "r1")
	if err != nil || r1.ReplicaOf != "src" {
		t.Fatalf("GetInstance r1 = %+v, %v; want ReplicaOf src", r1, err)
	}
	if tk, err := s.ActiveTask(ctx, "r1"); err != nil || tk.Kind != model.TaskReplicaCreate {
		t.Errorf("ActiveTask r1 = %+v, %v; want its replica_create task", tk, err)
	}
	var se *store.StateError
	refusals := []struct {
		name  string
		r     *model.Instance
		max   int
		check func(error) bool
	}{
		{"a replica of a replica", replica("rr", "r1", "tenant-a"), 0, func(err error) bool { return errors.Is(err, store.ErrIsReplica) }},
		{"another tenant's source", replica("other", "src", "tenant-b"), 0, func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"a missing source", replica("orphan", "nope", "tenant-a"), 0, func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"a source not ready", replica("early", "building", "tenant-a"), 0, func(err error) bool { return errors.As(err, &se) }},
		{"the limit", replica("r2", "src", "tenant-a"), 1, func(err error) bool { return errors.Is(err, store.ErrReplicaLimit) }},
	}
	for _, tt := range refusals {
		if err := create(tt.r, tt.max, "other"); !tt.check(err) {
			t.Errorf("CreateReplica of %s = %v", tt.name, err)
		}
		if _, err := s.GetInstance(ctx, "", tt.r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused replica (%s) was stored: %v", tt.name, err)
		}
	}
	if err := create(replica("r2", "src", "tenant-a"), 2, "secret-2"); err != nil {
		t.Fatalf("CreateReplica r2: %v", err)
	}
	got, err = s.GetInstance(ctx, "", "src")
	if err != nil || !bytes.Equal(got.ReplicationSecret, []byte("secret-1")) {
		t.Errorf("source after its second replica: ReplicationSecret %q, %v; want secret-1 kept", got.ReplicationSecret, err)
	}
	list, err := s.ListReplicas(ctx, "src")
	if err != nil || len(list) != 2 || list[0].ID != "r1" || list[1].ID != "r2" {
		t.Errorf("ListReplicas(src) = %v, %v; want r1, r2", ids(list), err)
	}
	if list, err := s.ListReplicas(ctx, "r1"); err != nil || len(list) != 0 {
		t.Errorf("ListReplicas(r1) = %v, %v; want none", ids(list), err)
	}
	if _, err := s.UpdateInstance(ctx, "r1", func(i *model.Instance) error { i.ReplicaOf = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListReplicas(ctx, "src"); err != nil || len(list) != 1 || list[0].ID != "r2" {
		t.Errorf("ListReplicas(src) after r1 detached = %v, %v; want r2", ids(list), err)
	}
	// include_replicas=false: r2 is left out of both lists.
	skip := store.Page{SkipReplicas: true}
	if list, err := s.ListInstances(ctx, "tenant-a", skip); err != nil || len(list) != 3 || slices.Contains(ids(list), "r2") {
		t.Errorf("ListInstances(SkipReplicas) = %v, %v; want building, r1, src", ids(list), err)
	}
	if list, err := s.ListInstanceSummaries(ctx, "", skip); err != nil || len(list) != 3 || slices.Contains(ids(list), "r2") {
		t.Errorf("ListInstanceSummaries(SkipReplicas) = %v, %v; want building, r1, src", ids(list), err)
	}
	if list, err := s.ListInstances(ctx, "tenant-a", store.Page{}); err != nil || len(list) != 4 {
		t.Errorf("ListInstances = %v, %v; want every instance", ids(list), err)
	}
}

func ids(list []*model.Instance) []string {
	var out []string
	for _, i := range list {
		out = append(out, i.ID)
	}
	return out
}

// testStartGroupAction checks that a group action gates every instance
// and changes all of them or none.
func testStartGroupAction(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, in := range []*model.Instance{
		newInstance("tenant-a", "g1", model.StatusActive), newInstance("tenant-a", "g2", model.StatusActive),
		newInstance("tenant-a", "g3", model.StatusActive), newInstance("tenant-a", "busy", model.StatusBuild),
	} {
		if err := s.CreateInstance(ctx, in, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	statuses := func() []model.InstanceStatus {
		var out []model.InstanceStatus
		for _, id := range []string{"g1", "g2", "g3"} {
			in, err := s.GetInstance(ctx, "", id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, in.Status)
		}
		return out
	}
	var se *store.StateError
	err := s.StartGroupAction(ctx, "tenant-a", []string{"g1", "g2", "busy"}, model.ActionAllowedStatuses, "PROMOTE",
		newTask("t-refused", "g1", model.TaskReplicaCreate, t0), t0)
	if !errors.As(err, &se) || se.InstanceID != "busy" {
		t.Errorf("group with an instance in BUILD = %v, want its *StateError", err)
	}
	if err := s.StartGroupAction(ctx, "tenant-b", []string{"g1"}, model.ActionAllowedStatuses, "PROMOTE",
		newTask("t-other", "g1", model.TaskReplicaCreate, t0), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("group of another tenant's instance = %v, want ErrNotFound", err)
	}
	if got := statuses(); !slices.Equal(got, []model.InstanceStatus{model.StatusActive, model.StatusActive, model.StatusActive}) {
		t.Errorf("statuses after refused group actions = %v, want unchanged", got)
	}
	if err := s.StartGroupAction(ctx, "tenant-a", []string{"g2", "g1", "g3"}, model.ActionAllowedStatuses, "PROMOTE",
		newTask("t-group", "g1", model.TaskReplicaCreate, t0), t0); err != nil {
		t.Fatal(err)
	}
	if got := statuses(); !slices.Equal(got, []model.InstanceStatus{"PROMOTE", "PROMOTE", "PROMOTE"}) {
		t.Errorf("statuses after the group action = %v, want PROMOTE for all", got)
	}
	if tk, err := s.ActiveTask(ctx, "g1"); err != nil || tk.ID != "t-group" {
		t.Errorf("ActiveTask(g1) = %+v, %v; want t-group", tk, err)
	}
	// A member with an unfinished task refuses the next group action.
	if err := s.StartGroupAction(ctx, "tenant-a", []string{"g1", "g2"}, []model.InstanceStatus{"PROMOTE"}, model.StatusActive,
		newTask("t-again", "g2", model.TaskReplicaCreate, t0), t0); !errors.As(err, &se) {
		t.Errorf("group with a member's task unfinished = %v, want *StateError", err)
	}
}
