package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/configurations"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestConfigurationGroups drives configuration groups through gophercloud
// (acceptance-style CRUD, PATCH of name and description visible in the
// next GET) and checks on the real engine that values are in effect
// before and after restarts, with the RESTART_REQUIRED cycle.
func TestConfigurationGroups(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)

	inst, err := instances.Create(ctx, sc, createOpts("cfg-db")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	version := inst.Datastore.Version

	// The catalogue, in both URL forms.
	pp, err := configurations.ListDatastoreParams(sc, "mysql", version).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	params, err := configurations.ExtractParams(pp)
	if err != nil {
		t.Fatal(err)
	}
	if len(params) < 40 {
		t.Errorf("%d parameters, want at least 40", len(params))
	}
	mc, err := configurations.GetDatastoreParam(ctx, sc, "mysql", version, "max_connections").Extract()
	if err != nil || mc.Type != "integer" || mc.RestartRequired || mc.Min != 10 {
		t.Errorf("max_connections = %+v, %v", mc, err)
	}
	var versionID string

	// Validation: 422 naming the parameter.
	for _, bad := range []map[string]any{
		{"no_such_param": 1},
		{"max_connections": "77"},
		{"max_connections": 1},
		{"slow_query_log": "ON"},
		{"tx_isolation": "CHAOS"},
	} {
		_, err := configurations.Create(ctx, sc, configurations.CreateOpts{Name: "bad", Values: bad, Datastore: &configurations.DatastoreOpts{Type: "mysql", Version: version}}).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
			t.Errorf("create with %v: err = %v, want 422", bad, err)
		}
	}

	cfg, err := configurations.Create(ctx, sc, configurations.CreateOpts{
		Name: "tuned", Description: "first",
		Datastore: &configurations.DatastoreOpts{Type: "mysql", Version: version},
		Values:    map[string]any{"max_connections": 77, "slow_query_log": true, "long_query_time": 2.5},
	}).Extract()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	versionID = cfg.DatastoreVersionID
	if cfg.Values["max_connections"] != float64(77) || cfg.Values["slow_query_log"] != true || cfg.DatastoreName != "mysql" || cfg.Created.IsZero() {
		t.Errorf("created = %+v", cfg)
	}
	ft, err := configurations.GetGlobalParam(ctx, sc, versionID, "ft_min_word_len").Extract()
	if err != nil || !ft.RestartRequired {
		t.Errorf("ft_min_word_len = %+v, %v; want restart_required", ft, err)
	}
	second := "second"
	if err := configurations.Update(ctx, sc, cfg.ID, configurations.UpdateOpts{Name: "tuned-2", Description: &second}).ExtractErr(); err != nil {
		t.Fatalf("PATCH: %v", err)
	}
	got, err := configurations.Get(ctx, sc, cfg.ID).Extract()
	if err != nil || got.Name != "tuned-2" || got.Description != "second" || got.Values["max_connections"] != float64(77) {
		t.Errorf("after PATCH: %+v, %v", got, err)
	}
	lp, err := configurations.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := configurations.ExtractConfigs(lp); len(all) != 1 {
		t.Errorf("list = %+v", all)
	}

	// Attach: dynamic values at once, status stays ACTIVE.
	if err := instances.AttachConfigurationGroup(ctx, sc, inst.ID, cfg.ID).ExtractErr(); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if got := h.rootSQL(t, inst.ID, "SELECT CONCAT(@@global.max_connections, ' ', @@global.slow_query_log, ' ', @@global.long_query_time)"); got != "77 ON 2.500000" {
		t.Errorf("after attach: %q", got)
	}
	st := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	_ = st
	var detail struct {
		Instance struct {
			Configuration struct{ ID, Name string } `json:"configuration"`
		} `json:"instance"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", inst.ID), &detail, nil); err != nil {
		t.Fatal(err)
	}
	if detail.Instance.Configuration.ID != cfg.ID || detail.Instance.Configuration.Name != "tuned-2" {
		t.Errorf("detail configuration = %+v", detail.Instance.Configuration)
	}
	var eff struct {
		Instance struct {
			Configuration map[string]string `json:"configuration"`
		} `json:"instance"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", inst.ID, "configuration"), &eff, nil); err != nil {
		t.Fatal(err)
	}
	if c := eff.Instance.Configuration; c["max_connections"] != "77" || c["innodb_buffer_pool_size"] != "256M" {
		t.Errorf("effective configuration = %v", c)
	}
	ip, err := configurations.ListInstances(sc, cfg.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if is, _ := instances.ExtractInstances(ip); len(is) != 1 || is[0].ID != inst.ID {
		t.Errorf("group instances = %+v", is)
	}
	if err := configurations.Delete(ctx, sc, cfg.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("delete while attached: %v, want 400", err)
	}
	if err := instances.AttachConfigurationGroup(ctx, sc, inst.ID, cfg.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("second attach: %v, want 400", err)
	}

	// PUT with a restart-only value: RESTART_REQUIRED; the dynamic value at
	// once; the restart applies the rest, and a SET GLOBAL outside the
	// group is gone.
	h.rootSQL(t, inst.ID, "SET GLOBAL wait_timeout = 123")
	if err := configurations.Replace(ctx, sc, cfg.ID, configurations.UpdateOpts{Values: map[string]any{"max_connections": 88, "ft_min_word_len": 3}}).ExtractErr(); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	waitStatus(ctx, t, sc, inst.ID, "RESTART_REQUIRED", activeTimeout)
	if got := h.rootSQL(t, inst.ID, "SELECT @@global.max_connections"); got != "88" {
		t.Errorf("max_connections after PUT = %s, want 88", got)
	}
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if got := h.rootSQL(t, inst.ID, "SELECT CONCAT(@@global.max_connections, ' ', @@global.ft_min_word_len, ' ', @@global.wait_timeout, ' ', @@global.slow_query_log)"); got != "88 3 28800 OFF" {
		t.Errorf("after restart: %q, want group values, wait_timeout back to 28800, slow_query_log dropped by PUT", got)
	}

	// Detach: RESTART_REQUIRED until the next restart.
	if err := instances.DetachConfigurationGroup(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	waitStatus(ctx, t, sc, inst.ID, "RESTART_REQUIRED", activeTimeout)
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if got := h.rootSQL(t, inst.ID, "SELECT CONCAT(@@global.max_connections, ' ', @@global.ft_min_word_len)"); got != "100 4" {
		t.Errorf("after detach and restart: %q, want the defaults", got)
	}

	if err := configurations.Delete(ctx, sc, cfg.ID).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := configurations.Get(ctx, sc, cfg.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("get after delete: %v, want 404", err)
	}
	if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, inst.ID, activeTimeout)
}
