package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVersionsAndHealth(t *testing.T) {
	h := newHarness(t, Config{})
	tests := []struct {
		path, token string
		status      int
		want        string
	}{
		{"/", "", 200, `{"versions":[{"id":"v1.0","status":"CURRENT","updated":"2012-01-01T00:00:00Z","links":[{"href":"http://db.example.com/v1.0/","rel":"self"}]}]}`},
		{"/v1.0", "", 200, `{"version":{"id":"v1.0","status":"CURRENT","updated":"2012-01-01T00:00:00Z","links":[{"href":"http://db.example.com/v1.0/","rel":"self"}]}}`},
		{"/v1.0/", "bogus", 200, `{"version":{"id":"v1.0","status":"CURRENT","updated":"2012-01-01T00:00:00Z","links":[{"href":"http://db.example.com/v1.0/","rel":"self"}]}}`},
		{"/healthcheck", "", 200, "OK"},
	}
	for _, tt := range tests {
		r := h.do("GET", tt.path, "", "X-Auth-Token", tt.token)
		if r.status != tt.status {
			t.Errorf("GET %s = %d %s, want %d", tt.path, r.status, r.body, tt.status)
			continue
		}
		if tt.want == "OK" {
			if r.body != "OK" {
				t.Errorf("GET %s body = %q, want OK", tt.path, r.body)
			}
			continue
		}
		if diff := cmp.Diff(mustJSON(t, tt.want), mustJSON(t, r.body)); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}
	h.fb.readyErr = errors.New("down")
	if r := h.do("GET", "/healthcheck", ""); r.status != 503 {
		t.Errorf("healthcheck with backend down = %d, want 503", r.status)
	}
	h.fb.readyErr = nil
	h.srv.SetDraining(true)
	if r := h.do("GET", "/", ""); r.status != 503 {
		t.Errorf("GET / while draining = %d, want 503", r.status)
	}
	h.srv.SetDraining(false)
	if r := h.do("GET", "/healthcheck", ""); r.status != 200 {
		t.Errorf("healthcheck after draining = %d, want 200", r.status)
	}
}

func TestFlavors(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.do("GET", "/v1.0/TENANT/flavors/1", "")
	want := `{"flavor":{"id":1,"str_id":"1","name":"512MB Instance","ram":512,"vcpus":1,"disk":2,"links":[` +
		`{"href":"http://db.example.com/v1.0/TENANT/flavors/1","rel":"self"},{"href":"http://db.example.com/flavors/1","rel":"bookmark"}]}}`
	if diff := cmp.Diff(mustJSON(t, want), mustJSON(t, r.body)); diff != "" {
		t.Errorf("flavor (-want +got):\n%s", diff)
	}
	r = h.do("GET", "/v1.0/TENANT/flavors", "")
	fl := mustJSON(t, r.body)["flavors"].([]any)
	if len(fl) != 2 {
		t.Fatalf("flavors = %s", r.body)
	}
	if _, ok := fl[1].(map[string]any)["id"].(float64); !ok {
		t.Errorf("flavor id is not a JSON number: %s", r.body)
	}
	r = h.do("GET", "/v1.0/TENANT/datastores/mysql/versions/10.11/flavors", "")
	if r.status != 200 || len(mustJSON(t, r.body)["flavors"].([]any)) != 2 {
		t.Errorf("version flavors = %d %s", r.status, r.body)
	}
}

func TestDatastores(t *testing.T) {
	h := newHarness(t, Config{})
	ds := `{"id":"ds-mysql","name":"mysql","default_version":"v-1011","links":[` +
		`{"href":"http://db.example.com/v1.0/TENANT/datastores/ds-mysql","rel":"self"},{"href":"http://db.example.com/datastores/ds-mysql","rel":"bookmark"}],` +
		`"versions":[{"id":"v-1011","name":"10.11","version":"10.11.19","links":[` +
		`{"href":"http://db.example.com/v1.0/TENANT/datastores/versions/v-1011","rel":"self"},{"href":"http://db.example.com/datastores/versions/v-1011","rel":"bookmark"}]}]}`
	version := `{"id":"v-1011","name":"10.11","datastore":"ds-mysql","version":"10.11.19","links":[` +
		`{"href":"http://db.example.com/v1.0/TENANT/datastores/versions/v-1011","rel":"self"},{"href":"http://db.example.com/datastores/versions/v-1011","rel":"bookmark"}]}`
	tests := []struct{ path, want string }{
		// postgresql has no active version: hidden from non-admins.
		{"/v1.0/TENANT/datastores", `{"datastores":[` + ds + `]}`},
		{"/v1.0/TENANT/datastores/mysql", `{"datastore":` + ds + `}`},
		{"/v1.0/TENANT/datastores/ds-mysql", `{"datastore":` + ds + `}`},
		{"/v1.0/TENANT/datastores/mysql/versions", `{"versions":[` + version + `]}`},
		{"/v1.0/TENANT/datastores/ds-mysql/versions/v-1011", `{"version":` + version + `}`},
		{"/v1.0/TENANT/datastores/mysql/versions/10.11", `{"version":` + version + `}`},
		{"/v1.0/TENANT/datastores/versions/v-1011", `{"version":` + version + `}`},
	}
	for _, tt := range tests {
		r := h.do("GET", tt.path, "")
		if r.status != 200 {
			t.Errorf("GET %s = %d %s", tt.path, r.status, r.body)
			continue
		}
		if diff := cmp.Diff(mustJSON(t, tt.want), mustJSON(t, r.body)); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}
	for _, p := range []string{"/v1.0/TENANT/datastores/postgresql", "/v1.0/TENANT/datastores/versions/v-old", "/v1.0/TENANT/datastores/versions/10.11"} {
		if r := h.do("GET", p, ""); r.status != 404 {
			t.Errorf("GET %s = %d, want 404", p, r.status)
		}
	}
	// Admins see inactive versions, flagged.
	r := h.do("GET", "/v1.0/admin-project/datastores/mysql/versions/5.1", "", "X-Auth-Token", adminToken)
	if r.status != 200 || mustJSON(t, r.body)["version"].(map[string]any)["active"] != false {
		t.Errorf("admin inactive version = %d %s", r.status, r.body)
	}
}

func TestIdentityMount(t *testing.T) {
	var seen string
	id := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.Path
		w.WriteHeader(http.StatusCreated)
	})
	h := newHarness(t, Config{Identity: id})
	// No Content-Type check and no /v1.0 auth on identity paths.
	req := httptest.NewRequest("POST", "/identity/v3/auth/tokens", nil)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || seen != "/identity/v3/auth/tokens" {
		t.Errorf("identity = %d path %q, want 201 /identity/v3/auth/tokens", rec.Code, seen)
	}
	if rec.Header().Get("X-Openstack-Request-Id") == "" {
		t.Error("identity answer has no request id")
	}
	// Without an Identity handler the path is unknown.
	h2 := newHarness(t, Config{})
	if r := h2.do("POST", "/identity/v3/auth/tokens", `{}`); r.status != 404 {
		t.Errorf("no identity = %d, want 404", r.status)
	}
}
