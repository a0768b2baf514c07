package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func testFlavors(t *testing.T, s store.Store) {
	ctx := t.Context()
	flavors := []model.Flavor{
		{ID: 3, Name: "m1.large", RAM: 4096, VCPUs: 2, Disk: 20},
		{ID: 1, Name: "m1.tiny", RAM: 512, VCPUs: 1, Disk: 1},
		{ID: 2, Name: "m1.small", RAM: 1024, VCPUs: 1, Disk: 5},
	}
	for _, f := range flavors {
		noErr(t, "PutFlavor", s.PutFlavor(ctx, f))
	}
	// Replacing keeps one flavor per id.
	flavors[2].Name, flavors[2].RAM = "m1.small2", 2048
	noErr(t, "PutFlavor(replace)", s.PutFlavor(ctx, flavors[2]))

	got, err := s.ListFlavors(ctx)
	noErr(t, "ListFlavors", err)
	slices.SortFunc(got, func(a, b model.Flavor) int { return a.ID - b.ID })
	want := []model.Flavor{flavors[1], flavors[2], flavors[0]}
	diff(t, "ListFlavors", got, want)

	f, err := s.GetFlavor(ctx, 2)
	noErr(t, "GetFlavor", err)
	diff(t, "GetFlavor(2)", f, &flavors[2])
	_, err = s.GetFlavor(ctx, 99)
	wantErr(t, "GetFlavor(missing)", err, store.ErrNotFound)
}

func testDatastores(t *testing.T, s store.Store) {
	ctx := t.Context()
	put := func(v model.DatastoreVersion, makeDefault bool) model.DatastoreVersion {
		t.Helper()
		got, err := s.PutDatastoreVersion(ctx, v, makeDefault)
		noErr(t, "PutDatastoreVersion", err)
		if got.ID == "" || got.DatastoreID == "" || got.DatastoreName != v.DatastoreName || got.Name != v.Name ||
			got.Version != v.Version || got.Engine != v.Engine || got.Active != v.Active {
			t.Errorf("PutDatastoreVersion(%+v) = %+v", v, got)
		}
		return got
	}
	v1011 := put(model.DatastoreVersion{DatastoreName: "mysql", Name: "10.11", Version: "10.11.19", Engine: "mariadb", Active: true}, true)
	v106 := put(model.DatastoreVersion{DatastoreName: "mysql", Name: "10.6", Version: "10.6.1", Engine: "mariadb", Active: true}, false)
	if v106.DatastoreID != v1011.DatastoreID || v106.ID == v1011.ID {
		t.Errorf("two versions of mysql: datastore ids %s %s, version ids %s %s", v1011.DatastoreID, v106.DatastoreID, v1011.ID, v106.ID)
	}
	// Re-putting an existing version updates it and keeps its ids, even if
	// the caller passes others.
	again := put(model.DatastoreVersion{ID: "other-id", DatastoreID: "other-ds", DatastoreName: "mysql", Name: "10.11",
		Version: "10.11.20", Engine: "mariadb", Active: false}, false)
	if again.ID != v1011.ID || again.DatastoreID != v1011.DatastoreID {
		t.Errorf("re-put 10.11: ids %s/%s, want %s/%s", again.DatastoreID, again.ID, v1011.DatastoreID, v1011.ID)
	}
	pg := put(model.DatastoreVersion{DatastoreName: "postgresql", Name: "16", Version: "16.4", Engine: "postgresql", Active: true}, true)
	if pg.DatastoreID == v1011.DatastoreID {
		t.Errorf("postgresql and mysql share datastore id %s", pg.DatastoreID)
	}

	check := func(wantDefault map[string]string, wantVersions map[string][]model.DatastoreVersion) {
		t.Helper()
		list, err := s.ListDatastores(ctx)
		noErr(t, "ListDatastores", err)
		if len(list) != len(wantDefault) {
			t.Fatalf("ListDatastores returned %d datastores, want %d", len(list), len(wantDefault))
		}
		for _, d := range list {
			if d.DefaultVersionID != wantDefault[d.Name] {
				t.Errorf("datastore %s: default version %s, want %s", d.Name, d.DefaultVersionID, wantDefault[d.Name])
			}
			got := slices.Clone(d.Versions)
			slices.SortFunc(got, func(a, b model.DatastoreVersion) int { return strings.Compare(a.ID, b.ID) })
			want := slices.Clone(wantVersions[d.Name])
			slices.SortFunc(want, func(a, b model.DatastoreVersion) int { return strings.Compare(a.ID, b.ID) })
			diff(t, "versions of "+d.Name, got, want)
		}
	}
	v1011.Version, v1011.Active = "10.11.20", false
	versions := map[string][]model.DatastoreVersion{"mysql": {v1011, v106}, "postgresql": {pg}}
	check(map[string]string{"mysql": v1011.ID, "postgresql": pg.ID}, versions)

	put(v106, true)
	check(map[string]string{"mysql": v106.ID, "postgresql": pg.ID}, versions)
}
