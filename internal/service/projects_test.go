package service

import (
	"testing"

	"github.com/hoard-db/hoard/internal/model"
)

func TestProjectResources(t *testing.T) {
	s, _, _ := newTestService(t, model.StatusActive) // two instances of tenant t1
	ctx := t.Context()
	for _, c := range []model.Configuration{
		{ID: "c1", TenantID: "t1", Name: "a", Datastore: "memdb", DatastoreVersion: "1", Values: map[string]string{}},
		{ID: "c2", TenantID: "t2", Name: "b", Datastore: "memdb", DatastoreVersion: "1", Values: map[string]string{}},
		{ID: "c3", TenantID: "t2", Name: "c", Datastore: "memdb", DatastoreVersion: "1", Values: map[string]string{}},
	} {
		if err := s.st.CreateConfiguration(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		tenant string
		want   model.ProjectResources
	}{
		{"t1", model.ProjectResources{Instances: 2, Configurations: 1}},
		{"t2", model.ProjectResources{Configurations: 2}},
		{"t3", model.ProjectResources{}},
	} {
		got, err := s.ProjectResources(ctx, tt.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("ProjectResources(%s) = %+v, want %+v", tt.tenant, got, tt.want)
		}
	}
}
