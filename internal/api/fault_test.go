package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// decodeFault parses a fault body; it fails the test unless the body is
// exactly one key holding code and message.
func decodeFault(t *testing.T, r response) (name string, code int, msg string, extra map[string]any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("fault Content-Type = %q, want application/json", ct)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("fault body %q: %v", r.body, err)
	}
	if len(m) != 1 {
		t.Fatalf("fault body %q has %d keys, want 1", r.body, len(m))
	}
	for k, v := range m {
		c, _ := v["code"].(float64)
		s, _ := v["message"].(string)
		return k, int(c), s, v
	}
	panic("unreachable")
}

func TestFaults(t *testing.T) {
	const inst = "/v1.0/TENANT/instances/"
	bigBody := `{"instance":{"name":"` + strings.Repeat("x", 2000) + `"}}`
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		hdr     []string
		cfg     Config
		setup   func(h *harness) string // returns an instance id, substituted for {id}
		status  int
		fault   string
		msg     string // substring of the message
		header  [2]string
		noFault bool
	}{
		// 400
		{name: "malformed create", method: "POST", path: "/v1.0/TENANT/instances", body: `{"instance":`,
			status: 400, fault: "badRequest", msg: "Malformed request body"},
		{name: "create missing fields", method: "POST", path: "/v1.0/TENANT/instances", body: `{"instance":{}}`,
			status: 400, fault: "badRequest", msg: "'flavorRef' is a required property"},
		{name: "create bad name", method: "POST", path: "/v1.0/TENANT/instances",
			body:   `{"instance":{"name":"   ","flavorRef":"1","volume":{"size":1}}}`,
			status: 400, fault: "badRequest", msg: "at least one letter or digit"},
		{name: "empty action", method: "POST", path: inst + "{id}/action", body: `{}`, setup: active,
			status: 400, fault: "badRequest", msg: "No action given"},
		{name: "unknown action", method: "POST", path: inst + "{id}/action", body: `{"reboot":{}}`, setup: active,
			status: 400, fault: "badRequest", msg: "Unknown action 'reboot'"},
		{name: "two actions", method: "POST", path: inst + "{id}/action", body: `{"restart":{},"resize":{}}`, setup: active,
			status: 400, fault: "badRequest", msg: "Only one action"},
		{name: "restart not object", method: "POST", path: inst + "{id}/action", body: `{"restart":true}`, setup: active,
			status: 400, fault: "badRequest", msg: "must be an object"},
		{name: "restart extra keys", method: "POST", path: inst + "{id}/action", body: `{"restart":{"now":1}}`, setup: active,
			status: 400, fault: "badRequest", msg: "takes no arguments"},
		{name: "action malformed", method: "POST", path: inst + "{id}/action", body: `{"restart":{}`, setup: active,
			status: 400, fault: "badRequest", msg: "Malformed request body"},
		{name: "bad limit", method: "GET", path: "/v1.0/TENANT/instances?limit=abc",
			status: 400, fault: "badRequest", msg: "Invalid limit 'abc'"},
		{name: "zero limit", method: "GET", path: "/v1.0/TENANT/instances?limit=0",
			status: 400, fault: "badRequest", msg: "Invalid limit"},
		{name: "update unknown key", method: "PUT", path: inst + "{id}", body: `{"instance":{"flavor":"2"}}`, setup: active,
			status: 400, fault: "badRequest", msg: "unknown attribute"},
		{name: "unknown flavor on create (backend)", method: "POST", path: "/v1.0/TENANT/instances",
			body:   `{"instance":{"name":"a","flavorRef":"99","volume":{"size":1}}}`,
			status: 400, fault: "badRequest", msg: "Resource 99 cannot be found."},
		// 401
		{name: "missing token", method: "GET", path: "/v1.0/TENANT/instances", hdr: []string{"X-Auth-Token", ""},
			status: 401, fault: "unauthorized", msg: "requires authentication"},
		{name: "invalid token", method: "GET", path: "/v1.0/TENANT/instances", hdr: []string{"X-Auth-Token", "bogus"},
			status: 401, fault: "unauthorized", msg: "requires authentication"},
		{name: "invalid token on unknown path", method: "GET", path: "/v1.0/TENANT/nothing", hdr: []string{"X-Auth-Token", "bogus"},
			status: 401, fault: "unauthorized"},
		// 403
		{name: "other tenant", method: "GET", path: "/v1.0/TENANT/instances", hdr: []string{"X-Auth-Token", otherToken},
			status: 403, fault: "forbidden", msg: "User with tenant id other cannot access this resource."},
		// 404
		{name: "unknown instance", method: "GET", path: inst + "nope",
			status: 404, fault: "itemNotFound", msg: "nope"},
		{name: "other tenant's instance", method: "GET", path: inst + "{id}",
			setup:  func(h *harness) string { return h.fb.add("other", "x", model.StatusActive).ID },
			status: 404, fault: "itemNotFound"},
		{name: "unknown path", method: "GET", path: "/v1.0/TENANT/widgets", status: 404, fault: "itemNotFound"},
		{name: "unknown root path", method: "GET", path: "/nothing/here", status: 404, fault: "itemNotFound"},
		{name: "trailing slash", method: "GET", path: "/v1.0/TENANT/instances/", status: 404, fault: "itemNotFound"},
		{name: "trailing slash detail", method: "GET", path: "/v1.0/TENANT/instances/detail/", status: 404, fault: "itemNotFound"},
		{name: "tenant without resource", method: "GET", path: "/v1.0/TENANT", status: 404, fault: "itemNotFound"},
		{name: "unknown flavor", method: "GET", path: "/v1.0/TENANT/flavors/77", status: 404, fault: "itemNotFound"},
		{name: "non-integer flavor", method: "GET", path: "/v1.0/TENANT/flavors/1.5", status: 404, fault: "itemNotFound"},
		{name: "unknown datastore", method: "GET", path: "/v1.0/TENANT/datastores/redis", status: 404, fault: "itemNotFound", msg: "Datastore 'redis' cannot be found."},
		{name: "inactive version", method: "GET", path: "/v1.0/TENANT/datastores/mysql/versions/5.1", status: 404, fault: "itemNotFound"},
		{name: "datastore two unknown segments", method: "GET", path: "/v1.0/TENANT/datastores/a/b", status: 404, fault: "itemNotFound"},
		// 405
		{name: "GET action", method: "GET", path: inst + "x/action", status: 405, fault: "badMethod", header: [2]string{"Allow", "POST"}},
		{name: "DELETE flavors", method: "DELETE", path: "/v1.0/TENANT/flavors", status: 405, fault: "badMethod", header: [2]string{"Allow", "GET, HEAD"}},
		{name: "POST versions", method: "POST", path: "/", body: `{}`, status: 405, fault: "badMethod"},
		// 409
		{name: "conflict from backend", method: "POST", path: inst + "{id}/action", body: `{"restart":{}}`,
			setup: func(h *harness) string {
				h.fb.fail["RestartInstance"] = fault.New(fault.Conflict, "fake", "busy elsewhere")
				return active(h)
			}, status: 409, fault: "conflict", msg: "busy elsewhere"},
		// 413
		{name: "body too large", method: "POST", path: "/v1.0/TENANT/instances", body: bigBody, cfg: Config{MaxBodyBytes: 100},
			status: 413, fault: "overLimit", msg: "larger than the limit of 100 bytes"},
		{name: "quota from backend", method: "POST", path: "/v1.0/TENANT/instances",
			body: `{"instance":{"name":"a","flavorRef":"1","volume":{"size":1}}}`,
			setup: func(h *harness) string {
				h.fb.fail["CreateInstance"] = fault.New(fault.OverLimit, "fake", "Quota exceeded for resources: ['instances'].")
				return ""
			}, status: 413, fault: "overLimit", msg: "Quota exceeded"},
		// 415
		{name: "text/plain body", method: "POST", path: "/v1.0/TENANT/instances", body: `{}`, hdr: []string{"Content-Type", "text/plain"},
			status: 415, fault: "badMediaType", msg: "Unsupported Content-Type"},
		{name: "json with latin1", method: "POST", path: "/v1.0/TENANT/instances", body: `{}`, hdr: []string{"Content-Type", "application/json; charset=latin1"},
			status: 415, fault: "badMediaType"},
		// 422
		{name: "delete BUILD", method: "DELETE", path: inst + "{id}",
			setup:  func(h *harness) string { return h.fb.add(tenant, "b", model.StatusBuild).ID },
			status: 422, fault: "unprocessableEntity", msg: "Status is BUILD"},
		{name: "restart BUILD", method: "POST", path: inst + "{id}/action", body: `{"restart":{}}`,
			setup:  func(h *harness) string { return h.fb.add(tenant, "b", model.StatusBuild).ID },
			status: 422, fault: "unprocessableEntity", msg: "instance status was BUILD"},
		// 500
		{name: "internal error", method: "GET", path: "/v1.0/TENANT/instances",
			setup: func(h *harness) string {
				h.fb.fail["ListInstances"] = fmt.Errorf("sqlite: disk I/O error at /secret/path")
				return ""
			}, status: 500, fault: "instanceFault", msg: "Please keep this ID"},
		{name: "internal with public message", method: "GET", path: "/v1.0/TENANT/instances",
			setup: func(h *harness) string {
				h.fb.fail["ListInstances"] = fault.Wrap(fault.Internal, "x", "secret/path detail", errors.New("boom"))
				return ""
			}, status: 500, fault: "instanceFault", msg: "Please keep this ID"},
		{name: "panic", method: "GET", path: "/v1.0/TENANT/instances",
			setup: func(h *harness) string {
				h.fb.fail["ListInstances"] = errPanic
				return ""
			}, status: 500, fault: "instanceFault", msg: "Please keep this ID"},
		// 501
		{name: "resize", method: "POST", path: inst + "{id}/action", body: `{"resize":{"flavorRef":"2"}}`, setup: active,
			status: 501, fault: "notImplemented", msg: "'resize'"},
		{name: "reset_status", method: "POST", path: inst + "{id}/action", body: `{"reset_status":{}}`, setup: active,
			status: 501, fault: "notImplemented", msg: "'reset_status'"},
		{name: "resize unknown instance", method: "POST", path: inst + "nope/action", body: `{"resize":{"flavorRef":"2"}}`,
			status: 404, fault: "itemNotFound"},
		{name: "detach a non-replica", method: "PATCH", path: inst + "{id}", body: `{"instance":{"replica_of":null}}`, setup: active,
			status: 400, fault: "badRequest", msg: "is not a replica"},
		{name: "promote a non-replica", method: "POST", path: inst + "{id}/action", body: `{"promote_to_replica_source":{}}`, setup: active,
			status: 400, fault: "badRequest", msg: "is not a replica"},
		{name: "eject a non-source", method: "POST", path: inst + "{id}/action", body: `{"eject_replica_source":{}}`, setup: active,
			status: 400, fault: "badRequest", msg: "is not a replica source"},
		{name: "promote with arguments", method: "POST", path: inst + "{id}/action", body: `{"promote_to_replica_source":{"x":1}}`, setup: active,
			status: 400, fault: "badRequest", msg: "takes no arguments"},
		{name: "include_replicas not a boolean", method: "GET", path: "/v1.0/TENANT/instances?include_replicas=maybe",
			status: 400, fault: "badRequest", msg: "include_replicas"},
		{name: "replicas of unknown instance", method: "GET", path: inst + "nope/replicas", status: 404, fault: "itemNotFound"},
		{name: "attach configuration", method: "PUT", path: inst + "{id}", body: `{"instance":{"configuration":"c1"}}`, setup: active,
			status: 501, fault: "notImplemented", msg: "'configuration'"},
		// 503
		{name: "backend not ready", method: "GET", path: "/healthcheck",
			setup: func(h *harness) string {
				h.fb.readyErr = errors.New("store down")
				return ""
			}, status: 503, fault: "serviceUnavailable"},
		{name: "draining", method: "GET", path: "/v1.0/TENANT/instances",
			setup: func(h *harness) string {
				h.srv.SetDraining(true)
				return ""
			}, status: 503, fault: "serviceUnavailable", msg: "shutting down"},
		{name: "draining healthcheck", method: "GET", path: "/healthcheck",
			setup: func(h *harness) string {
				h.srv.SetDraining(true)
				return ""
			}, status: 503, fault: "serviceUnavailable"},
		{name: "backend unavailable", method: "GET", path: "/v1.0/TENANT/instances",
			setup: func(h *harness) string {
				h.fb.fail["ListInstances"] = fault.New(fault.Unavailable, "fake", "")
				return ""
			}, status: 503, fault: "serviceUnavailable", msg: "currently unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			path := tt.path
			if tt.setup != nil {
				path = strings.ReplaceAll(path, "{id}", tt.setup(h))
			}
			r := h.do(tt.method, path, tt.body, tt.hdr...)
			if r.status != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, path, r.status, r.body, tt.status)
			}
			name, code, msg, _ := decodeFault(t, r)
			if name != tt.fault || code != tt.status {
				t.Errorf("fault = %s/%d, want %s/%d", name, code, tt.fault, tt.status)
			}
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not contain %q", msg, tt.msg)
			}
			if tt.header[0] != "" && r.header.Get(tt.header[0]) != tt.header[1] {
				t.Errorf("header %s = %q, want %q", tt.header[0], r.header.Get(tt.header[0]), tt.header[1])
			}
			if !strings.HasPrefix(r.header.Get("X-Openstack-Request-Id"), "req-") {
				t.Errorf("x-openstack-request-id = %q, want req-<uuid>", r.header.Get("X-Openstack-Request-Id"))
			}
			if tt.status == 500 {
				id := r.header.Get("X-Openstack-Request-Id")
				want := "Internal Server Error. Please keep this ID to help us figure out what went wrong: (" + id + ")."
				if msg != want {
					t.Errorf("500 message = %q, want %q", msg, want)
				}
				if strings.Contains(r.body, "secret") || strings.Contains(r.body, "panic") {
					t.Errorf("500 body leaks internals: %s", r.body)
				}
				if !strings.Contains(h.logs.String(), id) || !strings.Contains(h.logs.String(), `"level":"ERROR"`) {
					t.Errorf("internal error not logged at error level with request id %s:\n%s", id, h.logs.String())
				}
			}
		})
	}
}

