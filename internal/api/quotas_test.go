package api

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// quotaFake is fakeBackend with QuotaBackend: limits per project in
// memory, defaults for the rest, the service's refusals.
type quotaFake struct {
	*fakeBackend
	qmu    sync.Mutex
	limits map[string]model.QuotaLimits
	usage  model.QuotaUsage
}

var _ QuotaBackend = (*quotaFake)(nil)

var fakeDefaults = model.QuotaLimits{model.QuotaInstances: 10, model.QuotaVolumes: 40, model.QuotaBackups: 50, model.QuotaReplicas: -1}

func (f *quotaFake) Limits(_ context.Context, project string) (model.QuotaLimits, model.QuotaUsage, error) {
	f.qmu.Lock()
	defer f.qmu.Unlock()
	out := model.QuotaLimits{}
	for _, r := range model.QuotaResources {
		out[r] = f.limits[project].Limit(r, fakeDefaults)
	}
	return out, maps.Clone(f.usage), nil
}

func (f *quotaFake) ShowQuotas(ctx context.Context, project string) ([]service.QuotaRow, error) {
	if project == "nobody" {
		return nil, fault.Errorf(fault.NotFound, "fake", "Project %s cannot be found.", project)
	}
	limits, usage, _ := f.Limits(ctx, project)
	var rows []service.QuotaRow
	for _, r := range model.QuotaResources {
		rows = append(rows, service.QuotaRow{Resource: r, InUse: usage[r], Limit: limits[r]})
	}
	return rows, nil
}

func (f *quotaFake) UpdateQuotas(_ context.Context, project string, limits model.QuotaLimits) (model.QuotaLimits, error) {
	for r := range limits {
		if !r.Known() {
			return nil, fault.Errorf(fault.NotFound, "fake", "Quota resource %s cannot be found.", r)
		}
	}
	f.qmu.Lock()
	defer f.qmu.Unlock()
	if f.limits[project] == nil {
		f.limits[project] = model.QuotaLimits{}
	}
	maps.Copy(f.limits[project], limits)
	return maps.Clone(limits), nil
}

func newQuotaHarness(t *testing.T, cfg Config) (*harness, *quotaFake) {
	h := newHarness(t, cfg)
	qf := &quotaFake{fakeBackend: h.fb, limits: map[string]model.QuotaLimits{},
		usage: model.QuotaUsage{model.QuotaInstances: 2, model.QuotaVolumes: 3, model.QuotaBackups: 0, model.QuotaReplicas: 1}}
	cfg.Now = h.clock.Now
	h.srv = New(cfg, qf, newFakeAuth())
	return h, qf
}

