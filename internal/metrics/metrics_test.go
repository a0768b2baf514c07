package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

// newTestMetrics returns Metrics over a SQLite store holding three
// instances (two ACTIVE MySQL, the second a replica of the first; one
// BUILD Redis), with volume use and lag measured by stand-ins.
func newTestMetrics(t *testing.T) *Metrics {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	for _, in := range []*model.Instance{
		{ID: "a", Status: model.StatusActive, Datastore: "mysql", VolumeSize: 2},
		{ID: "b", Status: model.StatusActive, Datastore: "mysql", VolumeSize: 2, ReplicaOf: "a"},
		{ID: "c", Status: model.StatusBuild, Datastore: "redis", VolumeSize: 1},
	} {
		in.TenantID, in.Name, in.FlavorID, in.Created, in.Updated = "t", "n-"+in.ID, 1, now, now
		if err := st.CreateInstance(ctx, in, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return New(Config{
		Instances:  st,
		Tasks:      st,
		Datastores: []string{"mysql", "postgresql", "redis"},
		UsedBytes: func(_ context.Context, id string) (int64, error) {
			if id == "b" {
				return 0, errors.New("not measured")
			}
			return 1 << 20, nil
		},
		ReplicaLag: func(_ context.Context, in *model.Instance) (float64, bool) { return 1.5, in.ID == "b" },
		Now:        func() time.Time { return now },
	})
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestMetrics(t *testing.T) {
	m := newTestMetrics(t)
	now := m.cfg.Now()
	m.ObserveRequest("GET", "/v1.0/{tenant}/instances/{id}", 200, 3*time.Millisecond)
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.ObserveTask(&model.Task{Kind: model.TaskRestart, Created: now.Add(-3 * time.Second)}, model.TaskDone)
	m.ObserveEngine(driver.Event{InstanceID: "a", Kind: driver.EventExited})
	m.ObserveBackup(&model.Backup{Datastore: "mysql", Size: 5 << 20, Created: now.Add(-20 * time.Second)})

	body := scrape(t, m)
	for _, want := range []string{
		`hoard_api_requests_total{code="200",method="GET",route="/v1.0/{tenant}/instances/{id}"} 1`,
		`hoard_api_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`hoard_api_request_duration_seconds_count{method="GET",route="/v1.0/{tenant}/instances/{id}"} 1`,
		`hoard_task_finished_total{kind="restart",state="done"} 1`,
		`hoard_task_duration_seconds_bucket{kind="restart",state="done",le="5"} 1`,
		`hoard_task_duration_seconds_bucket{kind="restart",state="done",le="2.5"} 0`,
		`hoard_task_queue_depth{state="pending"} 0`,
		`hoard_task_queue_depth{state="running"} 0`,
		`hoard_engine_restarts_total{event="exited"} 1`,
		`hoard_engine_restarts_total{event="recovered"} 0`,
		`hoard_backup_size_bytes_bucket{datastore="mysql",le="1.6777216e+07"} 1`,
		`hoard_backup_duration_seconds_bucket{datastore="mysql",le="30"} 1`,
		`hoard_instances{datastore="mysql",status="ACTIVE"} 2`,
		`hoard_instances{datastore="redis",status="BUILD"} 1`,
		`hoard_instances{datastore="postgresql",status="ACTIVE"} 0`,
		`hoard_instances{datastore="redis",status="ERROR"} 0`,
		`hoard_instance_volume_size_bytes{datastore="mysql",instance_id="a"} 2.147483648e+09`,
		`hoard_instance_volume_used_bytes{datastore="mysql",instance_id="a"} 1.048576e+06`,
		`hoard_replica_lag_seconds{datastore="mysql",instance_id="b",source_id="a"} 1.5`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, unwanted := range []string{
		`hoard_instance_volume_used_bytes{datastore="mysql",instance_id="b"}`, // not measured
		`hoard_instance_volume_used_bytes{datastore="redis",instance_id="c"}`, // not running
		`hoard_replica_lag_seconds{datastore="mysql",instance_id="a"`,         // not a replica
	} {
		if strings.Contains(body, unwanted) {
			t.Errorf("/metrics has %q", unwanted)
		}
	}
}

// TestTemplateReady: hoard_template_ready has a series per engine version
// the pool reports, zero included.
func TestTemplateReady(t *testing.T) {
	m := New(Config{Templates: func() []TemplateCount {
		return []TemplateCount{{Engine: "e1", Version: "1.2", Ready: 2}, {Engine: "e2", Version: "15.1", Ready: 0}}
	}})
	body := scrape(t, m)
	for _, want := range []string{
		`hoard_template_ready{engine="e1",version="1.2"} 2`,
		`hoard_template_ready{engine="e2",version="15.1"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// TestWarmPool: the warm pool's gauges have a series per entry.
func TestWarmPool(t *testing.T) {
	m := New(Config{WarmPool: func() []WarmPoolCount {
		return []WarmPoolCount{{Datastore: "mysql", Version: "10.11", FlavorID: 1, VolumeGB: 2, Ready: 1, Building: 2, Target: 3}}
	}})
	body := scrape(t, m)
	for _, want := range []string{
		`hoard_warm_pool_ready{datastore="mysql",flavor="1",version="10.11",volume_gb="2"} 1`,
		`hoard_warm_pool_building{datastore="mysql",flavor="1",version="10.11",volume_gb="2"} 2`,
		`hoard_warm_pool_target{datastore="mysql",flavor="1",version="10.11",volume_gb="2"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
