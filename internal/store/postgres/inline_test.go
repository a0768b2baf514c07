package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/store/storetest"
)

func TestInlineConformance(t *testing.T) {
	storetest.RunInline(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestReplicasInlineGate races inline leases and engine actions from two
// replicas (two pools on one database): exactly one is granted.
func TestReplicasInlineGate(t *testing.T) {
	dsn := pgtest.DSN(t)
	stores := []*Store{openDSN(t, dsn), openDSN(t, dsn)}
	ctx := t.Context()
	if err := stores[0].CreateInstance(ctx, &model.Instance{ID: "i", TenantID: "t", Name: "i", Status: model.StatusActive}, nil, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	allowed := []model.InstanceStatus{model.StatusActive}
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			s := stores[i%2]
			if i%4 < 2 {
				_, errs[i] = s.AcquireInline(ctx, "t", "i", allowed, fmt.Sprintf("h%d", i), now, time.Minute)
				return
			}
			task := &model.Task{ID: fmt.Sprintf("task-%d", i), Kind: model.TaskRestart}
			_, errs[i] = s.StartAction(ctx, "t", "i", allowed, model.StatusReboot, task, now)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		var se *store.StateError
		switch {
		case err == nil:
			won++
		case errors.As(err, &se), errors.Is(err, store.ErrBusy):
		default:
			t.Errorf("call %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d leases and actions were granted, want 1", won, n)
	}
}
