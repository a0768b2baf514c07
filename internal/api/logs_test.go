package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/enginelog"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// fakeLogs adds LogBackend to the fake backend: every instance has the
// log "general", published once; the last action is recorded.
type fakeLogs struct {
	*fakeBackend
	last service.LogAction
}

var fakeLogView = service.LogView{Name: "general", Type: datastore.LogUser, Status: enginelog.StatusPartial,
	Published: 128, Pending: 4096, Container: "database_logs", Prefix: "i1/mariadb-general/", Metafile: "i1/mariadb-general_metafile"}

func (f *fakeLogs) ListLogs(_ context.Context, tenantID, id string) ([]service.LogView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenantID, id); err != nil {
		return nil, err
	}
	never := service.LogView{Name: "error", Type: datastore.LogSys, Status: enginelog.StatusReady, Pending: 7, Metafile: "i1/mariadb-error_metafile"}
	return []service.LogView{fakeLogView, never}, nil
}

func (f *fakeLogs) LogAction(_ context.Context, tenantID, id string, a service.LogAction) (*service.LogView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookup(tenantID, id); err != nil {
		return nil, err
	}
	if a.Name != "general" {
		return nil, fault.Errorf(fault.NotFound, "t", "Log '%s' is not defined.", a.Name)
	}
	f.last = a
	v := fakeLogView
	return &v, nil
}

func TestLogRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	fl := &fakeLogs{fakeBackend: h.fb}
	h.srv = New(Config{Logger: h.srv.log, Now: h.clock.Now}, fl, newFakeAuth())
	id := h.fb.add(tenant, "db", model.StatusActive).ID
	p := "/v1.0/" + tenant + "/instances/" + id + "/log"

	r := h.do(http.MethodGet, p, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET log = %d %s", r.status, r.body)
	}
	var list map[string][]map[string]any
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"name": "general", "type": "USER", "status": "Partial", "published": "128", "pending": "4096",
			"container": "database_logs", "prefix": "i1/mariadb-general/", "metafile": "i1/mariadb-general_metafile"},
		{"name": "error", "type": "SYS", "status": "Ready", "published": "0", "pending": "7",
			"container": "None", "prefix": "None", "metafile": "i1/mariadb-error_metafile"},
	}
	if diff := cmp.Diff(want, list["logs"]); diff != "" {
		t.Errorf("GET log (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, body string
		status     int
		want       service.LogAction
	}{
		{"show", `{"name":"general"}`, 200, service.LogAction{Name: "general"}},
		{"enable (troveclient)", `{"name":"general","enable":1}`, 200, service.LogAction{Name: "general", Enable: true}},
		{"publish and discard", `{"name":"general","publish":1,"discard":1}`, 200, service.LogAction{Name: "general", Publish: true, Discard: true}},
		{"enable and disable", `{"name":"general","enable":1,"disable":1}`, 400, service.LogAction{}},
		{"unknown log", `{"name":"nope"}`, 404, service.LogAction{}},
		{"no name", `{"enable":1}`, 400, service.LogAction{}},
		{"not JSON", `{`, 400, service.LogAction{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl.last = service.LogAction{}
			r := h.do(http.MethodPost, p, tt.body)
			if r.status != tt.status {
				t.Fatalf("POST log %s = %d %s, want %d", tt.body, r.status, r.body, tt.status)
			}
			if fl.last != tt.want {
				t.Errorf("POST log %s reached the backend with %+v, want %+v", tt.body, fl.last, tt.want)
			}
			if tt.status == 200 && !strings.Contains(r.body, `"log":{"name":"general","type":"USER","status":"Partial","published":"128","pending":"4096"`) {
				t.Errorf("POST log %s = %s, want the log object", tt.body, r.body)
			}
		})
	}
	if r := h.do(http.MethodGet, "/v1.0/"+tenant+"/instances/nope/log", ""); r.status != http.StatusNotFound {
		t.Errorf("GET log of an unknown instance = %d, want 404", r.status)
	}
}

// TestLogRoutesUnsupported: a backend without logs answers Trove's 501.
func TestLogRoutesUnsupported(t *testing.T) {
	h := newHarness(t, Config{})
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r := h.do(m, "/v1.0/"+tenant+"/instances/x/log", `{"name":"general"}`)
		if r.status != http.StatusNotImplemented || !strings.Contains(r.body, "Log actions are not supported.") {
			t.Errorf("%s log without LogBackend = %d %s, want 501", m, r.status, r.body)
		}
	}
}

func TestDecodeLogAction(t *testing.T) {
	tests := []struct {
		body    string
		want    service.LogAction
		wantErr string
	}{
		{`{"name":"general"}`, service.LogAction{Name: "general"}, ""},
		{`{"name":"slow_query","enable":1,"publish":0}`, service.LogAction{Name: "slow_query", Enable: true}, ""},
		{`{"name":"general","disable":true,"discard":1,"publish":1}`, service.LogAction{Name: "general", Disable: true, Discard: true, Publish: true}, ""},
		{`{"name":"general","enable":null,"extra":{}}`, service.LogAction{Name: "general"}, ""},
		{`{"name":"general","enable":1,"disable":1}`, service.LogAction{}, "Cannot enable and disable log."},
		{`{"name":"general","enable":2}`, service.LogAction{}, "'enable' must be 0 or 1"},
		{`{"name":"general","publish":"1"}`, service.LogAction{}, "'publish' must be 0 or 1"},
		{`{"name":""}`, service.LogAction{}, "'name' must contain at least one letter or digit"},
		{`{"name":"a\u001b[31m"}`, service.LogAction{}, "'name' must not contain"},
		{`{"name":1}`, service.LogAction{}, "'name' must be a string"},
		{`{}`, service.LogAction{}, "'name' is a required property"},
		{``, service.LogAction{}, "'name' is a required property"},
		{`[]`, service.LogAction{}, "Malformed request body"},
	}
	for _, tt := range tests {
		got, err := decodeLogAction([]byte(tt.body))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("decodeLogAction(%s) = %v", tt.body, err)
		case tt.wantErr != "" && (!fault.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), tt.wantErr)):
			t.Errorf("decodeLogAction(%s) = %v, want 400 with %q", tt.body, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("decodeLogAction(%s) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func FuzzDecodeLogAction(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"name":"general"}`, `{"name":"general","enable":1}`,
		`{"name":"general","enable":1,"disable":1}`, `{"name":"x","publish":true,"discard":0}`, `{"name":"\u202e"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := decodeLogAction(body)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid || fault.Message(err) == "" {
				t.Fatalf("decodeLogAction(%q) = %v, want a 400 with a public message", body, err)
			}
			return
		}
		if a.Name == "" || (a.Enable && a.Disable) || !strings.ContainsFunc(a.Name, isASCIIAlnum) {
			t.Fatalf("decodeLogAction(%q) accepted %+v", body, a)
		}
	})
}
