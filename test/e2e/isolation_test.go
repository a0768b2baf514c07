package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// adminCall sends a Keystone v3 admin request with the admin's token.
func adminCall(t *testing.T, sc *gophercloud.ServiceClient, h *hoard, method, path string, body any) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, "http://"+h.listen+"/identity/v3"+path, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", sc.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
	}
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// TestTenantIsolation creates a second project with a member user through
// the identity admin API: that user cannot see or touch the admin's
// instance (403 on the admin's URL, 404 on its own), and sees only its own.
func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	admin := h.client(ctx)

	proj := adminCall(t, admin, h, "POST", "/projects", map[string]any{"project": map[string]any{"name": "other", "domain_id": "default"}})
	projID := proj["project"].(map[string]any)["id"].(string)
	usr := adminCall(t, admin, h, "POST", "/users", map[string]any{"user": map[string]any{"name": "bob", "password": "bob-secret-1"}})
	userID := usr["user"].(map[string]any)["id"].(string)
	adminCall(t, admin, h, "PUT", "/projects/"+projID+"/users/"+userID+"/roles/member", nil)

	pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: "http://" + h.listen + "/identity/v3",
		Username:         "bob", Password: "bob-secret-1", TenantName: "other", DomainName: "Default",
	})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.TrimRight(bob.Endpoint, "/"), projID) {
		t.Errorf("bob's endpoint %s does not end with his project %s", bob.Endpoint, projID)
	}

	o := createOpts("admins")
	o.Databases, o.Users = nil, nil
	inst, err := instances.Create(ctx, admin, o).Extract()
	if err != nil {
		t.Fatal(err)
	}

	// Bob on his own URL: the admin's instance does not exist for him.
	if _, err := instances.Get(ctx, bob, inst.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("bob GET admin's instance: err = %v, want 404", err)
	}
	if err := instances.Delete(ctx, bob, inst.ID).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("bob DELETE admin's instance: err = %v, want 404", err)
	}
	// Bob on the admin's URL: forbidden.
	bobOnAdmin := *bob
	bobOnAdmin.Endpoint = admin.Endpoint
	if _, err := instances.Get(ctx, &bobOnAdmin, inst.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		t.Errorf("bob GET on the admin's URL: err = %v, want 403", err)
	}
	pages, err := instances.List(bob).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := instances.ExtractInstances(pages); len(list) != 0 {
		t.Errorf("bob lists %d instances, want 0", len(list))
	}
	waitStatus(ctx, t, admin, inst.ID, "ACTIVE", activeTimeout)
}

// TestConcurrentRestarts fires ten restarts at once: exactly one is
// accepted, the others get 422, and the instance ends ACTIVE.
func TestConcurrentRestarts(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	o := createOpts("busy")
	o.Databases, o.Users = nil, nil
	inst, err := instances.Create(ctx, sc, o).Extract()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)

	var (
		mu       sync.Mutex
		accepted int
		refused  int
		wg       sync.WaitGroup
	)
	start := make(chan struct{})
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := instances.Restart(ctx, sc, inst.ID).ExtractErr()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity):
				refused++
			default:
				t.Errorf("restart: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if accepted != 1 || refused != 9 {
		t.Errorf("concurrent restarts: %d accepted, %d refused; want 1 and 9", accepted, refused)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)

	// The work shows in /metrics (Prometheus text, no token needed). The
	// instance turns ACTIVE a moment before its task is counted as
	// finished, so the counters are polled, not read once.
	wants := []string{
		`hoard_task_finished_total{kind="create",state="done"} 1`,
		`hoard_task_finished_total{kind="restart",state="done"} 1`,
		`hoard_api_requests_total{code="422",method="POST",route="/v1.0/{tenant}/instances/{id}/action"} 9`,
		`hoard_instances{datastore="mysql",status="ACTIVE"} 1`,
		`hoard_instances{datastore="postgresql",status="ACTIVE"} 0`,
		`hoard_task_queue_depth{state="pending"} 0`,
		`hoard_task_duration_seconds_count{kind="restart",state="done"} 1`,
	}
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + h.listen + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(string(body), want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		pollPause(20 * time.Millisecond)
	}
	for _, want := range missing {
		t.Errorf("/metrics lacks %q", want)
	}
}
