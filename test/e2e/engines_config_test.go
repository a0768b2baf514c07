package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/configurations"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// engineShow reads a setting's value on an instance with the engine's own
// client (SHOW / CONFIG GET), as the created user.
type engineShow func(t *testing.T, addr, name string) string

func pgShow(t *testing.T, addr, name string) string {
	t.Helper()
	var v string
	c := pgConnect(t, addr, "app", "app-pw-123", "shop")
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), "SHOW "+name).Scan(&v); err != nil {
		t.Fatalf("SHOW %s: %v", name, err)
	}
	return v
}

func redisShow(t *testing.T, addr, name string) string {
	t.Helper()
	c := redisClient(t, addr, "app", "app-pw-123")
	defer c.Close()
	m, err := c.ConfigGet(context.Background(), name).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", name, err)
	}
	return m[name]
}

// engineOpts returns the create options of engineCases for datastore ds.
func engineOpts(t *testing.T, ds, name string) instances.CreateOpts {
	t.Helper()
	for _, ec := range engineCases {
		if ec.datastore == ds {
			o := ec.opts
			o.Name = name
			return o
		}
	}
	t.Fatalf("no engine case for %s", ds)
	return instances.CreateOpts{}
}

// waitSetting polls until show gives want (dynamic values apply within a
// moment of the API call), and returns the last value seen.
func waitSetting(t *testing.T, show engineShow, addr, name, want string) string {
	t.Helper()
	var got string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = show(t, addr, name)
		if got == want || time.Now().After(deadline) {
			return got
		}
		pollPause(50 * time.Millisecond)
	}
}

// configCase is one datastore's configuration group story.
type configCase struct {
	datastore string
	show      engineShow
	// typed is a parameter and the type the catalogue must give it;
	// restartOnly one that needs a restart ("" if the engine has none).
	typed, typedType, restartOnly string
	// first is attached; firstWant is what the engine shows then and
	// after a restart.
	first     map[string]any
	firstWant map[string]string
	// second replaces the values (PUT): secondNow shows at once,
	// secondAfter after the restart (RESTART_REQUIRED in between when
	// secondRestart).
	second        map[string]any
	secondRestart bool
	secondNow     map[string]string
	secondAfter   map[string]string
	// defaults are what the engine shows after detach and restart.
	defaults map[string]string
	// bad values get 422.
	bad []map[string]any
}

var configCases = []configCase{
	{
		datastore: "postgresql", show: pgShow,
		typed: "work_mem", typedType: "integer", restartOnly: "shared_buffers",
		first:         map[string]any{"work_mem": 8192, "statement_timeout": 5000, "jit": false},
		firstWant:     map[string]string{"work_mem": "8MB", "statement_timeout": "5s", "jit": "off"},
		second:        map[string]any{"work_mem": 16384, "shared_buffers": 8192},
		secondRestart: true,
		secondNow:     map[string]string{"work_mem": "16MB", "shared_buffers": "128MB"},
		secondAfter:   map[string]string{"work_mem": "16MB", "shared_buffers": "64MB", "statement_timeout": "0", "jit": "on"},
		defaults:      map[string]string{"work_mem": "4MB", "shared_buffers": "128MB"},
		bad:           []map[string]any{{"work_mem": 1}, {"data_directory": "/tmp"}, {"jit": "on"}, {"log_statement": "everything"}},
	},
	{
		datastore: "redis", show: redisShow,
		typed: "timeout", typedType: "integer",
		first:     map[string]any{"maxmemory-policy": "allkeys-lru", "timeout": 300, "lazyfree-lazy-eviction": true},
		firstWant: map[string]string{"maxmemory-policy": "allkeys-lru", "timeout": "300", "lazyfree-lazy-eviction": "yes"},
		// Every value stays in the group (a removed one needs a restart
		// to go back to the default): all apply at once, no restart.
		second:      map[string]any{"maxmemory-policy": "volatile-lfu", "timeout": 600, "lazyfree-lazy-eviction": false, "hz": 20},
		secondNow:   map[string]string{"maxmemory-policy": "volatile-lfu", "timeout": "600", "lazyfree-lazy-eviction": "no", "hz": "20"},
		secondAfter: map[string]string{"maxmemory-policy": "volatile-lfu", "timeout": "600", "lazyfree-lazy-eviction": "no", "hz": "20"},
		defaults:    map[string]string{"maxmemory-policy": "noeviction", "hz": "10"},
		bad:         []map[string]any{{"hz": 0}, {"dir": "/tmp"}, {"maxmemory": 1}, {"maxmemory-policy": "chaos"}},
	},
}

