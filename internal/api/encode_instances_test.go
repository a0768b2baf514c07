package api

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// stdJSON is what writeJSON writes for v.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// fullInstanceView sets every field of an instanceView.
func fullInstanceView(s string, used float64) instanceView {
	d := s + "-details"
	return instanceView{
		ID: s, Name: s, Status: model.InstanceStatus(s),
		Links:     []link{{Href: s, Rel: "self"}, {Href: s + "/b", Rel: "bookmark"}},
		Flavor:    instanceFlavorView{ID: s, Links: []link{{Href: s, Rel: s}}},
		Datastore: instanceDatastoreView{Type: s, Version: s},
		Volume:    volumeView{Size: -7, Used: &used},
		Hostname:  s, IP: []string{s, s + "2"},
		Addresses: []addressView{{Address: s, Type: "private"}, {Address: s, Type: s}},
		Port:      3306,
		Created:   s, Updated: s,
		Fault:         &instanceFaultView{Message: s, Created: s, Details: &d},
		Configuration: &configurationRefView{ID: s, Name: s, Links: []link{{Href: s, Rel: "self"}}},
		ReplicaOf:     &replicaRefView{ID: s, Links: []link{{Href: s, Rel: "self"}}},
		Replicas:      []replicaRefView{{ID: s, Name: s, Links: []link{{Href: s, Rel: "self"}}}, {ID: s}},
		Replication:   &replicationView{State: s, LagSeconds: &used, Error: s},
		HAID:          s,
		Access:        &accessView{IsPublic: true, AllowedCIDRs: []string{s, "10.0.0.0/8"}},
	}
}

func TestAppendInstanceList(t *testing.T) {
	const odd = "a<b>&c \"q\" \\ \b\f\n\r\t\x00\x1f\x7f é \u2028 \u2029 \xff\xfe 🙂 end"
	req := httptest.NewRequest("GET", "http://db.example.com/v1.0/T%20x/instances?limit=2&marker=a&b=<>", nil)
	lk := newLinker(req, "T x")
	fromModel := []*model.Instance{
		{ID: "i-1", Name: "db", Status: model.StatusActive, FlavorID: 2, VolumeSize: 5, Datastore: "mysql",
			DatastoreVersion: "10.11", Address: "127.0.1.2", Port: 3306},
		{ID: "i/2 ?", Name: odd, Status: model.StatusBuild, Address: "db-1.ns.svc"},
		{ID: "i-3", Name: "x", Status: model.StatusError, FlavorID: 2, Address: "::1",
			Fault: &model.Fault{Message: odd, Details: "d"}, AllowedCIDRs: []string{"127.0.0.2/32", "2001:db8::/32"}},
	}
	var summaries, details []instanceView
	for _, in := range fromModel {
		summaries = append(summaries, lk.instanceView(in))
		details = append(details, lk.instanceDetailView(in, nil, true), lk.instanceDetailView(in, nil, false))
	}
	next := nextLinks(req, "i-3", 2)
	tests := []struct {
		name string
		list instanceList
	}{
		{"empty", instanceList{Instances: []instanceView{}}},
		{"nil instances", instanceList{}},
		{"summaries", instanceList{Instances: summaries}},
		{"summaries with next", instanceList{Instances: summaries, Links: next, InstancesLinks: next}},
		{"details", instanceList{Instances: details, Links: next}},
		{"only instances_links", instanceList{Instances: details, InstancesLinks: next}},
		{"every field", instanceList{Instances: []instanceView{fullInstanceView(odd, 0.01), fullInstanceView("", 1e21),
			fullInstanceView("x", 123456.5), fullInstanceView("y", 1e-7)}}},
		{"zero view", instanceList{Instances: []instanceView{{}}}},
		{"replication unknown lag", instanceList{Instances: []instanceView{{Replication: &replicationView{State: "connecting"}}}}},
		{"access without list", instanceList{Instances: []instanceView{{Access: &accessView{}}}}},
		{"empty slices", instanceList{Instances: []instanceView{{Links: []link{}, IP: []string{}, Addresses: []addressView{},
			Flavor: instanceFlavorView{Links: []link{}}, Fault: &instanceFaultView{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendInstanceList(nil, &tt.list)) + "\n"
			if want := stdJSON(t, tt.list); got != want {
				t.Errorf("appendInstanceList =\n%s\nwant (encoding/json)\n%s", got, want)
			}
		})
	}
}

// TestInstanceViewFields fails when a field is added to the views that
// appendInstanceView writes: add it there (and to fullInstanceView), then
// here.
func TestInstanceViewFields(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{instanceList{}, "instances links,omitempty instances_links,omitempty"},
		{instanceView{}, "id name status links flavor datastore volume hostname,omitempty ip,omitempty addresses,omitempty port,omitempty " +
			"created,omitempty updated,omitempty fault,omitempty configuration,omitempty replica_of,omitempty replicas,omitempty replication,omitempty ha_id,omitempty access,omitempty"},
		{accessView{}, "is_public allowed_cidrs"},
		{replicaRefView{}, "id name,omitempty links"},
		{replicationView{}, "state lag_seconds error,omitempty"},
		{instanceFlavorView{}, "id links"},
		{instanceDatastoreView{}, "type version"},
		{volumeView{}, "size used,omitempty"},
		{addressView{}, "address type"},
		{instanceFaultView{}, "message created details"},
		{configurationRefView{}, "id name links"},
		{link{}, "href rel"},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.v)
		var tags []string
		for f := range typ.Fields() {
			tags = append(tags, f.Tag.Get("json"))
		}
		if got := strings.Join(tags, " "); got != tt.want {
			t.Errorf("json tags of %s = %q, want %q", typ, got, tt.want)
		}
	}
}