// TestLimits: GET /limits gives the absolute limits with the usage first,
// then the one rate limit in force, in Trove's shape; the request itself
// took a token.
func TestLimits(t *testing.T) {
	h, _ := newQuotaHarness(t, Config{RateLimit: 60})
	h.do("GET", "/v1.0/TENANT/flavors", "")
	r := h.do("GET", "/v1.0/TENANT/limits", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /limits = %d %s", r.status, r.body)
	}
	var got struct {
		Limits []map[string]any `json:"limits"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"verb": "ABSOLUTE", "max_instances": 10.0, "max_volumes": 40.0, "max_backups": 50.0, "max_replicas": -1.0,
			"total_instances_used": 2.0, "total_volumes_used": 3.0, "total_backups_used": 0.0, "total_replicas_used": 1.0},
		{"verb": "*", "uri": "*", "regex": ".*", "value": 60.0, "remaining": 58.0, "unit": "MINUTE", "nextAvailable": "2024-05-06T07:08:09Z"},
	}
	if d := cmp.Diff(want, got.Limits); d != "" {
		t.Errorf("limits (-want +got):\n%s", d)
	}

	// Out of tokens: the next one's time.
	for range 58 {
		h.do("GET", "/v1.0/TENANT/flavors", "")
	}
	h.clock.Advance(1500 * time.Millisecond) // 1.5 tokens back, one taken by the request: the next at 09.123+2s
	r = h.do("GET", "/v1.0/TENANT/limits", "")
	if !strings.Contains(r.body, `"remaining":0,`) || !strings.Contains(r.body, `"nextAvailable":"2024-05-06T07:08:12Z"`) {
		t.Errorf("limits with no token left = %s, want remaining 0, next at 07:08:12Z", r.body)
	}

	// Without rate limiting, only the absolute limits.
	h, _ = newQuotaHarness(t, Config{})
	r = h.do("GET", "/v1.0/TENANT/limits", "")
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got.Limits) != 1 || got.Limits[0]["verb"] != "ABSOLUTE" {
		t.Errorf("limits without rate limiting = %s, want the absolute limits only", r.body)
	}
}

// TestQuotaRoutes: who may see and change quotas, and the answers.
func TestQuotaRoutes(t *testing.T) {
	h, qf := newQuotaHarness(t, Config{})
	tests := []struct {
		name, tok, method, path, body string
		status                        int
		want                          string // in the body
	}{
		{"own quota", token, "GET", "/v1.0/TENANT/mgmt/quotas/TENANT", "", 200,
			`{"quotas":[{"resource":"instances","in_use":2,"limit":10,"reserved":0},{"resource":"volumes","in_use":3,"limit":40,"reserved":0},` +
				`{"resource":"backups","in_use":0,"limit":50,"reserved":0},{"resource":"replicas","in_use":1,"limit":-1,"reserved":0}]}`},
		{"another project's", token, "GET", "/v1.0/TENANT/mgmt/quotas/other", "", 403, `"forbidden"`},
		{"admin, any project", adminToken, "GET", "/v1.0/admin-project/mgmt/quotas/TENANT", "", 200, `"resource":"instances"`},
		{"admin, unknown project", adminToken, "GET", "/v1.0/admin-project/mgmt/quotas/nobody", "", 404, `Project nobody cannot be found.`},
		{"update, not admin", token, "PUT", "/v1.0/TENANT/mgmt/quotas/TENANT", `{"quotas":{"instances":99}}`, 403, `Only an admin may change quotas.`},
		{"update", adminToken, "PUT", "/v1.0/admin-project/mgmt/quotas/TENANT", `{"quotas":{"instances":3,"backups":"-1"}}`, 200,
			`{"quotas":{"backups":-1,"instances":3}}`},
		{"update, unknown resource", adminToken, "PUT", "/v1.0/admin-project/mgmt/quotas/TENANT", `{"quotas":{"ram":1}}`, 404, `Quota resource ram cannot be found.`},
		{"update, bad limit", adminToken, "PUT", "/v1.0/admin-project/mgmt/quotas/TENANT", `{"quotas":{"instances":-2}}`, 400,
			`quotas 'instances' must be an integer from -1 (no limit)`},
		{"update, no body", adminToken, "PUT", "/v1.0/admin-project/mgmt/quotas/TENANT", ``, 400, `'quotas' is a required property`},
		{"method", adminToken, "POST", "/v1.0/admin-project/mgmt/quotas/TENANT", `{}`, 405, `"badMethod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, tt.body, "X-Auth-Token", tt.tok)
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Errorf("%s %s = %d %s, want %d with %s", tt.method, tt.path, r.status, r.body, tt.status, tt.want)
			}
		})
	}
	if got := qf.limits[tenant]; !cmp.Equal(got, model.QuotaLimits{model.QuotaInstances: 3, model.QuotaBackups: -1}) {
		t.Errorf("recorded limits = %v", got)
	}
	r := h.do("GET", "/v1.0/TENANT/limits", "")
	if !strings.Contains(r.body, `"max_instances":3,`) || !strings.Contains(r.body, `"max_backups":-1,`) {
		t.Errorf("limits after the update = %s", r.body)
	}

	// Without the capability: 501; /limits still answers.
	h = newHarness(t, Config{})
	if r := h.do("GET", "/v1.0/TENANT/mgmt/quotas/TENANT", ""); r.status != 501 {
		t.Errorf("mgmt/quotas without quotas = %d %s, want 501", r.status, r.body)
	}
	if r := h.do("GET", "/v1.0/TENANT/limits", ""); r.status != 200 || !strings.Contains(r.body, `{"limits":[{"verb":"ABSOLUTE"}]}`) {
		t.Errorf("limits without quotas = %d %s", r.status, r.body)
	}
}

