package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// TestQuotaRefusals: each write that adds to a project's usage is 413
// overLimit naming the quota, with Trove's message, and leaves nothing
// behind, when it would exceed the project's limit (its own, else the
// default); the same write fits once the limit is raised.
func TestQuotaRefusals(t *testing.T) {
	e := newBackupEnv(t, 0) // defaults: 4 instances, 50 backups
	ctx := context.Background()
	if err := e.st.CreateProject(ctx, model.Project{ID: "t1", Name: "t1"}); err != nil {
		t.Fatal(err)
	}
	set := func(l model.QuotaLimits) {
		t.Helper()
		if _, err := e.svc.UpdateQuotas(ctx, "t1", l); err != nil {
			t.Fatal(err)
		}
	}
	set(model.QuotaLimits{model.QuotaVolumes: 3, model.QuotaReplicas: 1, model.QuotaBackups: 1})
	src := e.active(t, basicRequest()) // 1 GB

	tests := []struct {
		name string
		do   func() error
		msg  string // of the 413
		fit  model.QuotaLimits
	}{
		{"create over the volume quota", func() error {
			r := basicRequest()
			r.VolumeSize = 3
			_, err := e.svc.CreateInstance(ctx, "t1", r)
			return err
		}, "Quota exceeded for resources: ['volumes']. volumes: limit 3 GB, in use 1 GB, requested 3 GB.", model.QuotaLimits{model.QuotaVolumes: 4}},
		{"volume resize over the volume quota", func() error {
			return e.svc.ResizeVolume(ctx, "t1", src, 3)
		}, "Quota exceeded for resources: ['volumes']. volumes: limit 4 GB, in use 4 GB, requested 2 GB.", model.QuotaLimits{model.QuotaVolumes: 6}},
		{"replicas over the replica quota", func() error {
			_, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "r", ReplicaOf: src, ReplicaCount: 2})
			return err
		}, "Quota exceeded for resources: ['replicas', 'volumes'].", model.QuotaLimits{model.QuotaReplicas: 2, model.QuotaVolumes: -1}},
		{"create over the instance quota", func() error {
			_, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
			return err
		}, "Quota exceeded for resources: ['instances']. instances: limit 4, in use 4, requested 1.", model.QuotaLimits{model.QuotaInstances: 5}},
		{"backups over the backup quota", func() error {
			_, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b2", InstanceID: src})
			return err
		}, "Quota exceeded for resources: ['backups'].", model.QuotaLimits{model.QuotaBackups: 2}},
	}
	// One backup, in the quota of 1.
	b, err := e.svc.CreateBackup(ctx, "t1", CreateBackupRequest{Name: "b", InstanceID: src})
	if err != nil {
		t.Fatal(err)
	}
	e.waitBackup(t, b.ID, model.BackupCompleted)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			(&env{svc: e.svc, st: e.st}).waitStatus(t, src, model.StatusActive)
			before, err := e.st.QuotaUsage(ctx, "t1")
			if err != nil {
				t.Fatal(err)
			}
			err = tt.do()
			if !fault.Is(err, fault.OverLimit) || !strings.HasPrefix(fault.Message(err), tt.msg) {
				t.Fatalf("= %v (%v), want 413 %q", err, fault.KindOf(err), tt.msg)
			}
			if after, _ := e.st.QuotaUsage(ctx, "t1"); !cmp.Equal(after, before) {
				t.Errorf("a refused write changed the usage from %v to %v", before, after)
			}
			set(tt.fit)
			if err := tt.do(); err != nil {
				t.Errorf("with %v: %v, want accepted", tt.fit, err)
			}
		})
	}
	d, err := e.svc.GetInstance(ctx, "t1", src)
	if err != nil || d.VolumeSize != 3 {
		t.Errorf("source after its resize = %+v, %v; want 3 GB", d, err)
	}
}