func TestAppendJSONFloatRefused(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if got := string(appendJSONFloat(nil, f)); got != "null" {
			t.Errorf("appendJSONFloat(%v) = %s, want null", f, got)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a<b>&c", "\"\\/", "\x00\x01\b\f\n\r\t\x1f\x7f", "é🙂", "\u2028\u2029",
		"\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(appendJSONString(nil, s)) + "\n"
		if want := stdJSON(t, s); got != want {
			t.Errorf("appendJSONString(%q) = %s, want (encoding/json) %s", s, got, want)
		}
	})
}

func FuzzAppendInstanceView(f *testing.F) {
	f.Add("i-1", "db", "ACTIVE", 1, 5, "127.0.0.1", "msg", true, 0.5)
	f.Add("", "", "", 0, 0, "", "", false, 0.0)
	f.Add("a/b?c", "\u2028<\xff>", "x", -1, 1<<40, "db.svc", "\x00", true, 1e21)
	f.Fuzz(func(t *testing.T, id, name, status string, flavor, size int, addr, fault string, admin bool, used float64) {
		req := httptest.NewRequest("GET", "http://db.example.com/v1.0/t/instances", nil)
		in := &model.Instance{ID: id, Name: name, Status: model.InstanceStatus(status), FlavorID: flavor,
			VolumeSize: size, Datastore: name, DatastoreVersion: status, Address: addr}
		if fault != "" {
			in.Fault = &model.Fault{Message: fault, Details: fault}
		}
		lk := newLinker(req, id)
		views := []instanceView{lk.instanceView(in), lk.instanceDetailView(in, nil, admin)}
		if !math.IsNaN(used) && !math.IsInf(used, 0) {
			views = append(views, lk.instanceDetailView(in, &used, admin))
		}
		l := instanceList{Instances: views}
		got := string(appendInstanceList(nil, &l)) + "\n"
		if want := stdJSON(t, l); got != want {
			t.Errorf("appendInstanceList =\n%s\nwant (encoding/json)\n%s", got, want)
		}
	})
}

// fullRows is a fakeBackend whose summaries are whole instances: the
// answers the summary list gave before it read summaries.
type fullRows struct{ *fakeBackend }

func (b fullRows) ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error) {
	return b.ListInstances(ctx, tenantID, page)
}

// TestListInstanceSummaries checks that lists served from summaries are the
// same bytes as lists served from whole instances, and that the detail list
// does not use summaries.
func TestListInstanceSummaries(t *testing.T) {
	plain := newHarness(t, Config{PageSize: 2})
	for i, status := range []model.InstanceStatus{model.StatusActive, model.StatusError, model.StatusBuild} {
		in := plain.fb.add(tenant, "db <&>", status)
		in.Address = []string{"127.0.0.9", "", "db.ns.svc"}[i]
		in.Fault = &model.Fault{Message: "boom", Details: "trace"}
		in.ConfigurationID = "cfg-1"
		in.AdminSecret = []byte("sealed")
	}
	// plain serves the same instances as whole rows, summ as summaries.
	summ := newHarness(t, Config{PageSize: 2})
	summ.fb = plain.fb
	summ.srv = New(Config{PageSize: 2}, plain.fb, newFakeAuth())
	plain.srv = New(Config{PageSize: 2}, fullRows{plain.fb}, newFakeAuth())

	for _, path := range []string{"/v1.0/TENANT/instances", "/v1.0/TENANT/instances?limit=100",
		"/v1.0/TENANT/instances?limit=1&marker=zzz", "/v1.0/TENANT/instances/detail"} {
		want := plain.do("GET", path, "")
		before := plain.fb.summaryCalls
		got := summ.do("GET", path, "")
		if got.status != 200 || got.status != want.status || got.body != want.body {
			t.Errorf("GET %s from summaries = %d %s\nwant %d %s", path, got.status, got.body, want.status, want.body)
		}
		if used, wantUsed := plain.fb.summaryCalls > before, !strings.HasSuffix(path, "/detail"); used != wantUsed {
			t.Errorf("GET %s used summaries: %v, want %v", path, used, wantUsed)
		}
	}
}

