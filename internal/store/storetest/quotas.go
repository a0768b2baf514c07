package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// wantQuotaError checks that err is a *store.QuotaError for exactly the
// resources of want.
func wantQuotaError(t *testing.T, what string, err error, want ...model.QuotaResource) {
	t.Helper()
	var qe *store.QuotaError
	if !errors.As(err, &qe) {
		t.Errorf("%s = %v, want a *store.QuotaError for %v", what, err, want)
		return
	}
	if !slices.Equal(qe.Exceeded, want) {
		t.Errorf("%s exceeded %v, want %v", what, qe.Exceeded, want)
	}
}

// testProjectQuotas: recorded limits are per project and per resource,
// replaced one by one; usage counts instances (replicas too), volume GB,
// replicas and backups of the project only; AllProjectQuotas lists every
// recorded limit.
func testProjectQuotas(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ProjectQuotas(ctx, "p1")
	noErr(t, "ProjectQuotas(none)", err)
	if got == nil || len(got) != 0 {
		t.Errorf("ProjectQuotas(none) = %#v, want empty, not nil", got)
	}
	noErr(t, "SetProjectQuotas", s.SetProjectQuotas(ctx, "p1", model.QuotaLimits{model.QuotaInstances: 3, model.QuotaBackups: -1}))
	noErr(t, "SetProjectQuotas", s.SetProjectQuotas(ctx, "p1", model.QuotaLimits{model.QuotaInstances: 4, model.QuotaVolumes: 0}))
	noErr(t, "SetProjectQuotas", s.SetProjectQuotas(ctx, "p2", model.QuotaLimits{model.QuotaReplicas: 1}))
	got, err = s.ProjectQuotas(ctx, "p1")
	noErr(t, "ProjectQuotas", err)
	diff(t, "ProjectQuotas(p1)", got, model.QuotaLimits{model.QuotaInstances: 4, model.QuotaBackups: -1, model.QuotaVolumes: 0})
	all, err := s.AllProjectQuotas(ctx)
	noErr(t, "AllProjectQuotas", err)
	diff(t, "AllProjectQuotas", all, map[string]model.QuotaLimits{
		"p1": {model.QuotaInstances: 4, model.QuotaBackups: -1, model.QuotaVolumes: 0},
		"p2": {model.QuotaReplicas: 1},
	})

	u, err := s.QuotaUsage(ctx, "p1")
	noErr(t, "QuotaUsage(empty)", err)
	diff(t, "QuotaUsage(empty)", u, model.QuotaUsage{model.QuotaInstances: 0, model.QuotaVolumes: 0, model.QuotaBackups: 0, model.QuotaReplicas: 0})
	src := newInstance("p1", "src", model.StatusActive) // 5 GB
	mustCreate(t, s, src, nil)
	r := newInstance("p1", "r1", model.StatusBuild)
	r.ReplicaOf, r.VolumeSize = "src", 7
	mustCreate(t, s, r, nil)
	mustCreate(t, s, newInstance("p2", "other", model.StatusActive), nil)
	noErr(t, "StartBackup", s.StartBackup(ctx, newBackup("p1", "bk-1", "src", t0), []model.InstanceStatus{model.StatusActive},
		model.StatusBackup, newTask("task-bk", "src", model.TaskBackup, t0), nil))
	u, err = s.QuotaUsage(ctx, "p1")
	noErr(t, "QuotaUsage", err)
	diff(t, "QuotaUsage", u, model.QuotaUsage{model.QuotaInstances: 2, model.QuotaVolumes: 12, model.QuotaBackups: 1, model.QuotaReplicas: 1})
}

