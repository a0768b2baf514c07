package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// testConfigurations checks store.Configurations: CRUD with tenant visibility, paging, attachment through the
// instance's ConfigurationID, the in-use refusal and the catalogue.
func testConfigurations(t *testing.T, s store.Store) {
	var cs store.Configurations = s
	ctx := t.Context()
	mk := func(tenant, id string) *model.Configuration {
		return &model.Configuration{
			ID: id, TenantID: tenant, Name: "group " + id, Description: "d",
			Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v-1",
			Values:  map[string]string{"max_connections": "50", "sql_mode": ""},
			Created: t0.In(zone), Updated: t0.In(zone),
		}
	}
	a1, a2, b1 := mk("tenant-a", "cfg-1"), mk("tenant-a", "cfg-2"), mk("tenant-b", "cfg-3")
	for _, c := range []*model.Configuration{a1, a2, b1} {
		noErr(t, "CreateConfiguration", cs.CreateConfiguration(ctx, c))
	}
	wantErr(t, "CreateConfiguration(duplicate)", cs.CreateConfiguration(ctx, mk("tenant-a", "cfg-1")), store.ErrExists)

	got, err := cs.GetConfiguration(ctx, "tenant-a", "cfg-1")
	noErr(t, "GetConfiguration", err)
	if diff := cmp.Diff(a1, got, cmpOpts); diff != "" {
		t.Errorf("GetConfiguration (-want +got):\n%s", diff)
	}
	checkUTC(t, "configuration", got.Created, got.Updated)
	_, err = cs.GetConfiguration(ctx, "tenant-b", "cfg-1")
	wantErr(t, "GetConfiguration(other tenant)", err, store.ErrNotFound)
	_, err = cs.GetConfiguration(ctx, "", "cfg-1")
	noErr(t, "GetConfiguration(any tenant)", err)

	list, err := cs.ListConfigurations(ctx, "tenant-a", store.Page{Limit: 1})
	noErr(t, "ListConfigurations", err)
	if len(list) != 1 || list[0].ID != "cfg-1" {
		t.Fatalf("ListConfigurations page 1 = %v", list)
	}
	list, err = cs.ListConfigurations(ctx, "tenant-a", store.Page{Marker: "cfg-1", Limit: 10})
	noErr(t, "ListConfigurations", err)
	if len(list) != 1 || list[0].ID != "cfg-2" {
		t.Fatalf("ListConfigurations page 2 = %v", list)
	}
	list, err = cs.ListConfigurations(ctx, "", store.Page{Limit: 10})
	noErr(t, "ListConfigurations(all)", err)
	if len(list) != 3 {
		t.Fatalf("ListConfigurations(all) = %d groups, want 3", len(list))
	}

	up, err := cs.UpdateConfiguration(ctx, "tenant-a", "cfg-1", func(c *model.Configuration) error {
		c.Name, c.Description = "renamed", ""
		c.Values = map[string]string{"wait_timeout": "120"}
		return nil
	})
	noErr(t, "UpdateConfiguration", err)
	got, err = cs.GetConfiguration(ctx, "", "cfg-1")
	noErr(t, "GetConfiguration", err)
	if diff := cmp.Diff(up, got, cmpOpts); diff != "" || got.Name != "renamed" || got.Values["wait_timeout"] != "120" || len(got.Values) != 1 {
		t.Errorf("after UpdateConfiguration got %+v (diff %s)", got, diff)
	}
	_, err = cs.UpdateConfiguration(ctx, "tenant-b", "cfg-1", func(*model.Configuration) error { return nil })
	wantErr(t, "UpdateConfiguration(other tenant)", err, store.ErrNotFound)

	inst := newInstance("tenant-a", "inst-cfg", model.StatusActive)
	inst.ConfigurationID = "cfg-1"
	mustCreate(t, s, inst, nil)
	gotInst, err := s.GetInstance(ctx, "", inst.ID)
	noErr(t, "GetInstance", err)
	if gotInst.ConfigurationID != "cfg-1" {
		t.Errorf("instance ConfigurationID = %q, want cfg-1", gotInst.ConfigurationID)
	}
	insts, err := cs.ConfigurationInstances(ctx, "cfg-1", store.Page{Limit: 10})
	noErr(t, "ConfigurationInstances", err)
	if len(insts) != 1 || insts[0].ID != inst.ID {
		t.Errorf("ConfigurationInstances = %v", insts)
	}
	n, err := cs.CountConfigurationInstances(ctx, "cfg-1")
	noErr(t, "CountConfigurationInstances", err)
	if n != 1 {
		t.Errorf("CountConfigurationInstances = %d, want 1", n)
	}
	wantErr(t, "DeleteConfiguration(attached)", cs.DeleteConfiguration(ctx, "tenant-a", "cfg-1"), store.ErrInUse)

	_, err = s.UpdateInstance(ctx, inst.ID, func(i *model.Instance) error { i.ConfigurationID = ""; return nil })
	noErr(t, "UpdateInstance(detach)", err)
	wantErr(t, "DeleteConfiguration(other tenant)", cs.DeleteConfiguration(ctx, "tenant-b", "cfg-1"), store.ErrNotFound)
	noErr(t, "DeleteConfiguration", cs.DeleteConfiguration(ctx, "tenant-a", "cfg-1"))
	_, err = cs.GetConfiguration(ctx, "", "cfg-1")
	wantErr(t, "GetConfiguration(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteConfiguration(again)", cs.DeleteConfiguration(ctx, "", "cfg-1"), store.ErrNotFound)

	_, err = cs.GetParameters(ctx, "v-1")
	wantErr(t, "GetParameters(none)", err, store.ErrNotFound)
	noErr(t, "PutParameters", cs.PutParameters(ctx, "v-1", []byte(`[{"name":"a"}]`)))
	noErr(t, "PutParameters(replace)", cs.PutParameters(ctx, "v-1", []byte(`[{"name":"b"}]`)))
	p, err := cs.GetParameters(ctx, "v-1")
	noErr(t, "GetParameters", err)
	if string(p) != `[{"name": "b"}]` && string(p) != `[{"name":"b"}]` {
		t.Errorf("GetParameters = %s", p)
	}
}