// active adds an ACTIVE instance of TENANT and returns its id.
func active(h *harness) string { return h.fb.add(tenant, "db1", model.StatusActive).ID }

func TestChunkedBodyTooLarge(t *testing.T) {
	h := newHarness(t, Config{MaxBodyBytes: 64})
	req := httptest.NewRequest("POST", "/v1.0/TENANT/instances", strings.NewReader(strings.Repeat(" ", 100)+"{}"))
	req.ContentLength = -1 // as if chunked: only MaxBytesReader catches it
	req.Header.Set("X-Auth-Token", token)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversized body = %d %s, want 413", rec.Code, rec.Body)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{RateLimit: 2})
	for i := range 2 {
		if r := h.do("GET", "/v1.0/TENANT/flavors", ""); r.status != 200 {
			t.Fatalf("request %d = %d, want 200", i, r.status)
		}
	}
	r := h.do("GET", "/v1.0/TENANT/flavors", "")
	if r.status != 413 {
		t.Fatalf("third request = %d, want 413", r.status)
	}
	name, _, msg, extra := decodeFault(t, r)
	if name != "overLimit" || msg != "This request was rate-limited." {
		t.Errorf("fault = %s %q", name, msg)
	}
	// 2 per minute: one token every 30 s.
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	if extra["retryAfter"] != "30" || !strings.Contains(fmt.Sprint(extra["details"]), "Only 2 request(s)") {
		t.Errorf("rate-limit body = %s", r.body)
	}
	// Another tenant has its own bucket.
	if r := h.do("GET", "/v1.0/admin-project/flavors", "", "X-Auth-Token", adminToken); r.status != 200 {
		t.Errorf("other tenant = %d, want 200", r.status)
	}
	// Unauthenticated paths are not limited.
	if r := h.do("GET", "/", ""); r.status != 200 {
		t.Errorf("GET / = %d, want 200", r.status)
	}
	h.clock.Advance(10 * time.Second)
	if r := h.do("GET", "/v1.0/TENANT/flavors", ""); r.status != 413 || r.header.Get("Retry-After") != "20" {
		t.Errorf("after 10s = %d Retry-After %q, want 413 and 20", r.status, r.header.Get("Retry-After"))
	}
	h.clock.Advance(20 * time.Second)
	if r := h.do("GET", "/v1.0/TENANT/flavors", ""); r.status != 200 {
		t.Errorf("after refill = %d, want 200", r.status)
	}
}

