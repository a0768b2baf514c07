package postgres

import (
	"context"
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

func TestMain(m *testing.M) { pgtest.Main(m) }

// openDSN opens dsn and closes the store when tb ends.
func openDSN(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// openTemp opens a store on a fresh database.
func openTemp(tb testing.TB) *Store {
	tb.Helper()
	return openDSN(tb, pgtest.DSN(tb))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestMigrateEmptyAndReopen(t *testing.T) {
	dsn := pgtest.DSN(t)
	for i := range 3 {
		s, err := Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		v, err := s.SchemaVersion(t.Context())
		if err != nil || v != LatestSchemaVersion() {
			t.Errorf("Open #%d: SchemaVersion() = %d, %v; want %d", i+1, v, err, LatestSchemaVersion())
		}
		var n int
		if err := s.pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != LatestSchemaVersion() {
			t.Errorf("Open #%d: %d rows in schema_migrations, %v; want %d", i+1, n, err, LatestSchemaVersion())
		}
		s.Close()
	}
}

func TestMigrateStepwise(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := open(t.Context(), dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(t.Context())
	s.Close()
	if err != nil || v != 0 {
		t.Fatalf("SchemaVersion after open(0) = %d, %v; want 0", v, err)
	}
	s = openDSN(t, dsn)
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
		t.Errorf("SchemaVersion after Open = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`,
		LatestSchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(t.Context(), dsn); err == nil {
		s2.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const n = 3
	var wg sync.WaitGroup
	start := make(chan struct{})
	stores := make([]*Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open #%d: %v", i, errs[i])
			continue
		}
		if v, err := stores[i].SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
			t.Errorf("store %d: SchemaVersion() = %d, %v", i, v, err)
		}
		stores[i].Close()
	}
}

func TestBadDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://user:hunter2@[::1")
	if err == nil {
		t.Fatal("Open(bad DSN) succeeded")
	}
	if got := err.Error(); contains(got, "hunter2") {
		t.Errorf("Open(bad DSN) error %q shows the password", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestReplicasClaimOnce runs two stores (two pools, as two replicas would
// have) claiming 50 tasks at once: each task is claimed exactly once.
func TestReplicasClaimOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	const tasks = 50
	for i := range tasks {
		id := fmt.Sprintf("inst-%02d", i)
		inst := &model.Instance{ID: id, TenantID: "t", Name: id, Status: model.StatusBuild}
		task := &model.Task{ID: "task-" + id, Kind: model.TaskCreate, Created: t0.Add(time.Duration(i) * time.Second)}
		if err := a.CreateInstance(ctx, inst, task, nil); err != nil {
			t.Fatal(err)
		}
	}
	const workersPerReplica = 4
	var (
		mu      sync.Mutex
		claimed = map[string]string{}
		dups    []string
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for r, s := range map[string]*Store{"a": a, "b": b} {
		for w := range workersPerReplica {
			owner := fmt.Sprintf("%s-%d", r, w)
			wg.Go(func() {
				<-start
				for {
					task, err := s.ClaimTask(ctx, owner, t0.Add(time.Hour), time.Hour)
					if errors.Is(err, store.ErrNotFound) {
						return
					}
					if err != nil {
						t.Errorf("ClaimTask(%s): %v", owner, err)
						return
					}
					mu.Lock()
					if prev, ok := claimed[task.ID]; ok {
						dups = append(dups, fmt.Sprintf("%s by %s and %s", task.ID, prev, owner))
					}
					claimed[task.ID] = owner
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(dups) > 0 {
		t.Errorf("tasks claimed twice: %v", dups)
	}
	if len(claimed) != tasks {
		t.Errorf("%d tasks claimed, want %d", len(claimed), tasks)
	}
	byReplica := map[byte]int{}
	for id, owner := range claimed {
		byReplica[owner[0]]++
		got, err := b.GetTask(ctx, id)
		if err != nil || got.Owner != owner || got.Attempts != 1 || got.State != model.TaskRunning {
			t.Errorf("GetTask(%s) = %+v, %v; want running, owner %s, 1 attempt", id, got, err, owner)
		}
	}
	t.Logf("claims per replica: a=%d b=%d", byReplica['a'], byReplica['b'])
}

// TestReplicasStateGate runs the state gate from two stores at once.
func TestReplicasStateGate(t *testing.T) {
	dsn := pgtest.DSN(t)
	stores := []*Store{openDSN(t, dsn), openDSN(t, dsn)}
	ctx := t.Context()
	if err := stores[0].CreateInstance(ctx, &model.Instance{ID: "i", TenantID: "t", Name: "i", Status: model.StatusActive}, nil, nil); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			task := &model.Task{ID: fmt.Sprintf("restart-%d", i), Kind: model.TaskRestart}
			_, errs[i] = stores[i%2].StartAction(ctx, "t", "i", model.ActionAllowedStatuses, model.StatusReboot, task, time.Now())
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
		case errors.As(err, &se):
		default:
			t.Errorf("StartAction %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d StartAction calls won, want 1", won)
	}
}

// TestUniqueBackstop inserts a second unfinished task behind the gate's
// back: the partial unique index refuses it.
func TestUniqueBackstop(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.CreateInstance(ctx, &model.Instance{ID: "i", TenantID: "t", Name: "i", Status: model.StatusBuild},
		&model.Task{ID: "create", Kind: model.TaskCreate}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO tasks (id, instance_id, kind, state) VALUES ('x', 'i', 'restart', 'pending')`)
	if !isUnique(err) || constraint(err) != "tasks_unfinished" {
		t.Errorf("second unfinished task: err = %v, want a tasks_unfinished violation", err)
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(t.Context(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

func TestTimes(t *testing.T) {
	zone := time.FixedZone("z", -5*3600)
	tests := []time.Time{
		{},
		time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, zone),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Unix(0, 0),
	}
	for _, in := range tests {
		got := fromTS(ts(in))
		if in.IsZero() != got.IsZero() || !got.Equal(in.Truncate(time.Second)) || (!got.IsZero() && got.Location() != time.UTC) {
			t.Errorf("fromTS(ts(%v)) = %v", in, got)
		}
	}
}
