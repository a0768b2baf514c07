package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/fake"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/task"
)

// growingDriver is the fake driver with the VolumeResizer capability: it
// records the sizes asked for, and fails the first fails calls.
type growingDriver struct {
	*fake.Driver
	mu    sync.Mutex
	sizes []int
	fails int
}

var _ driver.VolumeResizer = (*growingDriver)(nil)

func (d *growingDriver) ResizeVolume(ctx context.Context, s driver.Spec) error {
	d.mu.Lock()
	d.sizes = append(d.sizes, s.VolumeGB)
	fail := d.fails > 0
	d.fails--
	d.mu.Unlock()
	if fail {
		return errors.New("grow interrupted")
	}
	return d.Start(ctx, s)
}

func (d *growingDriver) asked() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int(nil), d.sizes...)
}

// newEnvWith is newEnv on driver drv.
func newEnvWith(t *testing.T, drv driver.Driver) *env {
	t.Helper()
	return newEnvConfig(t, drv, nil)
}

// newEnvConfig is newEnv on driver drv, with mod applied to the service's
// configuration (if not nil).
func newEnvConfig(t *testing.T, drv driver.Driver, mod func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, sealer := tempStore(t)
	eng := &fakeEngine{}
	runner := task.New(st, task.Config{
		Workers: 2, PollInterval: 10 * time.Millisecond, MaxAttempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	cfg := Config{
		DefaultDatastore: "mysql",
		Store:            st, Driver: drv, Engines: map[string]datastore.Engine{"fakedb": eng}, Sealer: sealer,
		Notify: runner.Notify, Addresses: []string{"127.0.9.1", "127.0.9.2", "127.0.9.3"},
		MaxVolumeGB: 10, MaxInstances: 3, ReadyTimeout: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	svc := New(cfg)
	if err := svc.SeedCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range svc.Definitions() {
		runner.Register(d)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{svc: svc, st: st, eng: eng}
}

func TestResizeVolumeGrowsThroughDriver(t *testing.T) {
	tests := []struct {
		name  string
		fails int // failed grow attempts before one succeeds (MaxAttempts is 2)
		want  []int
	}{
		{"first try", 0, []int{3}},
		{"retried after a failure", 1, []int{3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drv := &growingDriver{Driver: fake.New(), fails: tt.fails}
			e := newEnvWith(t, drv)
			ctx := context.Background()
			d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
			if err != nil {
				t.Fatal(err)
			}
			e.waitStatus(t, d.ID, model.StatusActive)
			if err := e.svc.ResizeVolume(ctx, "t1", d.ID, 3); err != nil {
				t.Fatal(err)
			}
			got := e.waitStatus(t, d.ID, model.StatusActive)
			if got.VolumeSize != 3 {
				t.Errorf("volume size = %d, want 3", got.VolumeSize)
			}
			if a := drv.asked(); len(a) != len(tt.want) || a[0] != 3 {
				t.Errorf("driver asked to grow to %v, want %v", a, tt.want)
			}
			if !drv.Running(d.ID) {
				t.Error("engine not running after the grow")
			}
		})
	}
}

// TestResizeVolumeWithoutCapability: a driver that cannot grow volumes
// only gets the size recorded.
func TestResizeVolumeWithoutCapability(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, d.ID, model.StatusActive)
	starts := e.drv.Starts[d.ID]
	if err := e.svc.ResizeVolume(ctx, "t1", d.ID, 2); err != nil {
		t.Fatal(err)
	}
	if got := e.waitStatus(t, d.ID, model.StatusActive); got.VolumeSize != 2 {
		t.Errorf("volume size = %d, want 2", got.VolumeSize)
	}
	if e.drv.Starts[d.ID] != starts {
		t.Error("the engine was restarted for a size that is only recorded")
	}
}

// TestResizeVolumeChecksInTroveOrder: above the maximum is 413 first, then
// the gate (422) comes before the size must grow (400), so that a volume
// resize during REBOOT or RESIZE is 422 whatever the size.
func TestResizeVolumeChecksInTroveOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status model.InstanceStatus
		size   int
		want   fault.Kind
	}{
		{model.StatusActive, 1, fault.Invalid},
		{model.StatusReboot, 1, fault.Unprocessable},
		{model.StatusResize, 1, fault.Unprocessable},
		{model.StatusReboot, 2, fault.Unprocessable},
		{model.StatusBuild, 2, fault.Unprocessable},
		{model.StatusReboot, 11, fault.OverLimit},
		{model.StatusActive, 11, fault.OverLimit},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.status, tt.size), func(t *testing.T) {
			t.Parallel()
			s, _, ids := newTestService(t, tt.status)
			err := s.ResizeVolume(t.Context(), "t1", ids["mem"], tt.size)
			if got := fault.KindOf(err); got != tt.want {
				t.Errorf("ResizeVolume(%s instance of 1 GB, %d) = %v (%v), want %v", tt.status, tt.size, err, got, tt.want)
			}
		})
	}
}