// summaryListBoth returns what the summary encoder writes for items and
// what writeInstanceList writes for their views; enc is nil when the
// encoder refuses the request's links.
func summaryListBoth(t testing.TB, lk *linker, items []*model.Instance, next []link) (got, want string, ok bool) {
	t.Helper()
	enc := newSummaryEncoder(lk)
	out := instanceList{Instances: make([]instanceView, 0, len(items)), Links: next, InstancesLinks: next}
	for _, in := range items {
		out.Instances = append(out.Instances, lk.instanceView(in))
	}
	rec := httptest.NewRecorder()
	writeInstanceList(rec, &out)
	if enc == nil {
		return "", rec.Body.String(), false
	}
	rec2 := httptest.NewRecorder()
	enc.writeSummaryList(rec2, items, next)
	if h1, h2 := rec.Header().Get("Content-Type"), rec2.Header().Get("Content-Type"); h1 != h2 || rec.Code != rec2.Code {
		t.Errorf("summary encoder: %d %s, want %d %s", rec2.Code, h2, rec.Code, h1)
	}
	return rec2.Body.String(), rec.Body.String(), true
}

// TestSummaryEncoder checks that the summary encoder writes the bytes of
// the views it stands for.
func TestSummaryEncoder(t *testing.T) {
	const odd = "a<b>&c \"q\" \\ \b\f\n\r\t\x00\x1f\x7f é \u2028 \u2029 \xff\xfe 🙂 end"
	items := []*model.Instance{
		{ID: "i-1", Name: "db", Status: model.StatusActive, FlavorID: 2, VolumeSize: 5, Datastore: "mysql",
			DatastoreVersion: "10.11", Address: "127.0.1.2", Port: 3306},
		{ID: "i-2", Name: "db2", Status: model.StatusActive, FlavorID: 2, VolumeSize: 5, Datastore: "mysql",
			DatastoreVersion: "10.11", Address: "127.0.1.3"},
		{ID: "i/2 ?\"\\<" + odd, Name: odd, Status: model.InstanceStatus(odd), FlavorID: -3, Datastore: odd,
			DatastoreVersion: odd, Address: "db-1.ns.svc"},
		{ID: "i-3", Name: "x", Status: model.StatusError, FlavorID: 1, Address: "::1",
			Fault: &model.Fault{Message: odd, Details: "d"}},
		{ID: "i-4", FlavorID: 2},
	}
	for _, tc := range []struct {
		name, url, tenant, publicURL, proto string
		items                               []*model.Instance
		next                                bool
	}{
		{name: "plain", url: "http://db.example.com/v1.0/t/instances", tenant: "t", items: items},
		{name: "with next", url: "http://db.example.com/v1.0/t/instances?limit=2&marker=a&b=<>", tenant: "t", items: items, next: true},
		{name: "odd tenant", url: "http://db.example.com/v1.0/T%20x/instances", tenant: "T x\"é\\", items: items},
		{name: "forwarded https", url: "http://h:8779/v1.0/t/instances", tenant: "t", proto: "https", items: items},
		{name: "public URL", url: "http://h/v1.0/t/instances", tenant: "t", publicURL: "https://db.example.com/<\"é\u2028>", items: items},
		{name: "public URL not UTF-8", url: "http://h/v1.0/t/instances", tenant: "t", publicURL: "https://x/\xff", items: items},
		{name: "empty", url: "http://h/v1.0/t/instances", tenant: "t", items: []*model.Instance{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.url, nil)
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.publicURL != "" {
				req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, &reqInfo{base: tc.publicURL}))
			}
			var next []link
			if tc.next {
				next = nextLinks(req, "i-4", 2)
			}
			got, want, ok := summaryListBoth(t, newLinker(req, tc.tenant), tc.items, next)
			if !ok {
				if utf8.ValidString(tc.publicURL) {
					t.Fatal("the summary encoder refused a valid link prefix")
				}
				return
			}
			if got != want {
				t.Errorf("summary encoder wrote\n%s\nwant (the views)\n%s", got, want)
			}
		})
	}
}

func FuzzSummaryEncoder(f *testing.F) {
	f.Add("i-1", "db", "ACTIVE", 1, 5, "127.0.0.1", "t", "")
	f.Add("", "", "", 0, 0, "", "", "")
	f.Add("a/b?c\"", "\u2028<\xff>", "x", -1, 1<<40, "db.svc", "T x", "https://x/\"é")
	f.Fuzz(func(t *testing.T, id, name, status string, flavor, size int, addr, tenant, publicURL string) {
		req := httptest.NewRequest("GET", "http://db.example.com/v1.0/t/instances", nil)
		if publicURL != "" {
			req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, &reqInfo{base: publicURL}))
		}
		in := &model.Instance{ID: id, Name: name, Status: model.InstanceStatus(status), FlavorID: flavor,
			VolumeSize: size, Datastore: name, DatastoreVersion: status, Address: addr}
		other := *in
		other.FlavorID++
		got, want, ok := summaryListBoth(t, newLinker(req, tenant), []*model.Instance{in, &other, in}, nil)
		if ok && got != want {
			t.Errorf("summary encoder wrote\n%s\nwant (the views)\n%s", got, want)
		}
	})
}
