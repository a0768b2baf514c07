package identity

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
)

// TestGophercloud logs gophercloud in the way terraform and Go users do and
// checks it finds the project's database endpoint.
func TestGophercloud(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		opts gophercloud.AuthOptions
	}{
		{"v3", gophercloud.AuthOptions{IdentityEndpoint: f.srv.URL + "/identity/v3", Username: "admin", Password: "secret", TenantName: "demo", DomainName: "Default"}},
		{"v3 trailing slash, domain id", gophercloud.AuthOptions{IdentityEndpoint: f.srv.URL + "/identity/v3/", Username: "admin", Password: "secret", TenantName: "demo", DomainID: "default"}},
		{"v3 project id", gophercloud.AuthOptions{IdentityEndpoint: f.srv.URL + "/identity/v3", Username: "bob", Password: "bobpw", TenantID: f.ids["other"], DomainName: "Default"}},
		{"v2.0", gophercloud.AuthOptions{IdentityEndpoint: f.srv.URL + "/identity/v2.0", Username: "admin", Password: "secret", TenantName: "demo"}},
		{"discovery", gophercloud.AuthOptions{IdentityEndpoint: f.srv.URL + "/identity/", Username: "admin", Password: "secret", TenantName: "demo", DomainName: "Default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			pc, err := openstack.AuthenticatedClient(ctx, tt.opts)
			if err != nil {
				t.Fatalf("AuthenticatedClient: %v", err)
			}
			sc, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
			if err != nil {
				t.Fatalf("NewDBV1: %v", err)
			}
			project := tt.opts.TenantID
			if project == "" {
				project = f.ids[tt.opts.TenantName]
			}
			if want := f.srv.URL + "/v1.0/" + project + "/"; sc.Endpoint != want {
				t.Errorf("database endpoint = %q, want %q", sc.Endpoint, want)
			}
			p, err := f.svc.Authenticate(ctx, pc.Token())
			if err != nil {
				t.Fatalf("Authenticate(gophercloud token): %v", err)
			}
			if p.ProjectID != project || p.UserName != tt.opts.Username {
				t.Errorf("principal = %+v", p)
			}
			if _, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "Elsewhere"}); err == nil {
				t.Error("NewDBV1 found an endpoint in the wrong region")
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		_, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
			IdentityEndpoint: f.srv.URL + "/identity/v3", Username: "admin", Password: "bad", TenantName: "demo", DomainName: "Default",
		})
		if err == nil {
			t.Fatal("AuthenticatedClient with a wrong password succeeded")
		}
	})
}