func TestClientCancel(t *testing.T) {
	h := newHarness(t, Config{})
	h.fb.fail["ListInstances"] = context.Canceled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/v1.0/TENANT/instances", nil)
	req.Header.Set("X-Auth-Token", token)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != statusClientClosed {
		t.Errorf("cancelled request = %d, want %d", rec.Code, statusClientClosed)
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("client cancel logged as error:\n%s", h.logs.String())
	}
}

func TestLogs(t *testing.T) {
	h := newHarness(t, Config{})
	r := h.do("GET", "/v1.0/TENANT/instances", "")
	if r.status != 200 {
		t.Fatalf("list = %d", r.status)
	}
	h.do("GET", "/v1.0/TENANT/instances", "", "X-Auth-Token", "very-secret-token")
	logs := h.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, "very-secret-token") {
		t.Errorf("token in logs:\n%s", logs)
	}
	var entry map[string]any
	for line := range strings.Lines(logs) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			entry = m
			break
		}
	}
	if entry == nil {
		t.Fatalf("no access log entry in:\n%s", logs)
	}
	id := r.header.Get("X-Openstack-Request-Id")
	for k, want := range map[string]any{"method": "GET", "path": "/v1.0/TENANT/instances", "status": float64(200), "request_id": id, "level": "DEBUG"} {
		if entry[k] != want {
			t.Errorf("access log %s = %v, want %v", k, entry[k], want)
		}
	}
	if _, ok := entry["duration"]; !ok {
		t.Error("access log has no duration")
	}
}

func TestPanicAccessLog(t *testing.T) {
	h := newHarness(t, Config{})
	h.fb.fail["ListInstances"] = errPanic
	if r := h.do("GET", "/v1.0/TENANT/instances", ""); r.status != 500 {
		t.Fatalf("panic = %d, want 500", r.status)
	}
	if !strings.Contains(h.logs.String(), `"method":"GET","path":"/v1.0/TENANT/instances","status":500`) {
		t.Errorf("access log does not record the 500:\n%s", h.logs.String())
	}
	// The server still serves.
	delete(h.fb.fail, "ListInstances")
	if r := h.do("GET", "/v1.0/TENANT/instances", ""); r.status != 200 {
		t.Errorf("after panic = %d, want 200", r.status)
	}
}

func TestFaultTableComplete(t *testing.T) {
	for k := fault.Internal; k <= fault.Unavailable; k++ {
		if _, ok := faults[k]; !ok {
			t.Errorf("fault kind %v has no entry in the fault table", k)
		}
	}
}