func TestDecodeQuotaUpdate(t *testing.T) {
	tests := []struct {
		name, in string
		want     model.QuotaLimits
		msg      string // the 400's, if not ""
	}{
		{"one", `{"quotas":{"instances":10}}`, model.QuotaLimits{"instances": 10}, ""},
		{"several, strings, unlimited", `{"quotas":{"volumes":"100","backups":-1,"replicas":0}}`, model.QuotaLimits{"volumes": 100, "backups": -1, "replicas": 0}, ""},
		{"unknown resource kept (the service's 404)", `{"quotas":{"ram":5}}`, model.QuotaLimits{"ram": 5}, ""},
		{"largest", `{"quotas":{"instances":1073741824}}`, model.QuotaLimits{"instances": 1 << 30}, ""},
		{"too large", `{"quotas":{"instances":1073741825}}`, nil, "quotas 'instances' must be an integer from -1 (no limit) to 1073741824"},
		{"below -1", `{"quotas":{"instances":-2}}`, nil, "must be an integer from -1"},
		{"float", `{"quotas":{"instances":1.5}}`, nil, "must be an integer"},
		{"exponent", `{"quotas":{"instances":1e3}}`, nil, "must be an integer"},
		{"bool", `{"quotas":{"instances":true}}`, nil, "must be an integer"},
		{"null", `{"quotas":{"instances":null}}`, nil, "must be an integer"},
		{"string not a number", `{"quotas":{"instances":"ten"}}`, nil, "must be an integer"},
		{"lone minus", `{"quotas":{"instances":"-"}}`, nil, "must be an integer"},
		{"all problems at once", `{"quotas":{"backups":"x","instances":-5}}`, nil, "quotas 'backups' must be"},
		{"empty", `{"quotas":{}}`, nil, "'quotas' must name at least one resource"},
		{"not object", `{"quotas":[1]}`, nil, "quotas must be an object"},
		{"missing", `{"quota":{"instances":1}}`, nil, "'quotas' is a required property"},
		{"empty body", ``, nil, "'quotas' is a required property"},
		{"null body", `null`, nil, "Malformed request body"},
		{"empty name", `{"quotas":{"":1}}`, nil, "a resource name must be 1 to 64 characters"},
		{"control in name", `{"quotas":{"a\u001b[2J":1}}`, nil, "must not contain control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeQuotaUpdate([]byte(tt.in))
			if tt.msg == "" {
				if err != nil || !cmp.Equal(got, tt.want) {
					t.Errorf("decodeQuotaUpdate(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
				}
				return
			}
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(fault.Message(err), tt.msg) {
				t.Errorf("decodeQuotaUpdate(%s) = %v (%v), want 400 containing %q", tt.in, err, fault.KindOf(err), tt.msg)
			}
		})
	}
}

func FuzzDecodeQuotaUpdate(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{"quotas":{}}`, `{"quotas":{"instances":10,"volumes":"-1"}}`, `{"quotas":{"ram":1e2}}`,
		`{"quotas":{"\u202e":1}}`, `{"quotas":{"backups":-2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeQuotaUpdate(body)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid || fault.Message(err) == "" {
				t.Fatalf("decodeQuotaUpdate(%q) error of kind %v: %v", body, k, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("decodeQuotaUpdate(%q) accepted no resource", body)
		}
		for r, v := range got {
			if r == "" || len(r) > 64 || v < model.Unlimited || v > maxQuotaLimit {
				t.Fatalf("decodeQuotaUpdate(%q) accepted %q: %d", body, r, v)
			}
		}
	})
}
