package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

var troveTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("response %q: %v", s, err)
	}
	return m
}

func TestCreateInstance(t *testing.T) {
	h := newHarness(t, Config{})
	body := `{"instance":{"name":"json_rack_instance","flavorRef":"https://x/v1.0/1234/flavors/2","volume":{"size":"2","type":null},
		"databases":[{"name":"sampledb","character_set":"utf8","collate":"utf8_general_ci"},{"name":"nextround"}],
		"users":[{"name":"demouser","password":"demopassword","databases":[{"name":"sampledb"}]}],
		"datastore":{"type":"MySQL","version":"10.11"},"nics":[],"availability_zone":"az1","extra":{"a":1}}}`
	r := h.do("POST", "/v1.0/TENANT/instances", body)
	if r.status != http.StatusOK {
		t.Fatalf("create = %d %s, want 200", r.status, r.body)
	}
	got := h.fb.lastCreate
	if got.Name != "json_rack_instance" || got.FlavorRef != "2" || got.VolumeSize != 2 ||
		got.DatastoreType != "MySQL" || got.DatastoreVersion != "10.11" {
		t.Errorf("decoded request = %+v", got)
	}
	if len(got.Users) != 1 || got.Users[0].Host != "%" || string(got.Users[0].Password) != "demopassword" ||
		!cmp.Equal(got.Users[0].Databases, []string{"sampledb"}) {
		t.Errorf("decoded users = %+v", got.Users)
	}
	if len(got.Databases) != 2 || got.Databases[0].CharacterSet != "utf8" || got.Databases[1].Name != "nextround" {
		t.Errorf("decoded databases = %+v", got.Databases)
	}
	inst := mustJSON(t, r.body)["instance"].(map[string]any)
	if inst["status"] != "BUILD" {
		t.Errorf("status = %v", inst["status"])
	}
	for _, k := range []string{"created", "updated"} {
		if s, _ := inst[k].(string); !troveTime.MatchString(s) {
			t.Errorf("%s = %q, want YYYY-MM-DDTHH:MM:SS without Z", k, s)
		}
	}
	if inst["created"] != "2024-05-06T07:08:09" {
		t.Errorf("created = %v, want 2024-05-06T07:08:09", inst["created"])
	}
	fl := inst["flavor"].(map[string]any)
	if _, ok := fl["id"].(string); !ok || fl["id"] != "2" {
		t.Errorf("instance flavor id = %#v, want the string \"2\"", fl["id"])
	}
	if _, ok := inst["volume"].(map[string]any)["used"]; ok {
		t.Error("volume.used present although the backend gave none")
	}
	for _, k := range []string{"ip", "hostname", "addresses", "fault"} {
		if _, ok := inst[k]; ok {
			t.Errorf("%s present for an instance without address or fault", k)
		}
	}
}

