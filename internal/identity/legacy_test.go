package identity

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

type v2Resp struct {
	Access struct {
		Token struct {
			ID       string `json:"id"`
			Expires  string `json:"expires"`
			IssuedAt string `json:"issued_at"`
			Tenant   *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"tenant"`
		} `json:"token"`
		ServiceCatalog []struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Endpoints []struct {
				Region      string `json:"region"`
				PublicURL   string `json:"publicURL"`
				InternalURL string `json:"internalURL"`
				AdminURL    string `json:"adminURL"`
			} `json:"endpoints"`
		} `json:"serviceCatalog"`
		User struct {
			ID    string `json:"id"`
			Name  string `json:"name"`
			Roles []struct {
				Name string `json:"name"`
			} `json:"roles"`
		} `json:"user"`
	} `json:"access"`
}

func TestV2Tokens(t *testing.T) {
	f := newFixture(t)
	pw := func(user, password string) map[string]any {
		return map[string]any{"username": user, "password": password}
	}
	tests := []struct {
		name       string
		body       any
		want       int
		wantTenant string
		wantRole   string
	}{
		{"tenant name", map[string]any{"auth": map[string]any{"passwordCredentials": pw("admin", "secret"), "tenantName": "demo"}}, 200, "demo", "admin"},
		{"tenant id", map[string]any{"auth": map[string]any{"passwordCredentials": pw("bob", "bobpw"), "tenantId": f.ids["other"]}}, 200, "other", "member"},
		{"no tenant, one project", map[string]any{"auth": map[string]any{"passwordCredentials": pw("alice", "alicepw")}}, 200, "demo", "member"},
		{"no tenant, two projects", map[string]any{"auth": map[string]any{"passwordCredentials": pw("bob", "bobpw")}}, 200, "", ""},
		{"wrong password", map[string]any{"auth": map[string]any{"passwordCredentials": pw("admin", "nope"), "tenantName": "demo"}}, 401, "", ""},
		{"no role", map[string]any{"auth": map[string]any{"passwordCredentials": pw("alice", "alicepw"), "tenantName": "other"}}, 401, "", ""},
		{"bad token", map[string]any{"auth": map[string]any{"token": map[string]any{"id": "x"}, "tenantName": "demo"}}, 401, "", ""},
		{"no credentials", map[string]any{"auth": map[string]any{"tenantName": "demo"}}, 400, "", ""},
		{"malformed", `{"auth":[]}`, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, "POST", "/identity/v2.0/tokens", tt.body, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("POST /v2.0/tokens = %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
			if tt.want != 200 {
				if e := decode[keystoneError](t, body); e.Error.Code != tt.want {
					t.Errorf("error body %s", body)
				}
				return
			}
			a := decode[v2Resp](t, body).Access
			exp, err := time.Parse("2006-01-02T15:04:05.999999Z", a.Token.Expires)
			if err != nil || !strings.HasSuffix(a.Token.Expires, "Z") {
				t.Errorf("expires %q does not parse as gophercloud does: %v", a.Token.Expires, err)
			}
			if want := f.clock.Now().Add(testTTL).Truncate(time.Second); !exp.Equal(want) {
				t.Errorf("expires = %v, want %v", exp, want)
			}
			if _, err := f.svc.Authenticate(context.Background(), a.Token.ID); err != nil {
				t.Errorf("Authenticate(v2 token) = %v", err)
			}
			if tt.wantTenant == "" {
				if a.Token.Tenant != nil || len(a.ServiceCatalog) != 0 {
					t.Errorf("unscoped v2 token has tenant %+v, catalog %+v", a.Token.Tenant, a.ServiceCatalog)
				}
				return
			}
			if a.Token.Tenant == nil || a.Token.Tenant.Name != tt.wantTenant || a.Token.Tenant.ID != f.ids[tt.wantTenant] {
				t.Errorf("tenant = %+v, want %s", a.Token.Tenant, tt.wantTenant)
			}
			if len(a.User.Roles) != 1 || a.User.Roles[0].Name != tt.wantRole {
				t.Errorf("roles = %+v, want %s", a.User.Roles, tt.wantRole)
			}
			url := f.srv.URL + "/v1.0/" + f.ids[tt.wantTenant]
			if len(a.ServiceCatalog) != 2 || a.ServiceCatalog[0].Type != "database" || a.ServiceCatalog[1].Type != "identity" || len(a.ServiceCatalog[0].Endpoints) != 1 {
				t.Fatalf("catalog = %+v", a.ServiceCatalog)
			}
			ep := a.ServiceCatalog[0].Endpoints[0]
			if ep.PublicURL != url || ep.InternalURL != url || ep.AdminURL != url || ep.Region != "RegionOne" {
				t.Errorf("endpoint = %+v, want %s", ep, url)
			}
		})
	}

	// GET /v2.0/tenants lists the token user's projects.
	tok := f.login(t, "bob", "bobpw", "")
	resp, body := f.do(t, "GET", "/identity/v2.0/tenants", nil, map[string]string{"X-Auth-Token": tok})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"demo"`) || !strings.Contains(string(body), `"name":"other"`) {
		t.Errorf("GET /v2.0/tenants = %d %s", resp.StatusCode, body)
	}
	if resp, _ := f.do(t, "GET", "/identity/v2.0/tenants", nil, nil); resp.StatusCode != 401 {
		t.Errorf("GET /v2.0/tenants without token = %d, want 401", resp.StatusCode)
	}
}

func TestV1Auth(t *testing.T) {
	f := newFixture(t)
	creds := func(user, key, project string) map[string]string {
		h := map[string]string{"X-Auth-User": user, "X-Auth-Key": key}
		if project != "" {
			h["X-Auth-Project-Id"] = project
		}
		return h
	}
	tests := []struct {
		name        string
		path        string
		header      map[string]string
		want        int
		wantProject string
	}{
		{"auth/v1.0 by project name", "/identity/auth/v1.0", creds("admin", "secret", "demo"), 204, "demo"},
		{"v1.0 by project id", "/identity/v1.0", creds("bob", "bobpw", f.ids["other"]), 204, "other"},
		{"trailing slash", "/identity/auth/v1.0/", creds("alice", "alicepw", "demo"), 204, "demo"},
		{"no project, one project", "/identity/auth/v1.0", creds("alice", "alicepw", ""), 204, "demo"},
		{"no project, two projects", "/identity/auth/v1.0", creds("bob", "bobpw", ""), 401, ""},
		{"wrong key", "/identity/auth/v1.0", creds("admin", "nope", "demo"), 401, ""},
		{"no role", "/identity/auth/v1.0", creds("alice", "alicepw", "other"), 401, ""},
		{"no headers", "/identity/auth/v1.0", nil, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.st.tokenCount()
			resp, body := f.do(t, "GET", tt.path, nil, tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d: %s", tt.path, resp.StatusCode, tt.want, body)
			}
			if tt.want != http.StatusNoContent {
				if resp.Header.Get("X-Auth-Token") != "" {
					t.Error("failed v1 auth returned a token")
				}
				if n := f.st.tokenCount(); n != before {
					t.Errorf("failed v1 auth left %d tokens, had %d", n, before)
				}
				return
			}
			if want := f.srv.URL + "/v1.0/" + f.ids[tt.wantProject]; resp.Header.Get("X-Server-Management-Url") != want {
				t.Errorf("X-Server-Management-Url = %q, want %q", resp.Header.Get("X-Server-Management-Url"), want)
			}
			p, err := f.svc.Authenticate(context.Background(), resp.Header.Get("X-Auth-Token"))
			if err != nil || p.ProjectID != f.ids[tt.wantProject] {
				t.Errorf("Authenticate(v1 token) = %+v, %v", p, err)
			}
		})
	}
}
