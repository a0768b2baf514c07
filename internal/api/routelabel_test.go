package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAccessLogLevels: successful reads (the polls of --wait) log at
// DEBUG, writes and refusals at INFO, and a refusal carries its fault's
// message.
func TestAccessLogLevels(t *testing.T) {
	h := newHarness(t, Config{})
	for _, tc := range []struct {
		method, path, body string
		status             int
		level, fault       string
	}{
		{"GET", "/v1.0/TENANT/instances", "", 200, "DEBUG", ""},
		{"GET", "/v1.0/TENANT/instances/nope", "", 404, "INFO", "cannot be found"},
		{"POST", "/v1.0/TENANT/instances", `{"instance": {}}`, 400, "INFO", "flavorRef"},
	} {
		h.logs.mu.Lock()
		h.logs.b.Reset()
		h.logs.mu.Unlock()
		r := h.do(tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Fatalf("%s %s = %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
		}
		entry := accessEntry(t, h.logs.String())
		if entry["level"] != tc.level {
			t.Errorf("%s %s logged at %v, want %s", tc.method, tc.path, entry["level"], tc.level)
		}
		got, _ := entry["fault"].(string)
		if tc.fault == "" && got != "" || !strings.Contains(strings.ToLower(got), strings.ToLower(tc.fault)) {
			t.Errorf("%s %s: fault in the access log = %q, want one with %q", tc.method, tc.path, got, tc.fault)
		}
	}
}

func accessEntry(t *testing.T, logs string) map[string]any {
	t.Helper()
	for line := range strings.Lines(logs) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			return m
		}
	}
	t.Fatalf("no access log entry in:\n%s", logs)
	return nil
}

func TestRouteLabels(t *testing.T) {
	idMux := http.NewServeMux()
	idMux.HandleFunc("POST /identity/v3/auth/tokens", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	idMux.HandleFunc("GET /identity/v3/projects/{id}", func(w http.ResponseWriter, _ *http.Request) {})
	idMux.Handle("/", http.NotFoundHandler())
	var got []string
	h := newHarness(t, Config{Identity: idMux, Observe: func(_, route string, _ int, _ time.Duration) { got = append(got, route) }})
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1.0/TENANT/instances/x", "/v1.0/{tenant}/instances/{id}"},
		{"GET", "/v1.0/TENANT/datastores/versions/v1", "/v1.0/{tenant}/datastores/versions/{id}"},
		{"GET", "/v1.0/TENANT/datastores/mysql/versions", "/v1.0/{tenant}/datastores/{ds}/versions"},
		{"GET", "/v1.0/TENANT/datastores/versions/v1/parameters", "/v1.0/{tenant}/datastores/versions/{id}/parameters"},
		{"GET", "/v1.0/TENANT/datastores/versions/v1/parameters/p", "/v1.0/{tenant}/datastores/versions/{id}/parameters/{name}"},
		{"POST", "/identity/v3/auth/tokens", "/identity/v3/auth/tokens"},
		{"GET", "/identity/v3/projects/p1", "/identity/v3/projects/{id}"},
		{"GET", "/identity/nothing/here", "unmatched"},
		{"GET", "/nothing/here", ""},
	} {
		got = nil
		h.do(tc.method, tc.path, "")
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s %s: route label %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