// testQuotaWrites: each write that adds to a project's usage is refused
// with a *store.QuotaError, and writes nothing, when it would exceed a
// limit (the project's own, else the default); it goes through at the
// limit, with no quota (nil) and for a resource it does not add to.
func testQuotaWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	q := &store.Quota{Defaults: model.QuotaLimits{model.QuotaInstances: 3, model.QuotaVolumes: 12, model.QuotaBackups: 1, model.QuotaReplicas: -1}}
	create := func(id string, size int) error {
		inst := newInstance("p", id, model.StatusActive)
		inst.VolumeSize = size
		return s.CreateInstance(ctx, inst, nil, q)
	}
	noErr(t, "create a (5 GB)", create("a", 5))
	noErr(t, "create b (5 GB)", create("b", 5))
	wantQuotaError(t, "create c (5 GB, 15 > 12)", create("c", 5), model.QuotaVolumes)
	if _, err := s.GetInstance(ctx, "", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused instance c was stored: %v", err)
	}
	noErr(t, "create c (2 GB, at the volume limit)", create("c", 2))
	wantQuotaError(t, "create d (4 instances, 13 GB)", create("d", 1), model.QuotaInstances, model.QuotaVolumes)
	noErr(t, "create d without a quota", s.CreateInstance(ctx, newInstance("p", "d", model.StatusActive), nil, nil))

	// The project's own limits replace the defaults; a lowered one refuses
	// new writes but leaves what exists.
	noErr(t, "SetProjectQuotas", s.SetProjectQuotas(ctx, "p", model.QuotaLimits{model.QuotaInstances: 10, model.QuotaVolumes: -1, model.QuotaReplicas: 1}))
	noErr(t, "create e (own limits)", create("e", 50))
	r := func(id string) *model.Instance {
		inst := newInstance("p", id, model.StatusBuild)
		inst.ReplicaOf, inst.VolumeSize = "a", 5
		return inst
	}
	noErr(t, "CreateReplica r1", s.CreateReplica(ctx, r("r1"), newTask("task-r1", "r1", model.TaskReplicaCreate, t0), model.ActionAllowedStatuses, 0, nil, q))
	wantQuotaError(t, "CreateReplica r2 (1 replica)", s.CreateReplica(ctx, r("r2"), newTask("task-r2", "r2", model.TaskReplicaCreate, t0),
		model.ActionAllowedStatuses, 0, nil, q), model.QuotaReplicas)
	if _, err := s.ActiveTask(ctx, "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused replica r2 has a task: %v", err)
	}
	wantQuotaError(t, "CreateInstance of a replica (1 replica)", s.CreateInstance(ctx, r("r3"), nil, q), model.QuotaReplicas)

	// Backups: the default of 1.
	backup := func(id string) error {
		return s.StartBackup(ctx, newBackup("p", id, "b", t0), []model.InstanceStatus{model.StatusActive}, model.StatusBackup,
			newTask("task-"+id, "b", model.TaskBackup, t0), q)
	}
	noErr(t, "backup 1", backup("bk-1"))
	_, err := s.UpdateInstance(ctx, "b", func(i *model.Instance) error { i.Status = model.StatusActive; return nil })
	noErr(t, "UpdateInstance", err)
	noErr(t, "finish backup task", finishAny(t, s, "task-bk-1"))
	wantQuotaError(t, "backup 2 (1 backup)", backup("bk-2"), model.QuotaBackups)
	if inst, err := s.GetInstance(ctx, "", "b"); err != nil || inst.Status != model.StatusActive {
		t.Errorf("instance b after a refused backup = %+v, %v; want ACTIVE", inst, err)
	}

	// A volume resize records the new size within the volume limit.
	noErr(t, "SetProjectQuotas", s.SetProjectQuotas(ctx, "p", model.QuotaLimits{model.QuotaVolumes: 100}))
	u, err := s.QuotaUsage(ctx, "p")
	noErr(t, "QuotaUsage", err)
	room := 100 - u[model.QuotaVolumes]
	_, err = s.StartVolumeResize(ctx, "p", "c", 2+room+1, model.ActionAllowedStatuses, model.StatusResize,
		newTask("task-grow-1", "c", model.TaskResizeVolume, t0), t0, q)
	wantQuotaError(t, "StartVolumeResize over the limit", err, model.QuotaVolumes)
	if _, err := s.ActiveTask(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused resize has a task: %v", err)
	}
	got, err := s.StartVolumeResize(ctx, "p", "c", 2+room, model.ActionAllowedStatuses, model.StatusResize,
		newTask("task-grow-2", "c", model.TaskResizeVolume, t0), t0, q)
	noErr(t, "StartVolumeResize to the limit", err)
	if got.VolumeSize != 2+room || got.Status != model.StatusResize {
		t.Errorf("StartVolumeResize = size %d, status %s; want %d, RESIZE", got.VolumeSize, got.Status, 2+room)
	}
	inst, err := s.GetInstance(ctx, "p", "c")
	noErr(t, "GetInstance", err)
	if inst.VolumeSize != 2+room || inst.Status != model.StatusResize {
		t.Errorf("resized instance = size %d, status %s; want %d, RESIZE", inst.VolumeSize, inst.Status, 2+room)
	}
	// Its gate is StartAction's.
	_, err = s.StartVolumeResize(ctx, "p", "c", 2+room, model.ActionAllowedStatuses, model.StatusResize,
		newTask("task-grow-3", "c", model.TaskResizeVolume, t0), t0, q)
	wantStateError(t, "StartVolumeResize while resizing", err, model.StatusResize)
	_, err = s.StartVolumeResize(ctx, "other", "c", 200, model.ActionAllowedStatuses, model.StatusResize,
		newTask("task-grow-4", "c", model.TaskResizeVolume, t0), t0, q)
	wantErr(t, "StartVolumeResize of another tenant's instance", err, store.ErrNotFound)
}