func TestShowInstanceShape(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db1", model.StatusError)
	in.Address = "127.0.1.5"
	in.Port = 3306
	in.Fault = &model.Fault{Message: "engine did not start", Details: "stack", Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	h.fb.used[in.ID] = 0.16

	r := h.do("GET", "/v1.0/TENANT/instances/"+in.ID, "", "X-Forwarded-Proto", "https")
	if r.status != 200 {
		t.Fatalf("show = %d %s", r.status, r.body)
	}
	want := `{"instance":{"id":"` + in.ID + `","name":"db1","status":"ERROR",` +
		`"links":[{"href":"https://db.example.com/v1.0/TENANT/instances/` + in.ID + `","rel":"self"},` +
		`{"href":"https://db.example.com/instances/` + in.ID + `","rel":"bookmark"}],` +
		`"flavor":{"id":"1","links":[{"href":"https://db.example.com/v1.0/TENANT/flavors/1","rel":"self"},` +
		`{"href":"https://db.example.com/flavors/1","rel":"bookmark"}]},` +
		`"datastore":{"type":"mysql","version":"10.11"},"volume":{"size":2,"used":0.16},` +
		`"hostname":"127.0.1.5","ip":["127.0.1.5"],"addresses":[{"address":"127.0.1.5","type":"private"}],"port":3306,` +
		`"created":"2024-05-06T07:08:09","updated":"2024-05-06T07:08:09",` +
		`"fault":{"message":"engine did not start","created":"2024-01-02T02:04:05","details":null},` +
		`"access":{"is_public":false,"allowed_cidrs":[]}}}`
	if diff := cmp.Diff(mustJSON(t, want), mustJSON(t, r.body)); diff != "" {
		t.Errorf("show body mismatch (-want +got):\n%s\ngot %s", diff, r.body)
	}

	// Admins see fault details (another tenant's instance is visible to the
	// backend only with its tenant, so use the admin's own).
	ai := h.fb.add("admin-project", "a", model.StatusError)
	ai.Fault = &model.Fault{Message: "m", Details: "trace", Created: ai.Created}
	r = h.do("GET", "/v1.0/admin-project/instances/"+ai.ID, "", "X-Auth-Token", adminToken)
	f := mustJSON(t, r.body)["instance"].(map[string]any)["fault"].(map[string]any)
	if f["details"] != "trace" {
		t.Errorf("admin fault details = %v, want trace", f["details"])
	}
}

func TestListInstanceShapes(t *testing.T) {
	h := newHarness(t, Config{})
	h.fb.add(tenant, "db1", model.StatusActive)
	r := h.do("GET", "/v1.0/TENANT/instances", "")
	item := mustJSON(t, r.body)["instances"].([]any)[0].(map[string]any)
	for _, k := range []string{"created", "updated", "fault"} {
		if _, ok := item[k]; ok {
			t.Errorf("summary view has %q", k)
		}
	}
	r = h.do("GET", "/v1.0/TENANT/instances/detail", "")
	if r.status != 200 {
		t.Fatalf("detail list = %d %s", r.status, r.body)
	}
	item = mustJSON(t, r.body)["instances"].([]any)[0].(map[string]any)
	if s, _ := item["created"].(string); !troveTime.MatchString(s) {
		t.Errorf("detail list created = %q", s)
	}
	// An empty list is [] and has no links.
	h2 := newHarness(t, Config{})
	if r := h2.do("GET", "/v1.0/TENANT/instances", ""); r.body != `{"instances":[]}`+"\n" {
		t.Errorf("empty list = %q", r.body)
	}
}

func TestPagination(t *testing.T) {
	h := newHarness(t, Config{PageSize: 2, MaxPageSize: 3})
	var ids []string
	for range 5 {
		ids = append(ids, h.fb.add(tenant, "db", model.StatusActive).ID)
	}
	h.fb.add("other", "db", model.StatusActive)

	type page struct {
		Instances      []struct{ ID string }
		Links          []link
		InstancesLinks []link `json:"instances_links"`
	}
	get := func(path string) page {
		t.Helper()
		r := h.do("GET", path, "")
		if r.status != 200 {
			t.Fatalf("GET %s = %d %s", path, r.status, r.body)
		}
		var p page
		if err := json.Unmarshal([]byte(r.body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Default page size, with extra query parameters kept in the next link.
	p := get("/v1.0/TENANT/instances?include_clustered=true")
	if len(p.Instances) != 2 || p.Instances[1].ID != ids[1] {
		t.Fatalf("first page = %+v", p.Instances)
	}
	wantNext := "http://db.example.com/v1.0/TENANT/instances?include_clustered=true&limit=2&marker=" + ids[1]
	if len(p.Links) != 1 || p.Links[0].Rel != "next" || p.Links[0].Href != wantNext {
		t.Errorf("links = %+v, want next %s", p.Links, wantNext)
	}
	if !cmp.Equal(p.Links, p.InstancesLinks) {
		t.Errorf("instances_links %+v differ from links %+v", p.InstancesLinks, p.Links)
	}

	// Follow the link.
	u, _ := url.Parse(p.Links[0].Href)
	p = get(u.RequestURI())
	if len(p.Instances) != 2 || p.Instances[0].ID != ids[2] {
		t.Errorf("second page = %+v", p.Instances)
	}
	u, _ = url.Parse(p.Links[0].Href)
	p = get(u.RequestURI())
	if len(p.Instances) != 1 || p.Instances[0].ID != ids[4] || p.Links != nil || p.InstancesLinks != nil {
		t.Errorf("last page = %+v links %+v %+v", p.Instances, p.Links, p.InstancesLinks)
	}

	// A large limit is clamped.
	h.fb.listedPages = nil
	p = get("/v1.0/TENANT/instances?limit=1000")
	if len(p.Instances) != 3 || !strings.Contains(p.Links[0].Href, "limit=3") {
		t.Errorf("clamped page = %d items, links %+v", len(p.Instances), p.Links)
	}
	if want := []store.Page{{Limit: 3}}; !cmp.Equal(h.fb.listedPages, want) {
		t.Errorf("backend pages = %+v, want %+v", h.fb.listedPages, want)
	}

	for _, bad := range []string{"abc", "0", "-1", "1.5", ""} {
		if r := h.do("GET", "/v1.0/TENANT/instances?limit="+bad, ""); r.status != 400 {
			t.Errorf("limit=%q = %d, want 400", bad, r.status)
		}
	}
}

func TestInstanceLifecycle(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.fb.add(tenant, "db1", model.StatusActive).ID
	path := "/v1.0/TENANT/instances/" + id

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", path + "/action", `{"restart":{}}`, 202},
		{"PATCH", path, `{"instance":{"name":"renamed"}}`, 202},
		{"PUT", path, `{"instance":{}}`, 202},
		{"PUT", "/v1.0/TENANT/instances/nope", `{"instance":{}}`, 404},
		{"DELETE", path, "", 202},
		{"GET", path, "", 404},
	} {
		r := h.do(tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Fatalf("%s %s %s = %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
		}
		if tc.status == 202 && r.body != "" {
			t.Errorf("%s %s: 202 body = %q, want empty", tc.method, tc.path, r.body)
		}
	}
	if !cmp.Equal(h.fb.restarted, []string{id}) {
		t.Errorf("restarted = %v", h.fb.restarted)
	}
}

func TestRestartWithoutContentType(t *testing.T) {
	h := newHarness(t, Config{})
	id := active(h)
	r := h.do("POST", "/v1.0/TENANT/instances/"+id+"/action", `{"restart":{}}`, "Content-Type", "")
	if r.status != 202 {
		t.Errorf("restart without Content-Type = %d %s, want 202", r.status, r.body)
	}
	r = h.do("POST", "/v1.0/TENANT/instances/"+id+"/action", `{"restart":{}}`, "Content-Type", "application/json; charset=UTF-8")
	if r.status != 422 { // REBOOT now: gated by the backend
		t.Errorf("second restart = %d %s, want 422", r.status, r.body)
	}
}

func TestAdminCrossesTenants(t *testing.T) {
	h := newHarness(t, Config{})
	id := active(h)
	if r := h.do("GET", "/v1.0/TENANT/instances/"+id, "", "X-Auth-Token", adminToken); r.status != 200 {
		t.Errorf("admin GET of TENANT's instance = %d, want 200", r.status)
	}
}

// TestInstanceAddressViews: an IP address is shown as "hostname", "ip" and
// "addresses"; a DNS name (the Kubernetes driver's Service names) only as
// "hostname".
func TestInstanceAddressViews(t *testing.T) {
	tests := []struct {
		addr string
		want map[string]any // the address keys of the instance; absent ones must be absent
	}{
		{"", map[string]any{}},
		{"127.0.1.5", map[string]any{"hostname": "127.0.1.5", "ip": []any{"127.0.1.5"},
			"addresses": []any{map[string]any{"address": "127.0.1.5", "type": "private"}}}},
		{"fd00::5", map[string]any{"hostname": "fd00::5", "ip": []any{"fd00::5"},
			"addresses": []any{map[string]any{"address": "fd00::5", "type": "private"}}}},
		{"hoard-0a1b.hoard-tenant.svc", map[string]any{"hostname": "hoard-0a1b.hoard-tenant.svc"}},
		{"db.example.com", map[string]any{"hostname": "db.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			h := newHarness(t, Config{})
			in := h.fb.add(tenant, "db1", model.StatusActive)
			in.Address = tt.addr
			show := h.do("GET", "/v1.0/TENANT/instances/"+in.ID, "")
			list := h.do("GET", "/v1.0/TENANT/instances", "")
			if show.status != 200 || list.status != 200 {
				t.Fatalf("show = %d %s, list = %d %s", show.status, show.body, list.status, list.body)
			}
			for what, v := range map[string]map[string]any{
				"show": mustJSON(t, show.body)["instance"].(map[string]any),
				"list": mustJSON(t, list.body)["instances"].([]any)[0].(map[string]any),
			} {
				got := map[string]any{}
				for _, k := range []string{"hostname", "ip", "addresses"} {
					if x, ok := v[k]; ok {
						got[k] = x
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s of an instance at %q (-want +got):\n%s", what, tt.addr, diff)
				}
			}
		})
	}
}

// TestUpdateAccess: PUT and PATCH replace the networks, which the detail
// view shows back; a bad entry is 400 naming it and changes nothing.
func TestUpdateAccess(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db1", model.StatusActive)
	path := "/v1.0/TENANT/instances/" + in.ID
	steps := []struct {
		method, body string
		status       int
		want         string // allowed_cidrs shown after
	}{
		{"PUT", `{"instance":{"access":{"is_public":false,"allowed_cidrs":["127.0.0.2","10.1.0.0/16"]}}}`, 202, `["127.0.0.2/32","10.1.0.0/16"]`},
		{"PUT", `{"instance":{"access":{"allowed_cidrs":["127.0.0.3/32","300.0.0.1"]}}}`, 400, `["127.0.0.2/32","10.1.0.0/16"]`},
		{"PATCH", `{"instance":{"name":"db2","access":{"allowed_cidrs":["::1"]}}}`, 202, `["::1/128"]`},
		{"PUT", `{"instance":{"access":{"allowed_cidrs":[]},"configuration":"c"}}`, 400, `["::1/128"]`},
		{"PUT", `{"instance":{"access":{"allowed_cidrs":[]}}}`, 202, `[]`},
	}
	for _, st := range steps {
		r := h.do(st.method, path, st.body)
		if r.status != st.status {
			t.Fatalf("%s %s = %d %s, want %d", st.method, st.body, r.status, r.body, st.status)
		}
		if st.status == 400 && !strings.Contains(r.body, "badRequest") {
			t.Errorf("%s %s: body %s, want a badRequest fault", st.method, st.body, r.body)
		}
		show := h.do("GET", path, "")
		if want := `"access":{"is_public":false,"allowed_cidrs":` + st.want + `}`; !strings.Contains(show.body, want) {
			t.Errorf("after %s %s: show %s, want %s", st.method, st.body, show.body, want)
		}
	}
	// A refused access change leaves the name given with it undone.
	h.fb.fail["SetInstanceAccess"] = fault.New(fault.Conflict, "fake", "busy")
	if r := h.do("PUT", path, `{"instance":{"name":"db3","access":{"allowed_cidrs":["10.0.0.0/8"]}}}`); r.status != 409 {
		t.Fatalf("refused access change = %d %s, want 409", r.status, r.body)
	}
	if show := h.do("GET", path, ""); !strings.Contains(show.body, `"name":"db2"`) {
		t.Errorf("after a refused access change with a rename: %s, want name db2", show.body)
	}
}
