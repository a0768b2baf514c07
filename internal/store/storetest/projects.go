package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// needProject is the quota of a write under the built-in identity: no
// limits, the project must exist.
var needProject = &store.Quota{RequireProject: true}

// testDeleteProjectIfUnused checks that a project owning anything is not
// deleted (with the counts), that an unused one is, with its tokens, and
// that a write requiring its project then fails while one that does not
// (an external identity's) still succeeds.
func testDeleteProjectIfUnused(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "CreateUser", s.CreateUser(ctx, model.User{ID: "u", Name: "u", Enabled: true, Created: t0}))
	tests := []struct {
		name string
		own  func(project string) // makes what the project owns
		want model.ProjectResources
	}{
		{"unused", func(string) {}, model.ProjectResources{}},
		{"instance", func(p string) {
			noErr(t, "CreateInstance", s.CreateInstance(ctx, newInstance(p, "i-"+p, model.StatusActive), nil, needProject))
		}, model.ProjectResources{Instances: 1}},
		{"deleting instance", func(p string) {
			inst := newInstance(p, "i-"+p, model.StatusShutdown)
			inst.Deleting = true
			mustCreate(t, s, inst, nil)
		}, model.ProjectResources{Instances: 1}},
		{"backup whose instance is gone", func(p string) {
			// The backups table counts by its own tenant: a backup kept
			// after its instance went.
			noErr(t, "InsertBackup", s.InsertBackup(ctx, newBackup(p, "b-"+p, "gone", t0)))
		}, model.ProjectResources{Backups: 1}},
		{"everything", func(p string) {
			inst := newInstance(p, "i-"+p, model.StatusActive)
			noErr(t, "CreateInstance", s.CreateInstance(ctx, inst, nil, needProject))
			noErr(t, "CreateInstance", s.CreateInstance(ctx, newInstance(p, "j-"+p, model.StatusActive), nil, needProject))
			noErr(t, "StartBackup", s.StartBackup(ctx, newBackup(p, "b-"+p, inst.ID, t0), model.ActionAllowedStatuses,
				model.StatusBackup, newTask("t-b-"+p, inst.ID, model.TaskBackup, t0), needProject))
			for _, id := range []string{"c1-" + p, "c2-" + p} {
				noErr(t, "CreateConfiguration", s.CreateConfiguration(ctx, &model.Configuration{ID: id, TenantID: p,
					Name: id, Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v-1", Created: t0, Updated: t0}))
			}
		}, model.ProjectResources{Instances: 2, Backups: 1, Configurations: 2}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fmt.Sprintf("p%d", i)
			noErr(t, "CreateProject", s.CreateProject(ctx, model.Project{ID: p, Name: "name-" + p, Enabled: true, Created: t0}))
			noErr(t, "CreateToken", s.CreateToken(ctx, model.Token{Hash: []byte("h-" + p), UserID: "u", ProjectID: p,
				IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
			tt.own(p)
			err := s.DeleteProjectIfUnused(ctx, p)
			if !tt.want.Any() {
				noErr(t, "DeleteProjectIfUnused", err)
				wantErr(t, "GetProject(deleted)", func() error { _, err := s.GetProject(ctx, p); return err }(), store.ErrNotFound)
				wantErr(t, "GetToken(deleted project)", func() error { _, err := s.GetToken(ctx, []byte("h-"+p)); return err }(), store.ErrNotFound)
				wantErr(t, "DeleteProjectIfUnused(again)", s.DeleteProjectIfUnused(ctx, p), store.ErrNotFound)
				inst := newInstance(p, "late-"+p, model.StatusBuild)
				wantErr(t, "CreateInstance(deleted project)", s.CreateInstance(ctx, inst, nil, needProject), store.ErrNoProject)
				wantErr(t, "GetInstance(refused)", func() error { _, err := s.GetInstance(ctx, "", inst.ID); return err }(), store.ErrNotFound)
				// An external identity's projects are not in the store.
				noErr(t, "CreateInstance(no project check)", s.CreateInstance(ctx, inst, nil, &store.Quota{}))
				return
			}
			var inUse *store.ProjectInUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("DeleteProjectIfUnused = %v, want *store.ProjectInUseError", err)
			}
			diff(t, "ProjectInUseError", *inUse, store.ProjectInUseError{ProjectID: p, Resources: tt.want})
			noErr(t, "GetProject(kept)", func() error { _, err := s.GetProject(ctx, p); return err }())
			noErr(t, "GetToken(kept)", func() error { _, err := s.GetToken(ctx, []byte("h-"+p)); return err }())
		})
	}
}

// testDeleteProjectConcurrent races a create that requires its project
// against the project's deletion, many times: never do both succeed
// (which would leave the instance in a deleted project), and one always
// does.
func testDeleteProjectConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rounds = 30
	created, deleted := 0, 0
	for i := range rounds {
		p := fmt.Sprintf("race-%02d", i)
		noErr(t, "CreateProject", s.CreateProject(ctx, model.Project{ID: p, Name: p, Enabled: true, Created: t0}))
		var (
			wg                sync.WaitGroup
			start             = make(chan struct{})
			createErr, delErr error
		)
		inst := newInstance(p, "i-"+p, model.StatusBuild)
		wg.Go(func() {
			<-start
			createErr = s.CreateInstance(ctx, inst, newTask("t-"+p, inst.ID, model.TaskCreate, t0), needProject)
		})
		wg.Go(func() {
			<-start
			delErr = s.DeleteProjectIfUnused(ctx, p)
		})
		close(start)
		wg.Wait()
		var inUse *store.ProjectInUseError
		switch {
		case createErr == nil && errors.As(delErr, &inUse) && inUse.Resources == model.ProjectResources{Instances: 1}:
			created++
		case delErr == nil && errors.Is(createErr, store.ErrNoProject):
			deleted++
			if _, err := s.GetInstance(ctx, "", inst.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: the refused create left its instance: %v", i, err)
			}
		default:
			t.Errorf("round %d: create = %v, delete = %v; want exactly one to succeed", i, createErr, delErr)
		}
	}
	t.Logf("%d rounds: the create won %d, the delete %d", rounds, created, deleted)
}
