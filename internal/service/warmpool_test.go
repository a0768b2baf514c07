package service

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/driver/fake"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

func TestParseWarmPool(t *testing.T) {
	tests := []struct {
		in      string
		want    WarmPool
		wantErr bool
	}{
		{"mysql:10.11=2", WarmPool{Datastore: "mysql", Version: "10.11", Size: 2}, false},
		{"postgresql=1", WarmPool{Datastore: "postgresql", Size: 1}, false},
		{"redis:7.0=0", WarmPool{Datastore: "redis", Version: "7.0", Size: 0}, false},
		{"mysql=3,flavor=2,volume=5", WarmPool{Datastore: "mysql", Size: 3, Flavor: 2, VolumeGB: 5}, false},
		{"mysql=3,volume=5,flavor=2", WarmPool{Datastore: "mysql", Size: 3, Flavor: 2, VolumeGB: 5}, false},
		{"mysql", WarmPool{}, true},
		{"=2", WarmPool{}, true},
		{":10.11=2", WarmPool{}, true},
		{"mysql:10:11=2", WarmPool{}, true},
		{"mysql=-1", WarmPool{}, true},
		{"mysql=101", WarmPool{}, true},
		{"mysql=two", WarmPool{}, true},
		{"mysql=1,flavor=0", WarmPool{}, true},
		{"mysql=1,flavor=x", WarmPool{}, true},
		{"mysql=1,size=2", WarmPool{}, true},
		{"mysql=1,flavor=2,flavor=3", WarmPool{}, true},
		{"mysql=1,", WarmPool{}, true},
	}
	for _, tt := range tests {
		got, err := ParseWarmPool(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseWarmPool(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseWarmPool(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil {
			again, err := ParseWarmPool(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("ParseWarmPool(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		}
	}
}

// warmIDs returns the pool's ACTIVE instances' ids.
func warmIDs(t *testing.T, st store.Store) []string {
	t.Helper()
	list, err := st.ListInstances(context.Background(), WarmPoolTenant, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inst := range list {
		if inst.Status == model.StatusActive {
			ids = append(ids, inst.ID)
		}
	}
	return ids
}

// waitWarm waits until the pool has n ready instances and RunWarmPool has
// counted them, and returns their ids.
func waitWarm(t *testing.T, e *env, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids := warmIDs(t, e.st)
		c := e.svc.WarmPoolCounts()
		if len(ids) == n && len(c) == 1 && c[0].Ready == n {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("warm pool: %d ready instances, counts %+v; want %d", len(ids), c, n)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func TestWarmPool(t *testing.T) {
	drv := fake.New()
	e := newEnvConfig(t, drv, func(c *Config) {
		c.WarmPool = []WarmPool{{Datastore: "mysql", Size: 1, Flavor: 1, VolumeGB: 1}}
		c.Addresses = []string{"127.0.9.1", "127.0.9.2", "127.0.9.3", "127.0.9.4", "127.0.9.5", "127.0.9.6"}
		c.MaxInstances = 2
	})
	e.drv = drv
	ctx := context.Background()
	if err := e.svc.CheckWarmPool(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.svc.RunWarmPool(runCtx, 20*time.Millisecond); close(done) }()
	stopPool := sync.OnceFunc(func() { stop(); <-done })
	defer stopPool()

	pool := waitWarm(t, e, 1)
	if c := e.svc.WarmPoolCounts()[0]; c.Target != 1 || c.Datastore != "mysql" || c.FlavorID != 1 || c.VolumeGB != 1 {
		t.Errorf("counts %+v", c)
	}
	bootsBefore := e.eng.boots

	// A matching create takes the pool's instance, makes its databases
	// and users, and the pool refills.
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != pool[0] || d.TenantID != "t1" || d.Name != "db1" || d.Status != model.StatusBuild {
		t.Errorf("create gave %s of %s (%s, %s), want the pool's %s, t1's, db1, BUILD", d.ID, d.TenantID, d.Name, d.Status, pool[0])
	}
	got := e.waitStatus(t, d.ID, model.StatusActive)
	if got.TenantID != "t1" || got.Address == "" {
		t.Errorf("adopted instance: %+v", got.Instance)
	}
	if len(e.eng.dbs) != 1 || len(e.eng.users) != 1 || e.eng.users[0].Password != "pw-1" {
		t.Errorf("engine got dbs %v users %v", e.eng.dbs, e.eng.users)
	}
	if !e.drv.Running(d.ID) {
		t.Error("adopted instance's engine does not run")
	}
	refilled := waitWarm(t, e, 1)
	if refilled[0] == d.ID {
		t.Error("the pool still holds the adopted instance")
	}
	if e.eng.boots < bootsBefore+1 {
		t.Errorf("bootstraps %d → %d: the refill did not create an instance", bootsBefore, e.eng.boots)
	}
	if _, err := e.svc.GetInstance(ctx, WarmPoolTenant, d.ID); !errors.Is(err, errNotFound) && fault.KindOf(err) != fault.NotFound {
		t.Errorf("the pool's tenant still sees the adopted instance: %v", err)
	}

	// Creates that need something the pool's instance lacks do not take it.
	for name, mod := range map[string]func(*CreateInstanceRequest){
		"other volume size": func(r *CreateInstanceRequest) { r.VolumeSize = 2 },
		"other flavor":      func(r *CreateInstanceRequest) { r.FlavorRef = "2" },
	} {
		r := basicRequest()
		mod(&r)
		d, err := e.svc.CreateInstance(ctx, "t2", r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.ID == refilled[0] {
			t.Errorf("%s: the create took the pool's instance", name)
		}
	}

	// Over quota (2 instances; t1 has the adopted one and makes another
	// that the pool has nothing for): the pool's instance stays.
	other := basicRequest()
	other.VolumeSize = 2
	if _, err := e.svc.CreateInstance(ctx, "t1", other); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateInstance(ctx, "t1", basicRequest())
	if fault.KindOf(err) != fault.OverLimit {
		t.Errorf("create over quota: %v, want overLimit", err)
	}
	if _, err := e.st.GetInstance(ctx, WarmPoolTenant, refilled[0]); err != nil {
		t.Errorf("a create refused for its quota took the pool's instance: %v", err)
	}

	// The reserved project cannot create.
	replica := CreateInstanceRequest{Name: "r", ReplicaOf: refilled[0]}
	for name, r := range map[string]CreateInstanceRequest{"instance": basicRequest(), "replica of a pool instance": replica} {
		if _, err := e.svc.CreateInstance(ctx, WarmPoolTenant, r); fault.KindOf(err) != fault.Forbidden {
			t.Errorf("create of a %s in the pool's project: %v, want forbidden", name, err)
		}
	}

	// Without --warm-pool, the pool's instances are deleted; tenants' stay.
	stopPool()
	e.svc.cfg.WarmPool = nil
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e.svc.RunWarmPool(rctx, 10*time.Millisecond)
	if rctx.Err() != nil {
		t.Fatal("RunWarmPool did not empty the pool")
	}
	if n, err := e.st.CountInstances(ctx, WarmPoolTenant); err != nil || n != 0 {
		t.Errorf("pool instances left: %d, %v", n, err)
	}
	if _, err := e.st.GetInstance(ctx, "t1", d.ID); err != nil {
		t.Errorf("the adopted instance went with the pool: %v", err)
	}
}

// TestWarmPoolBacksOff: a pool instance that fails is deleted, and the
// entry is not refilled at once while its instances keep failing.
func TestWarmPoolBacksOff(t *testing.T) {
	drv := fake.New()
	e := newEnvConfig(t, drv, func(c *Config) {
		c.WarmPool = []WarmPool{{Datastore: "mysql", Size: 1, Flavor: 1, VolumeGB: 1}}
	})
	ctx := context.Background()
	e.eng.setPing(errors.New("engine never answers"))
	if _, err := e.svc.warmRound(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := e.st.ListInstances(ctx, WarmPoolTenant, store.Page{})
	if err != nil || len(list) != 1 {
		t.Fatalf("pool instances after the first round: %d, %v; want 1", len(list), err)
	}
	failed := e.waitStatus(t, list[0].ID, model.StatusError)
	if _, err := e.svc.warmRound(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.st.GetInstance(ctx, "", failed.ID)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed pool instance was not deleted: %v", err)
		}
		<-time.After(5 * time.Millisecond)
	}
	if _, err := e.svc.warmRound(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.CountInstances(ctx, WarmPoolTenant); err != nil || n != 0 {
		t.Errorf("pool instances right after a failure: %d, %v; want 0 (backing off)", n, err)
	}
}
