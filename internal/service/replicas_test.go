package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// replState is what the fake engine's replication recorded.
type replState struct {
	prepared  datastore.Secret                   // the source's replication password
	following map[string]datastore.ReplicaSource // replica address → source
	meta      map[string]map[string]string       // replica address → seed meta
	promoted  []string                           // replica addresses
	fenced    []string                           // source addresses
	caughtUp  map[string]string                  // replica address → position waited for
	positions map[string]string                  // replica address → ReplicaPosition
	// unprepared makes the next PrepareSource ask for a restart
	// (datastore.ErrSourceNeedsRestart).
	unprepared bool
}

// The backupEngine of backups_test.go replicates: a replica follows from
// StartReplica until Promote.

func (e *backupEngine) ReplicationUser() string { return "os_repl" }

func (e *backupEngine) PrepareSource(_ context.Context, _ datastore.Conn, pw datastore.Secret) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.repl.unprepared {
		e.repl.unprepared = false
		return datastore.ErrSourceNeedsRestart
	}
	e.repl.prepared = pw
	return nil
}

func (e *backupEngine) StartReplica(_ context.Context, c datastore.Conn, meta map[string]string, src datastore.ReplicaSource) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.repl.following == nil {
		e.repl.following, e.repl.meta = map[string]datastore.ReplicaSource{}, map[string]map[string]string{}
	}
	e.repl.following[c.Address] = src
	e.repl.meta[c.Address] = meta
	return nil
}

func (e *backupEngine) ReplicaStatus(_ context.Context, c datastore.Conn) (datastore.ReplicaStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.repl.following[c.Address]; !ok {
		return datastore.ReplicaStatus{}, datastore.ErrNotReplica
	}
	return datastore.ReplicaStatus{State: datastore.ReplicaRunning, LagSeconds: 0.5}, nil
}

func (e *backupEngine) Promote(_ context.Context, c datastore.Conn) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.repl.following, c.Address)
	e.repl.promoted = append(e.repl.promoted, c.Address)
	return nil
}

