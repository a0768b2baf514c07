package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
)

// fakeConfig adds ConfigBackend to the fake backend, recording calls.
type fakeConfig struct {
	*fakeBackend
	mu    sync.Mutex
	calls []string
	err   error // returned by every call when set
}

func (f *fakeConfig) record(c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return f.err
}

var fakeParams = []datastore.Parameter{
	{Name: "max_connections", Type: datastore.ParamInteger, Min: "10", Max: "100000"},
	{Name: "ft_min_word_len", Type: datastore.ParamInteger, Min: "1", Max: "84", RestartRequired: true},
}

func fakeGroup(id string) *model.Configuration {
	return &model.Configuration{ID: id, TenantID: "TENANT", Name: "g", Datastore: "mysql", DatastoreVersion: "10.11", DatastoreVersionID: "v-1011", Values: map[string]string{"max_connections": "77"}}
}

func (f *fakeConfig) ResizeFlavor(_ context.Context, _, id, ref string) error {
	return f.record("ResizeFlavor " + id + " " + ref)
}
func (f *fakeConfig) ResizeVolume(_ context.Context, _, id string, size int) error {
	return f.record("ResizeVolume " + id + " " + strings.Repeat("I", size))
}
func (f *fakeConfig) Parameters(_ context.Context, v string) ([]datastore.Parameter, error) {
	return fakeParams, f.record("Parameters " + v)
}
func (f *fakeConfig) Parameter(_ context.Context, v, name string) (*datastore.Parameter, error) {
	if err := f.record("Parameter " + v + " " + name); err != nil {
		return nil, err
	}
	for i := range fakeParams {
		if fakeParams[i].Name == name {
			return &fakeParams[i], nil
		}
	}
	return nil, fault.New(fault.NotFound, "t", "no such parameter")
}
func (f *fakeConfig) CreateConfiguration(_ context.Context, _ string, req service.ConfigurationRequest) (*service.ConfigurationDetail, error) {
	if err := f.record("CreateConfiguration " + *req.Name); err != nil {
		return nil, err
	}
	return &service.ConfigurationDetail{Configuration: fakeGroup("c1"), Values: map[string]any{"max_connections": json.Number("77")}}, nil
}
func (f *fakeConfig) GetConfiguration(_ context.Context, _, id string) (*service.ConfigurationDetail, error) {
	if err := f.record("GetConfiguration " + id); err != nil {
		return nil, err
	}
	return &service.ConfigurationDetail{Configuration: fakeGroup(id), Values: map[string]any{"max_connections": json.Number("77")}, InstanceCount: 1}, nil
}
func (f *fakeConfig) ListConfigurations(_ context.Context, _ string, _ store.Page) ([]*model.Configuration, bool, error) {
	return []*model.Configuration{fakeGroup("c1")}, false, f.record("ListConfigurations")
}
func (f *fakeConfig) UpdateConfiguration(_ context.Context, _, id string, _ service.ConfigurationRequest, replace bool) error {
	if replace {
		return f.record("ReplaceConfiguration " + id)
	}
	return f.record("PatchConfiguration " + id)
}
func (f *fakeConfig) DeleteConfiguration(_ context.Context, _, id string) error {
	return f.record("DeleteConfiguration " + id)
}
func (f *fakeConfig) ConfigurationInstances(_ context.Context, _, id string, _ store.Page) ([]*model.Instance, bool, error) {
	return []*model.Instance{{ID: "i1", Name: "one"}}, false, f.record("ConfigurationInstances " + id)
}
func (f *fakeConfig) AttachConfiguration(_ context.Context, _, id, cfg string) error {
	return f.record("Attach " + id + " " + cfg)
}
func (f *fakeConfig) DetachConfiguration(_ context.Context, _, id string) error {
	return f.record("Detach " + id)
}
func (f *fakeConfig) InstanceConfiguration(_ context.Context, _, id string) (map[string]string, error) {
	return map[string]string{"max_connections": "100"}, f.record("InstanceConfiguration " + id)
}

func newConfigHarness(t *testing.T) (*harness, *fakeConfig) {
	h := newHarness(t, Config{})
	fc := &fakeConfig{fakeBackend: h.fb}
	h.srv = New(Config{Logger: h.srv.log, Now: h.clock.Now}, fc, newFakeAuth())
	return h, fc
}

