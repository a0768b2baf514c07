package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/service"
)

// fakeObjects adds LogObjectBackend: the prefix "i1/mariadb-general/"
// holds two parts.
type fakeObjects struct {
	*fakeBackend
}

var fakeParts = map[string]string{
	"i1/mariadb-general/log-a-0000": "one\ntwo\n",
	"i1/mariadb-general/log-a-0001": "three\n",
}

func (f *fakeObjects) ListLogObjects(_ context.Context, _, container, prefix string) ([]service.LogObject, error) {
	if container != "database_logs" {
		return nil, fault.New(fault.NotFound, "t", "The resource could not be found.")
	}
	if prefix != "i1/mariadb-general/" {
		return nil, nil
	}
	t := time.Date(2026, 12, 6, 19, 29, 36, 123456000, time.UTC)
	return []service.LogObject{
		{Name: "i1/mariadb-general/log-a-0000", Bytes: 8, Lines: 2, Modified: t},
		{Name: "i1/mariadb-general/log-a-0001", Bytes: 6, Lines: 1, Modified: t.Add(time.Microsecond)},
	}, nil
}

func (f *fakeObjects) OpenLogObject(_ context.Context, _, _, name string) (service.LogObject, io.ReadCloser, error) {
	body, ok := fakeParts[name]
	if !ok {
		return service.LogObject{}, nil, fault.New(fault.NotFound, "t", "The resource could not be found.")
	}
	o := service.LogObject{Name: name, Bytes: int64(len(body)), Lines: strings.Count(body, "\n"), Modified: time.Date(2026, 12, 6, 19, 29, 36, 0, time.UTC)}
	return o, io.NopCloser(strings.NewReader(body)), nil
}

func TestSwiftRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	h.srv = New(Config{Logger: h.srv.log, Now: h.clock.Now}, &fakeObjects{fakeBackend: h.fb}, newFakeAuth())
	base := "/v1.0/" + tenant + "/swift/database_logs"
	tests := []struct {
		name, method, path string
		status             int
		body               string
		header             map[string]string
	}{
		{"listing", "GET", base + "?format=json&prefix=i1/mariadb-general/", 200,
			`[{"name":"i1/mariadb-general/log-a-0000","bytes":8,"hash":"","last_modified":"2026-12-06T19:29:36.123456","content_type":"text/plain"},` +
				`{"name":"i1/mariadb-general/log-a-0001","bytes":6,"hash":"","last_modified":"2026-12-06T19:29:36.123457","content_type":"text/plain"}]` + "\n",
			map[string]string{"X-Container-Object-Count": "2"}},
		{"listing after a marker (full_listing)", "GET", base + "?format=json&prefix=i1/mariadb-general/&marker=i1/mariadb-general/log-a-0001", 200, "[]\n", nil},
		{"listing of another prefix", "GET", base + "?format=json&prefix=i2/", 200, "[]\n", nil},
		{"listing as XML", "GET", base + "?format=xml", 400, "", nil},
		{"another container", "GET", "/v1.0/" + tenant + "/swift/None?format=json&prefix=None", 404, "", nil},
		{"HEAD a part", "HEAD", base + "/i1/mariadb-general/log-a-0000", 200, "",
			map[string]string{"X-Object-Meta-Lines": "2", "Content-Length": "8", "Last-Modified": "Sun, 06 Dec 2026 19:29:36 GMT"}},
		{"GET a part", "GET", base + "/i1/mariadb-general/log-a-0001", 200, "three\n", map[string]string{"X-Object-Meta-Lines": "1"}},
		{"GET a missing part", "GET", base + "/i1/mariadb-general/log-b", 404, "", nil},
		{"PUT is not offered", "PUT", base + "/i1/x", 405, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, "")
			if r.status != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.status)
			}
			if tt.body != "" && r.body != tt.body {
				t.Errorf("%s %s body = %q, want %q", tt.method, tt.path, r.body, tt.body)
			}
			for k, v := range tt.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
		})
	}
	// Without the capability: 501.
	h2 := newHarness(t, Config{})
	if r := h2.do(http.MethodGet, base+"?format=json", ""); r.status != http.StatusNotImplemented {
		t.Errorf("listing without LogObjectBackend = %d, want 501", r.status)
	}
}