func TestReplicaCreateAndDetach(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	w := &env{svc: e.svc, st: e.st}
	srcID := e.active(t, basicRequest())
	drv := e.svc.cfg.Driver.(*fsDriver)
	startsBefore := drv.Starts[srcID]
	e.eng.mu.Lock()
	e.eng.repl.unprepared = true // a source without what replicas need
	e.eng.mu.Unlock()

	// Trove's form: flavor and volume are the source's.
	d, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "ro", ReplicaOf: srcID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != model.StatusBuild || d.ReplicaOf != srcID || d.FlavorID != 1 || d.VolumeSize != 1 {
		t.Errorf("created replica %+v, want BUILD, replica of %s, flavor 1, 1 GB", d.Instance, srcID)
	}
	r := w.waitStatus(t, d.ID, model.StatusActive)
	src, err := e.st.GetInstance(ctx, "", srcID)
	if err != nil {
		t.Fatal(err)
	}
	if n := drv.Starts[srcID] - startsBefore; n != 1 {
		t.Errorf("the source was started %d times for its first replica, want 1 (a restart rendered as a source)", n)
	}
	if sp, err := e.svc.spec(ctx, src); err != nil || !sp.Replicated {
		t.Errorf("the source's spec Replicated = %v (%v), want true", sp.Replicated, err)
	}

	e.eng.mu.Lock()
	follows, meta, prepared := e.eng.repl.following[r.Address], e.eng.repl.meta[r.Address], e.eng.repl.prepared
	e.eng.mu.Unlock()
	if len(prepared) < 20 {
		t.Errorf("PrepareSource password %d characters, want a generated one", len(prepared))
	}
	want := datastore.ReplicaSource{Address: src.Address, Port: src.Port, User: "os_repl", Password: prepared}
	if follows != want {
		t.Errorf("replica follows %+v, want %+v", follows, want)
	}
	if meta["to_lsn"] != "42" {
		t.Errorf("StartReplica meta = %v, want the seed backup's", meta)
	}
	seed, err := os.ReadFile(filepath.Join(e.svc.cfg.Driver.(*fsDriver).root, d.ID, "restored"))
	if err != nil || strings.TrimSpace(string(seed)) != "full of "+srcID {
		t.Errorf("replica data directory seeded with %q, %v; want a backup of the source", seed, err)
	}
	if string(r.AdminSecret) != string(src.AdminSecret) {
		t.Error("the replica does not share its source's admin secret (its data is the source's)")
	}
	if r.Replication == nil || r.Replication.State != datastore.ReplicaRunning {
		t.Errorf("replica detail replication = %+v, want running", r.Replication)
	}
	sd, err := e.svc.GetInstance(ctx, "t1", srcID)
	if err != nil || len(sd.Replicas) != 1 || sd.Replicas[0].ID != d.ID || sd.Replication != nil {
		t.Errorf("source detail replicas = %v, %v; want [%s]", sd.Replicas, err, d.ID)
	}
	list, err := e.svc.ListReplicas(ctx, "t1", srcID)
	if err != nil || len(list) != 1 {
		t.Errorf("ListReplicas = %v, %v", list, err)
	}
	if _, err := e.svc.ListReplicas(ctx, "t2", srcID); !fault.Is(err, fault.NotFound) {
		t.Errorf("ListReplicas of another tenant's source = %v, want 404", err)
	}

	// Accounts are made on the source, never on a replica.
	err = e.svc.CreateUsers(ctx, "t1", d.ID, []datastore.User{{Name: "u2", Host: "%", Password: "pw-2"}})
	if !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "read replica") {
		t.Errorf("CreateUsers on a replica = %v, want 400 naming the replica", err)
	}
	wantKind(t, "EnableRoot on a replica", func() error { _, _, err := e.svc.EnableRoot(ctx, "t1", d.ID, ""); return err }(), fault.Invalid)

	// A source with replicas is not deleted; a replica is not detached twice.
	wantKind(t, "delete source", e.svc.DeleteInstance(ctx, "t1", srcID), fault.Forbidden)
	wantKind(t, "detach the source", e.svc.DetachReplica(ctx, "t1", srcID), fault.Invalid)

	if err := e.svc.DetachReplica(ctx, "t1", d.ID); err != nil {
		t.Fatal(err)
	}
	got := w.waitStatus(t, d.ID, model.StatusActive)
	if got.ReplicaOf != "" || got.Replication != nil {
		t.Errorf("detached replica %+v, replication %+v; want standalone", got.Instance, got.Replication)
	}
	e.eng.mu.Lock()
	promoted := e.eng.repl.promoted
	e.eng.mu.Unlock()
	if len(promoted) != 1 || promoted[0] != r.Address {
		t.Errorf("promoted %v, want [%s]", promoted, r.Address)
	}
	wantKind(t, "detach again", e.svc.DetachReplica(ctx, "t1", d.ID), fault.Invalid)
	if err := e.svc.DeleteInstance(ctx, "t1", srcID); err != nil {
		t.Errorf("delete of a source without replicas: %v", err)
	}
}

