package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/datastores"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"

	"github.com/hoard-db/hoard/internal/model"
)

// TestGophercloud drives the server with the real gophercloud v2 db/v1
// client, which checks status codes strictly and decodes fixed field types.
func TestGophercloud(t *testing.T) {
	h := newHarness(t, Config{PageSize: 2})
	ts := httptest.NewServer(h.srv.Handler())
	t.Cleanup(ts.Close)

	pc := &gophercloud.ProviderClient{HTTPClient: http.Client{Timeout: 10 * time.Second}}
	pc.SetToken(token)
	sc := &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: ts.URL + "/v1.0/TENANT/", Type: "database"}
	ctx := t.Context()

	created, err := instances.Create(ctx, sc, instances.CreateOpts{
		Name: "gc-db", FlavorRef: "1", Size: 2, VolumeType: "ssd",
		Databases: databases.BatchCreateOpts{{Name: "sampledb", CharSet: "utf8"}},
		Users: users.BatchCreateOpts{{Name: "demouser", Password: "demopassword",
			Databases: databases.BatchCreateOpts{{Name: "sampledb"}}}},
		Datastore: &instances.DatastoreOpts{Type: "mysql", Version: "10.11"},
	}).Extract()
	if err != nil {
		t.Fatalf("instances.Create: %v", err)
	}
	// A network cannot be chosen: refused, never dropped.
	_, err = instances.Create(ctx, sc, instances.CreateOpts{Name: "gc-net", FlavorRef: "1", Size: 1,
		Networks: []instances.NetworkOpts{{UUID: "net"}}}).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("instances.Create with a network = %v, want 400", err)
	}
	if created.Status != "BUILD" || created.Flavor.ID != "1" || created.Volume.Size != 2 ||
		created.Created.IsZero() || created.Datastore.Type != "mysql" {
		t.Errorf("created = %+v", created)
	}
	if u := h.fb.lastCreate.Users; len(u) != 1 || u[0].Databases[0] != "sampledb" {
		t.Errorf("backend got users %+v", u)
	}

	// Make it ACTIVE with an address, a used volume and a fault.
	h.fb.mu.Lock()
	in := h.fb.instances[created.ID]
	in.Status, in.Address = model.StatusActive, "127.0.1.2"
	in.Fault = &model.Fault{Message: "was slow", Created: in.Created}
	h.fb.used[in.ID] = 0.25
	h.fb.mu.Unlock()

	got, err := instances.Get(ctx, sc, created.ID).Extract()
	if err != nil {
		t.Fatalf("instances.Get: %v", err)
	}
	if got.Status != "ACTIVE" || got.Hostname != "127.0.1.2" || len(got.IP) != 1 || got.Volume.Used != 0.25 ||
		len(got.Addresses) != 1 || got.Addresses[0].Type != "private" || got.Fault == nil || got.Fault.Message != "was slow" ||
		len(got.Links) != 2 || got.Updated.IsZero() {
		t.Errorf("instances.Get = %+v", got)
	}

	// Three pages of two (5 instances) through instances_links.
	for range 4 {
		h.fb.add(tenant, "more", model.StatusActive)
	}
	h.fb.listedPages = nil
	pages, err := instances.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatalf("instances.List: %v", err)
	}
	all, err := instances.ExtractInstances(pages)
	if err != nil {
		t.Fatalf("ExtractInstances: %v", err)
	}
	if len(all) != 5 {
		t.Errorf("listed %d instances, want 5", len(all))
	}
	if n := len(h.fb.listedPages); n != 3 {
		t.Errorf("client fetched %d pages, want 3", n)
	}
	// Rackspace's include_replicas=false reaches the backend.
	h.fb.listedPages = nil
	if _, err := sc.Get(ctx, sc.ServiceURL("instances")+"?include_replicas=false", nil, nil); err != nil {
		t.Fatalf("GET instances?include_replicas=false: %v", err)
	}
	if len(h.fb.listedPages) != 1 || !h.fb.listedPages[0].SkipReplicas {
		t.Errorf("include_replicas=false listed %+v, want SkipReplicas", h.fb.listedPages)
	}

	if err := instances.Restart(ctx, sc, created.ID).ExtractErr(); err != nil {
		t.Errorf("instances.Restart: %v", err)
	}
	if err := instances.DetachConfigurationGroup(ctx, sc, created.ID).ExtractErr(); err != nil {
		t.Errorf("instances.DetachConfigurationGroup: %v", err)
	}
	if err := instances.Resize(ctx, sc, created.ID, "2").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotImplemented) {
		t.Errorf("instances.Resize = %v, want a 501", err)
	}
	h.fb.mu.Lock()
	h.fb.instances[created.ID].Status = model.StatusActive
	h.fb.mu.Unlock()
	if err := instances.Delete(ctx, sc, created.ID).ExtractErr(); err != nil {
		t.Errorf("instances.Delete: %v", err)
	}
	if _, err := instances.Get(ctx, sc, created.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("Get after delete = %v, want a 404", err)
	}

	fpages, err := flavors.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatalf("flavors.List: %v", err)
	}
	fl, err := flavors.ExtractFlavors(fpages)
	if err != nil || len(fl) != 2 || fl[1].ID != 2 || fl[1].StrID != "2" || fl[1].RAM != 1024 {
		t.Errorf("flavors = %+v, %v", fl, err)
	}
	f, err := flavors.Get(ctx, sc, "1").Extract()
	if err != nil || f.ID != 1 || f.Name != "512MB Instance" {
		t.Errorf("flavors.Get = %+v, %v", f, err)
	}

	dpages, err := datastores.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatalf("datastores.List: %v", err)
	}
	dss, err := datastores.ExtractDatastores(dpages)
	if err != nil || len(dss) != 1 || dss[0].Name != "mysql" || dss[0].DefaultVersion != "v-1011" || len(dss[0].Versions) != 1 {
		t.Errorf("datastores = %+v, %v", dss, err)
	}
	ds, err := datastores.Get(ctx, sc, "ds-mysql").Extract()
	if err != nil || ds.ID != "ds-mysql" {
		t.Errorf("datastores.Get = %+v, %v", ds, err)
	}
	vpages, err := datastores.ListVersions(sc, "mysql").AllPages(ctx)
	if err != nil {
		t.Fatalf("datastores.ListVersions: %v", err)
	}
	vs, err := datastores.ExtractVersions(vpages)
	if err != nil || len(vs) != 1 || vs[0].Name != "10.11" {
		t.Errorf("versions = %+v, %v", vs, err)
	}
	v, err := datastores.GetVersion(ctx, sc, "mysql", "v-1011").Extract()
	if err != nil || v.ID != "v-1011" || len(v.Links) != 2 {
		t.Errorf("datastores.GetVersion = %+v, %v", v, err)
	}
}