// TestConfigurationGroupsEngines runs the configuration group story of
// TestConfigurationGroups on PostgreSQL and Redis: catalogue types and
// restart flags, 422 for bad values, a group attached to a running
// instance in effect at once and after a restart, a PUT with a
// restart-only value (RESTART_REQUIRED, then applied by the restart), and
// the engine's defaults back after detach and restart.
func TestConfigurationGroupsEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	for _, cc := range configCases {
		t.Run(cc.datastore, func(t *testing.T) {
			inst, err := instances.Create(ctx, sc, engineOpts(t, cc.datastore, "cfg-"+cc.datastore)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			addr, version := inst.IP[0], inst.Datastore.Version
			check := func(when string, want map[string]string) {
				t.Helper()
				for k, v := range want {
					if got := waitSetting(t, cc.show, addr, k, v); got != v {
						t.Errorf("%s: %s = %q, want %q", when, k, got, v)
					}
				}
			}
			restart := func() {
				t.Helper()
				if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
					t.Fatalf("restart: %v", err)
				}
				waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			}

			p, err := configurations.GetDatastoreParam(ctx, sc, cc.datastore, version, cc.typed).Extract()
			if err != nil || p.Type != cc.typedType || p.RestartRequired {
				t.Errorf("parameter %s = %+v, %v; want %s, dynamic", cc.typed, p, err, cc.typedType)
			}
			if cc.restartOnly != "" {
				if p, err := configurations.GetDatastoreParam(ctx, sc, cc.datastore, version, cc.restartOnly).Extract(); err != nil || !p.RestartRequired {
					t.Errorf("parameter %s = %+v, %v; want restart_required", cc.restartOnly, p, err)
				}
			}
			ds := &configurations.DatastoreOpts{Type: cc.datastore, Version: version}
			for _, bad := range cc.bad {
				_, err := configurations.Create(ctx, sc, configurations.CreateOpts{Name: "bad", Values: bad, Datastore: ds}).Extract()
				if !gophercloud.ResponseCodeIs(err, 422) {
					t.Errorf("create with %v: %v, want 422", bad, err)
				}
			}

			cfg, err := configurations.Create(ctx, sc, configurations.CreateOpts{Name: "tuned-" + cc.datastore, Values: cc.first, Datastore: ds}).Extract()
			if err != nil {
				t.Fatalf("create group: %v", err)
			}
			if err := instances.AttachConfigurationGroup(ctx, sc, inst.ID, cfg.ID).ExtractErr(); err != nil {
				t.Fatalf("attach: %v", err)
			}
			waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			check("after attach", cc.firstWant)
			restart()
			check("after restart", cc.firstWant)

			if err := configurations.Replace(ctx, sc, cfg.ID, configurations.UpdateOpts{Values: cc.second}).ExtractErr(); err != nil {
				t.Fatalf("PUT: %v", err)
			}
			if cc.secondRestart {
				waitStatus(ctx, t, sc, inst.ID, "RESTART_REQUIRED", activeTimeout)
			} else if got, err := instances.Get(ctx, sc, inst.ID).Extract(); err != nil || got.Status != "ACTIVE" {
				t.Errorf("status after a dynamic-only PUT = %v, %v; want ACTIVE", got.Status, err)
			}
			check("after PUT", cc.secondNow)
			restart()
			check("after PUT and restart", cc.secondAfter)

			if err := instances.DetachConfigurationGroup(ctx, sc, inst.ID).ExtractErr(); err != nil {
				t.Fatalf("detach: %v", err)
			}
			waitStatus(ctx, t, sc, inst.ID, "RESTART_REQUIRED", activeTimeout)
			restart()
			check("after detach and restart", cc.defaults)

			if err := configurations.Delete(ctx, sc, cfg.ID).ExtractErr(); err != nil {
				t.Errorf("delete group: %v", err)
			}
			if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitGone(ctx, t, sc, inst.ID, activeTimeout)
		})
	}
}