func TestReplicaRefusals(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	srcID := e.active(t, basicRequest())
	d, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "r1", ReplicaOf: srcID})
	if err != nil {
		t.Fatal(err)
	}
	replicaID := d.ID
	(&env{svc: e.svc, st: e.st}).waitStatus(t, replicaID, model.StatusActive)
	big := basicRequest()
	big.Name, big.FlavorRef = "big", "2"
	src2GB := e.active(t, big)

	tests := []struct {
		name string
		req  CreateInstanceRequest
		kind fault.Kind
		msg  string
	}{
		{"users", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, Users: []datastore.User{{Name: "u", Password: "p"}}},
			fault.Invalid, "Cannot create a replica with users or databases."},
		{"databases", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, Databases: []datastore.Database{{Name: "d"}}},
			fault.Invalid, "Cannot create a replica with users or databases."},
		{"unknown source", CreateInstanceRequest{Name: "r", ReplicaOf: "nope"}, fault.NotFound, "Replica source nope cannot be found."},
		{"another tenant's source", CreateInstanceRequest{Name: "r", ReplicaOf: srcID}, fault.NotFound, "cannot be found"},
		{"replica of a replica", CreateInstanceRequest{Name: "r", ReplicaOf: replicaID}, fault.Invalid, "Cannot create a replica of a replica"},
		{"too many", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, ReplicaCount: 4}, fault.Invalid, "replica_count must be between 1 and 3"},
		{"Rackspace form", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, FlavorRef: "2", VolumeSize: 2}, fault.Internal, ""},
		{"a volume too large", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, VolumeSize: 11}, fault.OverLimit, "cannot exceed"},
		{"a smaller flavor", CreateInstanceRequest{Name: "r", ReplicaOf: src2GB, FlavorRef: "1"}, fault.Invalid, "at least the RAM of its source's (1024 MB)"},
		{"bad name", CreateInstanceRequest{Name: "", ReplicaOf: srcID}, fault.Invalid, "Instance name"},
		{"unknown flavor", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, FlavorRef: "99"}, fault.Invalid, ""},
		{"from a backup", CreateInstanceRequest{Name: "r", ReplicaOf: srcID, RestoreBackupID: "b"}, fault.Invalid, "Cannot create a replica from a backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant := "t1"
			if tt.name == "another tenant's source" {
				tenant = "t2"
			}
			before, _ := e.st.CountInstances(ctx, "")
			_, err := e.svc.CreateInstance(ctx, tenant, tt.req)
			if tt.kind == fault.Internal { // accepted
				if err != nil {
					t.Fatalf("CreateInstance = %v, want accepted", err)
				}
				return
			}
			if !fault.Is(err, tt.kind) || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("CreateInstance = %v (%v), want %v containing %q", err, fault.KindOf(err), tt.kind, tt.msg)
			}
			if after, _ := e.st.CountInstances(ctx, ""); after != before {
				t.Errorf("a refused replica left %d instances, had %d", after, before)
			}
		})
	}
}

func TestReplicaUnsupportedEngine(t *testing.T) {
	e := newEnv(t) // fakeEngine: no Backuper, no Replicator
	ctx := context.Background()
	d, err := e.svc.CreateInstance(ctx, "t1", basicRequest())
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, d.ID, model.StatusActive)
	_, err = e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "r", ReplicaOf: d.ID})
	if !fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), "Replication is not supported for the 'mysql' datastore.") {
		t.Errorf("replica of an engine without replication = %v, want 400", err)
	}
}

// accountsEngine is memEngine whose replication does not carry accounts
// (datastore.AccountsNotReplicated); it records where root was enabled.
type accountsEngine struct {
	*memEngine
	rootAt *[]string
}

func (accountsEngine) AccountsNotReplicated() {}

func (e accountsEngine) EnableRoot(ctx context.Context, c datastore.Conn, pw datastore.Secret) error {
	*e.rootAt = append(*e.rootAt, c.Address)
	return e.memEngine.EnableRoot(ctx, c, pw)
}

// TestAccountsAppliedToReplicas checks that an account change on a source
// whose engine does not replicate accounts is made on its ready replicas
// too, and that one not ready is left alone.
func TestAccountsAppliedToReplicas(t *testing.T) {
	ctx := t.Context()
	s, mem, ids := newTestService(t, model.StatusActive)
	s.cfg.AllowSharedRoot = true
	var rootAt []string
	s.cfg.Engines["mem"] = accountsEngine{memEngine: mem, rootAt: &rootAt}
	src, err := s.st.GetInstance(ctx, "", ids["mem"])
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []model.InstanceStatus{model.StatusActive, model.StatusBuild} {
		r := *src
		r.ID, r.Name, r.Status, r.ReplicaOf = fmt.Sprintf("rep-%d", i), fmt.Sprintf("rep-%d", i), st, src.ID
		r.Address = fmt.Sprintf("127.0.9.%d", i+1)
		if err := s.st.CreateInstance(ctx, &r, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.EnableRoot(ctx, "t1", src.ID, "root-pw-123"); err != nil {
		t.Fatal(err)
	}
	if want := []string{src.Address, "127.0.9.1"}; !slices.Equal(rootAt, want) {
		t.Errorf("root enabled at %v, want the source and its ready replica %v", rootAt, want)
	}
}

// The fake's switchover: Fence returns position "7"; a replica's position
// is repl.positions[address] ("0" if unset).

func (e *backupEngine) Fence(_ context.Context, c datastore.Conn) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.repl.fenced = append(e.repl.fenced, c.Address)
	return "7", nil
}

func (e *backupEngine) Unfence(context.Context, datastore.Conn) error { return nil }

func (e *backupEngine) WaitCaughtUp(_ context.Context, c datastore.Conn, pos string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.repl.caughtUp == nil {
		e.repl.caughtUp = map[string]string{}
	}
	e.repl.caughtUp[c.Address] = pos
	return nil
}

func (e *backupEngine) Follow(_ context.Context, c datastore.Conn, src datastore.ReplicaSource) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.repl.following[c.Address] = src
	return nil
}

