package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/model"
)

// hrefs returns every "href" in a JSON document.
func hrefs(t *testing.T, body string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "href" {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// TestLinksFollowPublicURL: with a public URL configured, every link is
// built from it, whatever Host and X-Forwarded-Proto the client sends
// (the Host header injection: links to evil.example). Without one, links
// follow the request.
func TestLinksFollowPublicURL(t *testing.T) {
	paths := []string{
		"/", "/v1.0/",
		"/v1.0/TENANT/instances?limit=1", "/v1.0/TENANT/instances/detail?limit=1",
		"/v1.0/TENANT/flavors", "/v1.0/TENANT/flavors/1",
		"/v1.0/TENANT/datastores", "/v1.0/TENANT/datastores/ds-mysql/versions",
	}
	tests := []struct {
		name, publicURL, want string
	}{
		{"public URL", "https://db.example.net/", "https://db.example.net/"},
		{"public URL with a path", "https://example.net/hoard", "https://example.net/hoard/"},
		{"no public URL", "", "https://evil.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{PublicURL: tt.publicURL})
			in := h.fb.add(tenant, "db1", model.StatusActive)
			h.fb.add(tenant, "db2", model.StatusActive)
			for _, p := range append(paths, "/v1.0/TENANT/instances/"+in.ID) {
				req := httptest.NewRequest("GET", "http://evil.example"+p, nil)
				req.Host = "evil.example"
				req.Header.Set("X-Auth-Token", token)
				req.Header.Set("X-Forwarded-Proto", "https")
				req.Header.Set("X-Forwarded-Host", "evil2.example")
				rec := httptest.NewRecorder()
				h.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Fatalf("GET %s = %d %s", p, rec.Code, rec.Body)
				}
				if strings.Contains(p, "limit=1") && !strings.Contains(rec.Body.String(), `"rel":"next"`) {
					t.Errorf("GET %s has no next link: %s", p, rec.Body)
				}
				got := hrefs(t, rec.Body.String())
				if len(got) == 0 {
					t.Fatalf("GET %s has no links: %s", p, rec.Body)
				}
				for _, href := range got {
					if !strings.HasPrefix(href, tt.want) {
						t.Errorf("GET %s link %q, want it under %s", p, href, tt.want)
					}
				}
			}
		})
	}
}
