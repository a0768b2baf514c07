package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/configurations"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestRolesAndRevocation: a reader lists but cannot create; revoking its
// role, and deleting the user, stop its token at once (the same hoard made
// the change); the emptied project is deleted.
func TestRolesAndRevocation(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	admin := h.client(ctx)

	proj := adminCall(t, admin, h, "POST", "/projects", map[string]any{"project": map[string]any{"name": "readers"}})
	projID := proj["project"].(map[string]any)["id"].(string)
	usr := adminCall(t, admin, h, "POST", "/users", map[string]any{"user": map[string]any{"name": "ann", "password": "ann-secret-1"}})
	userID := usr["user"].(map[string]any)["id"].(string)
	grant := "/projects/" + projID + "/users/" + userID + "/roles/reader"
	adminCall(t, admin, h, "PUT", grant, nil)

	login := func() *gophercloud.ServiceClient {
		t.Helper()
		pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
			IdentityEndpoint: "http://" + h.listen + "/identity/v3",
			Username:         "ann", Password: "ann-secret-1", TenantName: "readers", DomainName: "Default",
		})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	// listCode lists ann's instances with the token under test (no
	// reauthentication) and returns 200 or 401.
	listCode := func(sc *gophercloud.ServiceClient) int {
		t.Helper()
		sc.ReauthFunc = nil // a refused token must stay refused, not be replaced
		_, err := instances.List(sc).AllPages(ctx)
		if err == nil {
			return http.StatusOK
		}
		if gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
			return http.StatusUnauthorized
		}
		t.Fatalf("list as ann: %v", err)
		return 0
	}

	ann := login()
	if c := listCode(ann); c != http.StatusOK {
		t.Fatalf("reader lists instances: %d, want 200", c)
	}
	o := createOpts("by-a-reader")
	o.Databases, o.Users = nil, nil
	if _, err := instances.Create(ctx, ann, o).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		t.Fatalf("reader creates an instance: %v, want 403", err)
	}
	if _, err := configurations.Create(ctx, ann, configurations.CreateOpts{Name: "g", Values: map[string]any{"connect_timeout": 120},
		Datastore: &configurations.DatastoreOpts{Type: "mysql"}}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		t.Fatalf("reader creates a configuration group: %v, want 403", err)
	}

	adminCall(t, admin, h, "DELETE", grant, nil)
	if c := listCode(ann); c != http.StatusUnauthorized {
		t.Errorf("token after its role was revoked: %d, want 401", c)
	}

	adminCall(t, admin, h, "PUT", grant, nil)
	ann = login()
	if c := listCode(ann); c != http.StatusOK {
		t.Fatalf("reader lists instances again: %d, want 200", c)
	}
	adminCall(t, admin, h, "DELETE", "/users/"+userID, nil)
	if c := listCode(ann); c != http.StatusUnauthorized {
		t.Errorf("token of a deleted user: %d, want 401", c)
	}
	adminCall(t, admin, h, "DELETE", "/projects/"+projID, nil)
}