func (e *backupEngine) ReplicaPosition(_ context.Context, c datastore.Conn) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return cmp.Or(e.repl.positions[c.Address], "0"), nil
}

func (e *backupEngine) ComparePositions(a, b string) (int, error) {
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return cmp.Compare(x, y), nil
}

func TestPromoteAndEject(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	w := &env{svc: e.svc, st: e.st}
	srcID := e.active(t, basicRequest())
	var replicas []string
	for _, name := range []string{"r1", "r2"} {
		d, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: name, ReplicaOf: srcID})
		if err != nil {
			t.Fatal(err)
		}
		w.waitStatus(t, d.ID, model.StatusActive)
		replicas = append(replicas, d.ID)
	}
	get := func(id string) *model.Instance {
		t.Helper()
		in, err := e.st.GetInstance(ctx, "", id)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	src, r1, r2 := get(srcID), get(replicas[0]), get(replicas[1])

	wantKind(t, "promote a source", e.svc.PromoteReplica(ctx, "t1", srcID), fault.Invalid)
	wantKind(t, "promote another tenant's replica", e.svc.PromoteReplica(ctx, "t2", r1.ID), fault.NotFound)
	wantKind(t, "eject a source that answers", e.svc.EjectReplicaSource(ctx, "t1", srcID), fault.Invalid)
	wantKind(t, "eject a replica", e.svc.EjectReplicaSource(ctx, "t1", r1.ID), fault.Invalid)

	// Switchover to r1: the source is fenced, r1 catches up with its
	// position and is promoted, the source and r2 follow r1.
	if err := e.svc.PromoteReplica(ctx, "t1", r1.ID); err != nil {
		t.Fatal(err)
	}
	// (Every member shows PROMOTE meanwhile: storetest's StartGroupAction;
	// with the fake engine the switchover may already be over here.)
	for _, id := range []string{srcID, r1.ID, r2.ID} {
		w.waitStatus(t, id, model.StatusActive)
	}
	if got := get(r1.ID).ReplicaOf; got != "" {
		t.Errorf("promoted replica's replica_of = %q, want none", got)
	}
	for _, id := range []string{srcID, r2.ID} {
		if got := get(id).ReplicaOf; got != r1.ID {
			t.Errorf("%s's replica_of after the switchover = %q, want %s", id, got, r1.ID)
		}
	}
	e.eng.mu.Lock()
	fenced, caught, follows := slices.Clone(e.eng.repl.fenced), e.eng.repl.caughtUp[r1.Address], map[string]datastore.ReplicaSource{}
	for k, v := range e.eng.repl.following {
		follows[k] = v
	}
	prepared := e.eng.repl.prepared
	e.eng.mu.Unlock()
	if !slices.Equal(fenced, []string{src.Address}) || caught != "7" {
		t.Errorf("fenced %v, caught up at %q; want the source fenced and r1 caught up at 7", fenced, caught)
	}
	want := datastore.ReplicaSource{Address: r1.Address, Port: r1.Port, User: "os_repl", Password: prepared}
	for _, in := range []*model.Instance{src, r2} {
		if follows[in.Address] != want {
			t.Errorf("%s follows %+v, want %+v", in.ID, follows[in.Address], want)
		}
	}
	if _, ok := follows[r1.Address]; ok {
		t.Errorf("the new source still follows %+v", follows[r1.Address])
	}
	wantKind(t, "delete the new source", e.svc.DeleteInstance(ctx, "t1", r1.ID), fault.Forbidden)

	// r1 stops answering: ejecting it promotes the most advanced of the
	// others (r2 here), which the old source follows; r1 stays stopped.
	e.eng.mu.Lock()
	e.eng.repl.positions = map[string]string{src.Address: "5", r2.Address: "9"}
	e.eng.mu.Unlock()
	e.eng.setPing(errors.New("gone"))
	if err := e.svc.EjectReplicaSource(ctx, "t1", r1.ID); err != nil {
		t.Fatal(err)
	}
	e.eng.setPing(nil)
	w.waitStatus(t, r1.ID, model.StatusShutdown)
	for _, id := range []string{srcID, r2.ID} {
		w.waitStatus(t, id, model.StatusActive)
	}
	if in := get(r1.ID); in.ReplicaOf != "" || in.Fault == nil || !strings.Contains(in.Fault.Message, "ejected") {
		t.Errorf("ejected source %+v (fault %+v), want standalone with a fault", in, in.Fault)
	}
	if got := get(r2.ID).ReplicaOf; got != "" {
		t.Errorf("r2 after the eject: replica_of %q, want the new source", got)
	}
	if got := get(srcID).ReplicaOf; got != r2.ID {
		t.Errorf("the old source after the eject: replica_of %q, want %s", got, r2.ID)
	}
	if st, _ := e.svc.cfg.Driver.State(ctx, r1.ID); st == driver.StateRunning {
		t.Error("the ejected source's engine still runs")
	}
}