// testQuotaConcurrent: n creates racing for a quota of limit instances
// (some as replicas of one source) and for limit backups: exactly limit
// of each succeed, every other one gets a *store.QuotaError.
func testQuotaConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, limit = 16, 5
	q := &store.Quota{Defaults: model.QuotaLimits{model.QuotaInstances: limit + 1, model.QuotaBackups: limit}}
	mustCreate(t, s, newInstance("p", "src", model.StatusActive), nil) // 1 of limit+1
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			inst := newInstance("p", fmt.Sprintf("i-%02d", i), model.StatusBuild)
			tk := newTask("task-"+inst.ID, inst.ID, model.TaskCreate, t0)
			if i%2 == 0 {
				errs[i] = s.CreateInstance(ctx, inst, tk, q)
				return
			}
			inst.ReplicaOf = "src"
			tk.Kind = model.TaskReplicaCreate
			errs[i] = s.CreateReplica(ctx, inst, tk, model.ActionAllowedStatuses, 0, nil, q)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		var qe *store.QuotaError
		switch {
		case err == nil:
			won++
		case errors.As(err, &qe):
		default:
			t.Errorf("create %d: unexpected error %v", i, err)
		}
	}
	if won != limit {
		t.Errorf("%d of %d concurrent creates succeeded against room for %d", won, n, limit)
	}
	u, err := s.QuotaUsage(ctx, "p")
	noErr(t, "QuotaUsage", err)
	if u[model.QuotaInstances] != limit+1 {
		t.Errorf("instances after the race = %d, want %d", u[model.QuotaInstances], limit+1)
	}

	// Backups, one instance each (the gate allows one backup per instance).
	errs = make([]error, n)
	start = make(chan struct{})
	for i := range n {
		id := fmt.Sprintf("b-%02d", i)
		mustCreate(t, s, newInstance("pb", id, model.StatusActive), nil)
		wg.Go(func() {
			<-start
			errs[i] = s.StartBackup(ctx, newBackup("pb", "bk-"+id, id, t0), []model.InstanceStatus{model.StatusActive},
				model.StatusBackup, newTask("task-bk-"+id, id, model.TaskBackup, t0), q)
		})
	}
	close(start)
	wg.Wait()
	won = 0
	for i, err := range errs {
		var qe *store.QuotaError
		switch {
		case err == nil:
			won++
		case errors.As(err, &qe):
		default:
			t.Errorf("backup %d: unexpected error %v", i, err)
		}
	}
	if won != limit {
		t.Errorf("%d of %d concurrent backups succeeded against a quota of %d", won, n, limit)
	}
}