func TestConfigurationRoutes(t *testing.T) {
	const tp = "/v1.0/TENANT/"
	tests := []struct {
		method, path, body string
		status             int
		call               string // the backend call made, "" none
		inBody             string
	}{
		{"GET", tp + "configurations", "", 200, "ListConfigurations", `"configurations":[{"id":"c1"`},
		{"POST", tp + "configurations", `{"configuration":{"name":"g","values":{"max_connections":77}}}`, 200, "CreateConfiguration g", `"instance_count":0`},
		{"POST", tp + "configurations", `{"configuration":{"name":"g"}}`, 400, "", "'values' is a required property"},
		{"POST", tp + "configurations", `{"configuration":{"values":{}}}`, 400, "", "'name' is a required property"},
		{"POST", tp + "configurations", `{"configuration":{"name":"g","values":{"a":[1]}}}`, 400, "", "must be a string, a number or a boolean"},
		{"GET", tp + "configurations/c9", "", 200, "GetConfiguration c9", `"values":{"max_connections":77}`},
		{"PUT", tp + "configurations/c9", `{"configuration":{"values":{"max_connections":88}}}`, 202, "ReplaceConfiguration c9", ""},
		{"PUT", tp + "configurations/c9", `{"configuration":{"name":"x"}}`, 400, "", "'values' is a required property"},
		{"PATCH", tp + "configurations/c9", `{"configuration":{"name":"n","description":"d"}}`, 200, "PatchConfiguration c9", ""},
		{"DELETE", tp + "configurations/c9", "", 202, "DeleteConfiguration c9", ""},
		{"GET", tp + "configurations/c9/instances", "", 200, "ConfigurationInstances c9", `"instances":[{"id":"i1","name":"one"}]`},
		{"GET", tp + "datastores/mysql/versions/10.11/parameters", "", 200, "Parameters v-1011", `"configuration-parameters":[{"name":"max_connections","type":"integer","min":10,"max":100000,"restart_required":false`},
		{"GET", tp + "datastores/mysql/versions/10.11/parameters/ft_min_word_len", "", 200, "Parameter v-1011 ft_min_word_len", `"restart_required":true`},
		{"GET", tp + "datastores/versions/v-1011/parameters", "", 200, "Parameters v-1011", `"configuration-parameters"`},
		{"GET", tp + "datastores/versions/v-1011/parameters/max_connections", "", 200, "Parameter v-1011 max_connections", `"name":"max_connections"`},
		{"GET", tp + "datastores/versions/nope/parameters", "", 404, "", "nope"},
		{"GET", tp + "datastores/mysql/versions/9.9/parameters", "", 404, "", ""},
		{"GET", tp + "datastores/versions/v-1011/other", "", 404, "", ""},
		{"GET", tp + "instances/i1/configuration", "", 200, "InstanceConfiguration i1", `{"instance":{"configuration":{"max_connections":"100"}}}`},
		{"POST", tp + "instances/i1/action", `{"resize":{"flavorRef":2}}`, 202, "ResizeFlavor i1 2", ""},
		{"POST", tp + "instances/i1/action", `{"resize":{"flavorRef":"https://h/v1.0/T/flavors/3"}}`, 202, "ResizeFlavor i1 3", ""},
		{"POST", tp + "instances/i1/action", `{"resize":{"volume":{"size":"2"}}}`, 202, "ResizeVolume i1 II", ""},
		{"POST", tp + "instances/i1/action", `{"resize":{"volume":{"size":0}}}`, 400, "", "at least 1"},
		{"POST", tp + "instances/i1/action", `{"resize":{}}`, 400, "", "needs 'flavorRef' or 'volume'"},
		{"POST", tp + "instances/i1/action", `{"resize":{"flavorRef":2,"volume":{"size":2}}}`, 400, "", "not both"},
		{"PUT", tp + "instances/i1", `{"instance":{"configuration":"c1"}}`, 202, "Attach i1 c1", ""},
		{"PUT", tp + "instances/i1", `{"instance":{"configuration":null}}`, 202, "Detach i1", ""},
		{"PUT", tp + "instances/i1", `{"instance":{"configuration":""}}`, 202, "Detach i1", ""},
		{"PUT", tp + "instances/i1", `{"instance":{}}`, 202, "Detach i1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			h, fc := newConfigHarness(t)
			resp := h.do(tt.method, tt.path, tt.body, "Content-Type", "application/json")
			if resp.status != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tt.status, resp.body)
			}
			if tt.status == http.StatusAccepted && resp.body != "" {
				t.Errorf("202 with a body: %q", resp.body)
			}
			if !strings.Contains(resp.body, tt.inBody) {
				t.Errorf("body %s does not contain %s", resp.body, tt.inBody)
			}
			if tt.call != "" && !strings.Contains(strings.Join(fc.calls, "|"), tt.call) {
				t.Errorf("calls %q, want %q", fc.calls, tt.call)
			}
			if tt.call == "" && tt.status >= 400 && len(fc.calls) > 0 {
				t.Errorf("refused request still called %q", fc.calls)
			}
		})
	}
}