// TestAutomaticFailover checks that, with Config.FailoverAfter, a source
// with a replica is ejected only once its engine has been down that long
// and does not answer, and that its replica becomes the source.
func TestAutomaticFailover(t *testing.T) {
	e := newBackupEnv(t, 0)
	ctx := context.Background()
	w := &env{svc: e.svc, st: e.st}
	e.clk.Set(time.Now().UTC())
	srcID := e.active(t, basicRequest())
	d, err := e.svc.CreateInstance(ctx, "t1", CreateInstanceRequest{Name: "r1", ReplicaOf: srcID})
	if err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, d.ID, model.StatusActive)

	e.svc.cfg.FailoverAfter = time.Minute
	if _, err := e.st.SetObservedStatus(ctx, srcID, []model.InstanceStatus{model.StatusActive}, model.StatusShutdown); err != nil {
		t.Fatal(err)
	}
	noEject := func(why string) {
		t.Helper()
		if err := e.svc.FailoverOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if in, _ := e.st.GetInstance(ctx, "", srcID); in.Status != model.StatusShutdown {
			t.Errorf("%s: source %s, want it left SHUTDOWN", why, in.Status)
		}
		if _, err := e.st.ActiveTask(ctx, srcID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: a task was started (%v)", why, err)
		}
	}
	noEject("down for less than FailoverAfter")
	e.clk.Add(2 * time.Minute)
	noEject("down long enough, but its engine answers")

	e.eng.setPing(errors.New("down"))
	defer e.eng.setPing(nil)
	if err := e.svc.FailoverOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, d.ID, model.StatusActive)
	w.waitStatus(t, srcID, model.StatusShutdown)
	if in, _ := e.st.GetInstance(ctx, "", d.ID); in.ReplicaOf != "" {
		t.Errorf("the replica after the failover: replica_of %q, want it the source", in.ReplicaOf)
	}
	if in, _ := e.st.GetInstance(ctx, "", srcID); in.Fault == nil || !strings.Contains(in.Fault.Message, "ejected") {
		t.Errorf("the failed source's fault = %+v, want it to say it was ejected", in.Fault)
	}
}
