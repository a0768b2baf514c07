package identity

import (
	"encoding/json"
	"testing"
)

// TestObjectStoreEntry: with Config.ObjectStorePath the v3 and v2.0
// catalogs list an object-store at the project's database URL plus the
// path (troveclient's log save and tail find Swift there); without, none.
func TestObjectStoreEntry(t *testing.T) {
	for _, path := range []string{"", "/swift"} {
		f := newFixture(t)
		f.svc.swift = path
		want := ""
		if path != "" {
			want = f.srv.URL + "/v1.0/" + f.ids["demo"] + path
		}

		_, body := f.do(t, "POST", "/identity/v3/auth/tokens", v3Password("alice", "alicepw", "demo"), nil)
		var v3 struct {
			Token struct {
				Catalog []struct {
					Type      string `json:"type"`
					Endpoints []struct {
						Interface, URL, Region string
					} `json:"endpoints"`
				} `json:"catalog"`
			} `json:"token"`
		}
		if err := json.Unmarshal(body, &v3); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, c := range v3.Token.Catalog {
			if c.Type == "object-store" {
				if len(c.Endpoints) != 3 || c.Endpoints[0].Interface != "public" || c.Endpoints[0].Region != "RegionOne" {
					t.Errorf("v3 object-store entry = %+v", c)
				}
				got = c.Endpoints[0].URL
			}
		}
		if got != want {
			t.Errorf("ObjectStorePath %q: v3 object-store URL = %q, want %q", path, got, want)
		}

		_, body = f.do(t, "POST", "/identity/v2.0/tokens", map[string]any{"auth": map[string]any{
			"passwordCredentials": map[string]string{"username": "alice", "password": "alicepw"}, "tenantName": "demo"}}, nil)
		var v2 struct {
			Access struct {
				ServiceCatalog []struct {
					Type      string `json:"type"`
					Endpoints []struct {
						PublicURL string `json:"publicURL"`
					} `json:"endpoints"`
				} `json:"serviceCatalog"`
			} `json:"access"`
		}
		if err := json.Unmarshal(body, &v2); err != nil {
			t.Fatal(err)
		}
		got = ""
		for _, c := range v2.Access.ServiceCatalog {
			if c.Type == "object-store" && len(c.Endpoints) == 1 {
				got = c.Endpoints[0].PublicURL
			}
		}
		if got != want {
			t.Errorf("ObjectStorePath %q: v2.0 object-store URL = %q, want %q (body %s)", path, got, want, body)
		}
	}
}
