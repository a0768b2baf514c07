package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store/sqlite"
)

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i, status := range []model.InstanceStatus{model.StatusActive, model.StatusActive, model.StatusBuild} {
		in := &model.Instance{ID: string(rune('a' + i)), TenantID: "t", Name: "n", Status: status, FlavorID: 1, VolumeSize: 1, Created: now, Updated: now}
		if err := st.CreateInstance(ctx, in, nil); err != nil {
			t.Fatal(err)
		}
	}
	m := New(st)
	m.ObserveRequest("GET", "GET /v1.0/{tenant}/instances/{id}", 200, 3*time.Millisecond)
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.ObserveTask(&model.Task{Kind: model.TaskRestart}, model.TaskDone)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`hoard_api_requests_total{code="200",method="GET",route="GET /v1.0/{tenant}/instances/{id}"} 1`,
		`hoard_api_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`hoard_api_request_duration_seconds_count{method="GET",route="GET /v1.0/{tenant}/instances/{id}"} 1`,
		`hoard_task_finished_total{kind="restart",state="done"} 1`,
		`hoard_instances{status="ACTIVE"} 2`,
		`hoard_instances{status="BUILD"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