// TestResizeEngines resizes the flavor of a PostgreSQL and a Redis
// instance: the engine restarts with the new flavor's memory setting
// (shared_buffers, maxmemory) through the generic restart-with-new-spec
// path, and the data is kept.
func TestResizeEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	for _, tt := range []struct {
		datastore, setting string
		show               engineShow
		before, after      string
		write              func(t *testing.T, addr string)
		kept               func(t *testing.T, addr string) string
	}{
		{
			datastore: "postgresql", setting: "shared_buffers", show: pgShow, before: "128MB", after: "256MB",
			write: func(t *testing.T, addr string) {
				c := pgConnect(t, addr, "app", "app-pw-123", "shop")
				if _, err := c.Exec(ctx, "CREATE TABLE kept AS SELECT 'before'::text AS v"); err != nil {
					t.Fatal(err)
				}
			},
			kept: func(t *testing.T, addr string) string {
				var v string
				c := pgConnect(t, addr, "app", "app-pw-123", "shop")
				if err := c.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil {
					return err.Error()
				}
				return v
			},
		},
		{
			datastore: "redis", setting: "maxmemory", show: redisShow, before: "268435456", after: "536870912",
			write: func(t *testing.T, addr string) {
				if err := redisClient(t, addr, "app", "app-pw-123").Set(ctx, "kept", "before", 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			kept: func(t *testing.T, addr string) string {
				v, err := redisClient(t, addr, "app", "app-pw-123").Get(ctx, "kept").Result()
				if err != nil {
					return err.Error()
				}
				return v
			},
		},
	} {
		t.Run(tt.datastore, func(t *testing.T) {
			inst, err := instances.Create(ctx, sc, engineOpts(t, tt.datastore, "resize-"+tt.datastore)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			addr := inst.IP[0]
			tt.write(t, addr)
			if got := tt.show(t, addr, tt.setting); got != tt.before {
				t.Errorf("%s with flavor 1 = %s, want %s", tt.setting, got, tt.before)
			}
			if err := instances.Resize(ctx, sc, inst.ID, "2").ExtractErr(); err != nil {
				t.Fatalf("resize: %v", err)
			}
			after := waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			if after.Flavor.ID != "2" {
				t.Errorf("flavor after resize = %s, want 2", after.Flavor.ID)
			}
			if got := tt.show(t, addr, tt.setting); got != tt.after {
				t.Errorf("%s with flavor 2 = %s, want %s", tt.setting, got, tt.after)
			}
			if got := tt.kept(t, addr); got != "before" {
				t.Errorf("data after resize = %q", got)
			}
			var eff struct {
				Instance struct {
					Configuration map[string]string `json:"configuration"`
				} `json:"instance"`
			}
			if _, err := sc.Get(ctx, sc.ServiceURL("instances", inst.ID, "configuration"), &eff, nil); err != nil {
				t.Error(err)
			} else if len(eff.Instance.Configuration) == 0 {
				t.Errorf("effective configuration is empty")
			}
			if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitGone(ctx, t, sc, inst.ID, activeTimeout)
		})
	}
}