// TestQuotaShowUpdate: the management view shows every resource with its
// usage and the limit in force; updates are checked.
func TestQuotaShowUpdate(t *testing.T) {
	e := newEnv(t) // defaults: 3 instances, backups 50, no volume or replica quota
	ctx := context.Background()
	if err := e.st.CreateProject(ctx, model.Project{ID: "p1", Name: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateInstance(ctx, "p1", basicRequest()); err != nil {
		t.Fatal(err)
	}
	rows, err := e.svc.ShowQuotas(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	want := []QuotaRow{
		{Resource: model.QuotaInstances, InUse: 1, Limit: 3},
		{Resource: model.QuotaVolumes, InUse: 1, Limit: -1},
		{Resource: model.QuotaBackups, InUse: 0, Limit: DefaultMaxBackups},
		{Resource: model.QuotaReplicas, InUse: 0, Limit: -1},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("ShowQuotas (-want +got):\n%s", d)
	}
	got, err := e.svc.UpdateQuotas(ctx, "p1", model.QuotaLimits{model.QuotaInstances: 0, model.QuotaVolumes: 20})
	if err != nil || !cmp.Equal(got, model.QuotaLimits{model.QuotaInstances: 0, model.QuotaVolumes: 20}) {
		t.Errorf("UpdateQuotas = %v, %v", got, err)
	}
	limits, usage, err := e.svc.Limits(ctx, "p1")
	if err != nil || limits[model.QuotaInstances] != 0 || limits[model.QuotaVolumes] != 20 || usage[model.QuotaInstances] != 1 {
		t.Errorf("Limits = %v, %v, %v", limits, usage, err)
	}
	if _, err := e.svc.CreateInstance(ctx, "p1", basicRequest()); !fault.Is(err, fault.OverLimit) {
		t.Errorf("create with an instance quota of 0 = %v, want 413", err)
	}

	refusals := []struct {
		name    string
		project string
		limits  model.QuotaLimits
		kind    fault.Kind
		msg     string
	}{
		{"unknown resource", "p1", model.QuotaLimits{"ram": 1}, fault.NotFound, "Quota resource ram cannot be found"},
		{"below -1", "p1", model.QuotaLimits{model.QuotaBackups: -2}, fault.Invalid, "Quota limit of backups must be -1 (no limit) or between 0 and"},
		{"too large", "p1", model.QuotaLimits{model.QuotaBackups: 1<<30 + 1}, fault.Invalid, "cannot be accepted"},
		{"nothing", "p1", model.QuotaLimits{}, fault.Invalid, "No quotas to update were given."},
		{"unknown project", "nope", model.QuotaLimits{model.QuotaBackups: 1}, fault.NotFound, "Project nope cannot be found."},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.UpdateQuotas(ctx, tt.project, tt.limits)
			if !fault.Is(err, tt.kind) || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("UpdateQuotas(%v) = %v (%v), want %v containing %q", tt.limits, err, fault.KindOf(err), tt.kind, tt.msg)
			}
		})
	}
	if _, err := e.svc.ShowQuotas(ctx, "nope"); !fault.Is(err, fault.NotFound) {
		t.Errorf("ShowQuotas(unknown project) = %v, want 404", err)
	}
}

// TestQuotaFault: the store's refusals of a write map to their faults: a
// quota to 413, a project deleted while the request was under way to 404;
// any other error is not a quota refusal.
func TestQuotaFault(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"quota", fmt.Errorf("wrapped: %w", &store.QuotaError{Exceeded: []model.QuotaResource{model.QuotaInstances}}), fault.OverLimit},
		{"no project", fmt.Errorf("wrapped: %w", store.ErrNoProject), fault.NotFound},
		{"other", errors.New("disk on fire"), fault.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := quotaFault("op", tt.err)
			if tt.want == fault.Internal { // not a refusal: no fault
				if err != nil {
					t.Fatalf("quotaFault = %v, want nil", err)
				}
				return
			}
			if got := fault.KindOf(err); got != tt.want {
				t.Errorf("quotaFault kind = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}