// TestConfigurationErrors checks that backend faults keep their codes.
func TestConfigurationErrors(t *testing.T) {
	for _, tt := range []struct {
		kind   fault.Kind
		status int
	}{
		{fault.Unprocessable, 422}, {fault.Invalid, 400}, {fault.NotFound, 404}, {fault.OverLimit, 413},
	} {
		h, fc := newConfigHarness(t)
		fc.err = fault.New(tt.kind, "t", "The configuration parameter x is not supported")
		resp := h.do("POST", "/v1.0/TENANT/configurations", `{"configuration":{"name":"g","values":{"x":1}}}`, "Content-Type", "application/json")
		if resp.status != tt.status || !strings.Contains(resp.body, "parameter x") {
			t.Errorf("%v: %d %s, want %d naming the parameter", tt.kind, resp.status, resp.body, tt.status)
		}
	}
}

func FuzzDecodeConfigurationCreate(f *testing.F) {
	f.Add([]byte(`{"configuration":{"name":"g","description":"d","datastore":{"type":"mysql","version":"10.11"},"values":{"a":1,"b":"x","c":true}}}`))
	f.Add([]byte(`{"configuration":{"values":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeConfigurationCreate(b)
		if err == nil && (req.Name == nil || req.Values == nil) {
			t.Fatalf("accepted %q without a name or values", b)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("%q: %v is not Invalid", b, err)
		}
	})
}

func FuzzDecodeConfigurationUpdate(f *testing.F) {
	f.Add([]byte(`{"configuration":{"name":"g","values":{"a":1.5}}}`), true)
	f.Add([]byte(`{"configuration":{}}`), false)
	f.Fuzz(func(t *testing.T, b []byte, replace bool) {
		req, err := decodeConfigurationUpdate(b, replace)
		if err == nil && replace && req.Values == nil {
			t.Fatalf("PUT accepted %q without values", b)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("%q: %v is not Invalid", b, err)
		}
		for _, v := range req.Values {
			switch v.(type) {
			case string, bool, json.Number:
			default:
				t.Fatalf("value of type %T accepted", v)
			}
		}
	})
}

func FuzzDecodeResize(f *testing.F) {
	f.Add([]byte(`{"resize":{"flavorRef":"2"}}`))
	f.Add([]byte(`{"resize":{"volume":{"size":3}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rz, err := decodeResize(b)
		if err != nil {
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("%q: %v is not Invalid", b, err)
			}
			return
		}
		if (rz.FlavorRef == "") == (rz.VolumeSize == 0) || rz.VolumeSize < 0 || strings.Contains(rz.FlavorRef, "/") {
			t.Fatalf("%q decoded to %+v", b, rz)
		}
	})
}

// TestParametersNotImplemented: a catalogue the backend cannot read (no
// engine installed with hoard) is a 501 with the backend's message.
func TestParametersNotImplemented(t *testing.T) {
	for _, path := range []string{
		"/v1.0/TENANT/datastores/versions/v-1011/parameters",
		"/v1.0/TENANT/datastores/versions/v-1011/parameters/max_connections",
		"/v1.0/TENANT/datastores/mysql/versions/10.11/parameters",
		"/v1.0/TENANT/datastores/mysql/versions/10.11/parameters/max_connections",
	} {
		h, fc := newConfigHarness(t)
		fc.err = fault.New(fault.NotImplemented, "t", "Configuration parameters of mysql 10.11 are not available.")
		r := h.do("GET", path, "")
		if r.status != http.StatusNotImplemented || !strings.Contains(r.body, `"notImplemented"`) ||
			!strings.Contains(r.body, "mysql 10.11 are not available") {
			t.Errorf("GET %s = %d %s, want 501 notImplemented with the message", path, r.status, r.body)
		}
	}
}
