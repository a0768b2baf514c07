package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/datastores"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

const activeTimeout = 2 * time.Minute

func createOpts(name string) instances.CreateOpts {
	return instances.CreateOpts{
		Name:      name,
		FlavorRef: "1",
		Size:      1,
		Databases: databases.BatchCreateOpts{{Name: "shop"}},
		Users: users.BatchCreateOpts{{
			Name: "app", Password: "app-pw-123",
			Databases: databases.BatchCreateOpts{{Name: "shop"}},
		}},
		Datastore: &instances.DatastoreOpts{Type: "mysql"},
	}
}

// TestInstanceLifecycle is the user's story of the instances/restart
// issue: log in, look at the catalogue, create an instance with a database
// and a user, use it, restart it (runtime settings are gone, data is not),
// rename it, and delete it without a trace.
func TestInstanceLifecycle(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	// Flavors 1..6 and the discovered MariaDB datastore.
	fp, err := flavors.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := flavors.ExtractFlavors(fp)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 6 || fl[0].ID != 1 || fl[0].RAM != 512 || fl[0].StrID != "1" {
		t.Errorf("flavors = %+v, want six starting with id 1, 512 MB", fl)
	}
	dp, err := datastores.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dss, err := datastores.ExtractDatastores(dp)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range dss {
		names[d.Name] = true
		if d.Name != "mysql" && d.Name != "mariadb" {
			continue // other engines have tests of their own
		}
		if len(d.Versions) == 0 || !strings.HasPrefix(d.Versions[0].Name, "10.") {
			t.Errorf("datastore %s versions = %+v, want the installed MariaDB 10.x", d.Name, d.Versions)
		}
	}
	if !names["mysql"] || !names["mariadb"] {
		t.Errorf("datastores = %v, want mysql and mariadb", names)
	}

	inst, err := instances.Create(ctx, sc, createOpts("shop-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if inst.Status != "BUILD" || inst.Flavor.ID != "1" || inst.Volume.Size != 1 || inst.Datastore.Type != "mysql" {
		t.Errorf("create returned %+v", inst)
	}
	// An action while BUILD is refused.
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
		t.Errorf("restart while BUILD: err = %v, want 422", err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if len(inst.IP) != 1 || inst.Hostname == "" || inst.Created.IsZero() || inst.Updated.IsZero() {
		t.Fatalf("active instance = %+v, want an address, created and updated", inst)
	}
	if inst.Volume.Used <= 0 {
		t.Errorf("volume.used = %v, want real usage > 0", inst.Volume.Used)
	}
	addr := inst.IP[0]

	// The user and database from the create body really exist.
	db := openDB(t, addr, "app", "app-pw-123", "shop")
	if _, err := db.ExecContext(ctx, "CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(20))"); err != nil {
		t.Fatalf("create table as the created user: %v", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO orders VALUES (1, 'apple'), (2, 'pear')"); err != nil {
		t.Fatal(err)
	}
	configured := h.rootSQL(t, inst.ID, "SELECT @@global.max_connections")
	h.rootSQL(t, inst.ID, "SET GLOBAL max_connections = 77")
	if got := h.rootSQL(t, inst.ID, "SELECT @@global.max_connections"); got != "77" {
		t.Fatalf("max_connections after SET GLOBAL = %s, want 77", got)
	}
	pidsBefore := enginePIDs(h.dataDir)

	// Restart: REBOOT, then ACTIVE; runtime settings gone, data intact.
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	got, err := instances.Get(ctx, sc, inst.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "REBOOT" && got.Status != "ACTIVE" {
		t.Errorf("status right after restart = %s, want REBOOT", got.Status)
	}
	// A second restart while the first runs is refused.
	if got.Status == "REBOOT" {
		if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
			t.Errorf("second restart during REBOOT: err = %v, want 422", err)
		}
	}
	after := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if after.IP[0] != addr {
		t.Errorf("address after restart = %s, want %s", after.IP[0], addr)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT @@global.max_connections"); got != configured {
		t.Errorf("max_connections after restart = %s, want configured %s", got, configured)
	}
	if pidsAfter := enginePIDs(h.dataDir); len(pidsAfter) != 1 || len(pidsBefore) != 1 || pidsAfter[0] == pidsBefore[0] {
		t.Errorf("engine pids before %v, after %v: want one engine, a new process", pidsBefore, pidsAfter)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders").Scan(&n); err != nil || n != 2 {
		t.Errorf("rows after restart = %d, %v; want 2", n, err)
	}

	// Rename.
	body := map[string]any{"instance": map[string]any{"name": "shop-db-2"}}
	if _, err := sc.Put(ctx, sc.ServiceURL("instances", inst.ID), body, nil, &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if got, _ := instances.Get(ctx, sc, inst.ID).Extract(); got == nil || got.Name != "shop-db-2" {
		t.Errorf("name after rename = %+v", got)
	}

	// Delete: 202, then 404, no process, no directory.
	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitGone(ctx, t, sc, inst.ID, time.Minute)
	if pids := enginePIDs(h.dataDir); len(pids) != 0 {
		t.Errorf("engine processes left after delete: %v", pids)
	}
	if _, err := os.Stat(h.dataDir + "/instances/" + inst.ID); !os.IsNotExist(err) {
		t.Errorf("instance directory left after delete: %v", err)
	}
}

// TestListPagination pages through instances with gophercloud, which
// follows instances_links.
func TestListPagination(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	want := map[string]bool{}
	for _, name := range []string{"p1", "p2", "p3"} {
		o := createOpts(name)
		o.Databases, o.Users = nil, nil
		inst, err := instances.Create(ctx, sc, o).Extract()
		if err != nil {
			t.Fatal(err)
		}
		want[inst.ID] = true
	}
	pages := 0
	seen := map[string]bool{}
	err := instances.List(sc).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		list, err := instances.ExtractInstances(p)
		for _, i := range list {
			seen[i.ID] = true
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Errorf("listed %d instances, want 3", len(seen))
	}
	// With limit=1 the client must follow next links over three pages.
	pages = 0
	pager := pagination.NewPager(sc, sc.ServiceURL("instances")+"?limit=1", func(r pagination.PageResult) pagination.Page {
		return instances.InstancePage{LinkedPageBase: pagination.LinkedPageBase{PageResult: r}}
	})
	err = pager.EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		return true, nil
	})
	if err != nil || pages != 3 {
		t.Errorf("pages with limit=1: %d, %v; want 3", pages, err)
	}
	for id := range want {
		waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
		if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
	}
	for id := range want {
		waitGone(ctx, t, sc, id, time.Minute)
	}
}
