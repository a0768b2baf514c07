package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// projectOf returns the project id in the database endpoint of sc
// (…/v1.0/{project}/).
func projectOf(t *testing.T, sc *gophercloud.ServiceClient) string {
	t.Helper()
	_, rest, ok := strings.Cut(sc.Endpoint, "/v1.0/")
	project := strings.Trim(rest, "/")
	if !ok || project == "" || strings.Contains(project, "/") {
		t.Fatalf("no project in the endpoint %s", sc.Endpoint)
	}
	return project
}

// TestQuotaConcurrentCreates: with a project quota of 3 instances, set as
// `openstack database quota update` sets it, 10 concurrent creates give
// exactly 3 instances (200) and 7 refusals (413 overLimit naming the
// instances quota); the quota and the limits show 3 in use; once one is
// deleted, one more create is accepted.
func TestQuotaConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	project := projectOf(t, sc)
	const limit, n = 3, 10

	var set struct {
		Quotas map[string]int `json:"quotas"`
	}
	_, err := sc.Put(ctx, sc.ServiceURL("mgmt", "quotas", project), map[string]any{"quotas": map[string]int{"instances": limit}},
		&set, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
	if err != nil || set.Quotas["instances"] != limit {
		t.Fatalf("PUT mgmt/quotas = %+v, %v", set, err)
	}

	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		accepted []string
		refused  []error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			inst, err := instances.Create(ctx, sc, instances.CreateOpts{
				Name: fmt.Sprintf("quota-%d", i), FlavorRef: "1", Size: 1, Datastore: &instances.DatastoreOpts{Type: "mysql"},
			}).Extract()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err)
				return
			}
			accepted = append(accepted, inst.ID)
		})
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, id := range accepted {
			if err := instances.Delete(context.Background(), sc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				t.Logf("cleanup: delete %s: %v", id, err)
			}
		}
	})
	if len(accepted) != limit {
		t.Errorf("%d of %d concurrent creates accepted against a quota of %d", len(accepted), n, limit)
	}
	for _, err := range refused {
		if !gophercloud.ResponseCodeIs(err, http.StatusRequestEntityTooLarge) ||
			!strings.Contains(err.Error(), `"overLimit"`) || !strings.Contains(err.Error(), "Quota exceeded for resources: ['instances'].") {
			t.Errorf("refused create: %v, want 413 overLimit naming the instances quota", err)
		}
	}

	var quotas struct {
		Quotas []struct {
			Resource string `json:"resource"`
			InUse    int    `json:"in_use"`
			Limit    int    `json:"limit"`
		} `json:"quotas"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("mgmt", "quotas", project), &quotas, nil); err != nil {
		t.Fatalf("GET mgmt/quotas: %v", err)
	}
	for _, q := range quotas.Quotas {
		if q.Resource == "instances" && (q.InUse != limit || q.Limit != limit) {
			t.Errorf("mgmt/quotas instances = %+v, want %d in use of %d", q, limit, limit)
		}
	}
	var limits struct {
		Limits []map[string]any `json:"limits"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("limits"), &limits, nil); err != nil || len(limits.Limits) == 0 {
		t.Fatalf("GET /limits = %+v, %v", limits, err)
	}
	// (gophercloud decodes numbers as json.Number.)
	if abs := limits.Limits[0]; abs["verb"] != "ABSOLUTE" || fmt.Sprint(abs["max_instances"]) != fmt.Sprint(limit) || fmt.Sprint(abs["total_instances_used"]) != fmt.Sprint(limit) {
		t.Errorf("absolute limits = %v, want max_instances and total_instances_used %d", abs, limit)
	}

	// A delete gives its place back once it has ended.
	for _, id := range accepted {
		waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
	}
	if len(accepted) == 0 {
		return
	}
	if err := instances.Delete(ctx, sc, accepted[0]).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, sc, accepted[0], activeTimeout)
	inst, err := instances.Create(ctx, sc, instances.CreateOpts{
		Name: "quota-again", FlavorRef: "1", Size: 1, Datastore: &instances.DatastoreOpts{Type: "mysql"},
	}).Extract()
	if err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
	accepted = append(accepted, inst.ID)
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
}
