package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// Run runs the conformance suite against the stores made by newStore. Each
// subtest calls newStore once and needs an empty store of its own; newStore
// closes it (with t.Cleanup) when the test ends.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"CreateGetInstance", testCreateGetInstance},
		{"ListInstances", testListInstances},
		{"UpdateInstance", testUpdateInstance},
		{"StartAction", testStartAction},
		{"StartActionConcurrent", testStartActionConcurrent},
		{"SetObservedStatus", testSetObservedStatus},
		{"AssignAddress", testAssignAddress},
		{"AssignAddressConcurrent", testAssignAddressConcurrent},
		{"AdoptInstance", testAdoptInstance},
		{"DeleteInstance", testDeleteInstance},
		{"Replicas", testReplicas},
		{"StartGroupAction", testStartGroupAction},
		{"HAGroups", testHAGroups},
		{"ClaimTaskOrder", testClaimTaskOrder},
		{"TaskLease", testTaskLease},
		{"AdvanceTask", testAdvanceTask},
		{"FinishTask", testFinishTask},
		{"ReleaseTask", testReleaseTask},
		{"ReleaseLeases", testReleaseLeases},
		{"CountTasks", testCountTasks},
		{"Flavors", testFlavors},
		{"Datastores", testDatastores},
		{"Projects", testProjects},
		{"Users", testUsers},
		{"Roles", testRoles},
		{"Tokens", testTokens},
		{"IdentityUpdate", testIdentityUpdate},
		{"IdentityDelete", testIdentityDelete},
		{"DeleteProjectIfUnused", testDeleteProjectIfUnused},
		{"DeleteProjectConcurrent", testDeleteProjectConcurrent},
		{"RootHistory", testRootHistory},
		{"Backups", testBackups},
		{"Schedules", testSchedules},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"Configurations", testConfigurations},
		{"TaskCopy", testTaskCopy},
		{"RootHistoryList", testRootHistoryList},
		{"ParametersCopy", testParametersCopy},
		{"InsertBackup", testInsertBackup},
		{"SettingsCopy", testSettingsCopy},
		{"Settings", testSettings},
		{"ProjectQuotas", testProjectQuotas},
		{"QuotaWrites", testQuotaWrites},
		{"QuotaConcurrent", testQuotaConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// zone is a non-UTC location: stores must return times in UTC whatever
// location they were given.
var zone = time.FixedZone("UTC+2", 2*60*60)

// t0 is the base time of the tests. It has a fractional second: stores keep
// at least second precision.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, zone)

// sameSecond compares times at second precision.
func sameSecond(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// cmpOpts compares domain values the way the store contract allows: times at
// second precision, nil and empty slices alike.
var cmpOpts = cmp.Options{
	cmp.Comparer(sameSecond),
	cmpopts.EquateEmpty(),
}

// ignoreUpdated ignores the Updated field that the store bumps.
var ignoreUpdated = cmpopts.IgnoreFields(model.Instance{}, "Updated")

// checkUTC fails t unless every non-zero time is in UTC.
func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: time %d = %v, want it in UTC", what, i, tm)
		}
	}
}

func checkInstanceUTC(t *testing.T, inst *model.Instance) {
	t.Helper()
	checkUTC(t, "instance "+inst.ID, inst.Created, inst.Updated)
	if inst.Fault != nil {
		checkUTC(t, "instance "+inst.ID+" fault", inst.Fault.Created)
	}
}

func checkTaskUTC(t *testing.T, task *model.Task) {
	t.Helper()
	checkUTC(t, "task "+task.ID, task.LeaseUntil, task.Created, task.Updated)
}

// wantErr fails t unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// noErr fails t if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantStateError fails t unless err is a *store.StateError with status.
func wantStateError(t *testing.T, what string, err error, status model.InstanceStatus) {
	t.Helper()
	var se *store.StateError
	if !errors.As(err, &se) {
		t.Fatalf("%s: error = %v, want *store.StateError", what, err)
	}
	if se.Status != status {
		t.Errorf("%s: StateError.Status = %s, want %s", what, se.Status, status)
	}
}

// newInstance returns an instance with every field set.
func newInstance(tenant, id string, status model.InstanceStatus) *model.Instance {
	return &model.Instance{
		ID:                 id,
		TenantID:           tenant,
		Name:               "name-" + id,
		Status:             status,
		FlavorID:           2,
		VolumeSize:         5,
		Datastore:          "mysql",
		DatastoreVersion:   "10.11",
		DatastoreVersionID: "dsv-1",
		Port:               3306,
		AdminSecret:        []byte("sealed-" + id),
		Created:            t0,
		Updated:            t0.Add(time.Minute),
	}
}

// newTask returns a pending task of kind for instance.
func newTask(id, instance string, kind model.TaskKind, created time.Time) *model.Task {
	return &model.Task{
		ID:         id,
		InstanceID: instance,
		Kind:       kind,
		State:      model.TaskPending,
		Payload:    []byte(`{"sealed":"` + id + `"}`),
		Created:    created,
		Updated:    created,
	}
}

// mustCreate creates inst (with task, if not nil).
func mustCreate(t *testing.T, s store.Store, inst *model.Instance, task *model.Task) {
	t.Helper()
	noErr(t, fmt.Sprintf("CreateInstance(%s)", inst.ID), s.CreateInstance(t.Context(), inst, task, nil))
}

func diff(t *testing.T, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, cmpOpts)...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func testPing(t *testing.T, s store.Store) {
	noErr(t, "Ping", s.Ping(t.Context()))
}

// ignoreTaskUpdated ignores the Updated field that the store bumps.
var ignoreTaskUpdated = cmpopts.IgnoreFields(model.Task{}, "Updated")
